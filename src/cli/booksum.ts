import { resolve } from "node:path";
import { Command, Option } from "commander";
import { DEFAULT_MODEL } from "../config.js";
import { booksumTask, loadBooksumConfig, type BooksumOptions } from "../tasks/booksum/run.js";
import { parseChoice, parseCount } from "./parse.js";
import { budgetedCacheValues, budgetedPolicyOptions } from "./policy-flags.js";
import { taskCommand } from "./task-command.js";

export function booksumCommand(): Command {
  const config = loadBooksumConfig();
  const command = new Command("booksum")
    .description("BookSum summarization: the paper's chat prompt, greedy generation under each cache policy, ROUGE-1/2/L (docs/protocols.md §5)")
    .option("--data <path>", `rows with "${config.bookField}" (the book) and "${config.summaryField}" (the reference): JSONL (.xz/.zst) (default: the hub's booksum, once fetched)`)
    .option("--datasets-dir <dir>", "dataset cache (default: $CASCADE_EVAL_DATASETS or datasets/)")
    .addOption(new Option("--split <which>", `held-out: a seeded ${100 * config.split.heldOutFraction}% of the rows; all: every row`).default("held-out").argParser(parseChoice("--split", ["held-out", "all"] as const)))
    .option("--split-seed <n>", "seed of the held-out split", parseCount("--split-seed", 0), config.split.seed)
    .option("--samples <n>", "only the first N rows of the split", parseCount("--samples", 1));
  budgetedPolicyOptions(command, config.defaults, "2^floor(log2(n/2))", "run side by side on the same books", "each book's prompt");
  return taskCommand(booksumTask, command, (flags): BooksumOptions => ({
    source: flags.data !== undefined ? resolve(String(flags.data)) : "booksum",
    split: flags.split as BooksumOptions["split"],
    splitSeed: flags.splitSeed as number,
    samples: flags.samples as number | undefined,
    ...budgetedCacheValues(flags),
    model: flags.model ?? DEFAULT_MODEL,
  }));
}
