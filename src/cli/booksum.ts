import { resolve } from "node:path";
import { Command, Option } from "commander";
import { DEFAULT_MODEL } from "../config.js";
import { readSource } from "../datasets/hub.js";
import { loadBooksumConfig, runBooksum, type BooksumOptions } from "../tasks/booksum/run.js";
import { budgetedCacheOptions, budgetedCacheSettings, commonOptions, interruptController, resumeRun, runSettings, type CommonFlags } from "./common.js";
import { parseChoice, parseCount } from "./parse.js";

/** The task's options as flags: the source as --data, the policies as one --policy list, the model common. */
type BooksumFlags = CommonFlags & Omit<BooksumOptions, "source" | "policies" | "model"> & { data?: string; datasetsDir?: string; policy: string; resume?: string };

/** Flags that `--resume` takes from the run's own `run.json` and therefore refuses on the command line. */
const TASK_FLAGS = ["data", "split", "splitSeed", "samples", "policy", "sinks", "window", "stride", "cascades", "model"];

export function booksumCommand(): Command {
  const config = loadBooksumConfig();
  const command = new Command("booksum")
    .description("BookSum summarization: the paper's chat prompt, greedy generation under each cache policy, ROUGE-1/2/L (PROTOCOLS §5)")
    .option("--data <path>", `rows with "${config.bookField}" (the book) and "${config.summaryField}" (the reference): JSONL (.xz/.zst) (default: the hub's booksum, once fetched)`)
    .option("--datasets-dir <dir>", "dataset cache (default: $CASCADE_EVAL_DATASETS or datasets/)")
    .addOption(new Option("--split <which>", `held-out: a seeded ${100 * config.split.heldOutFraction}% of the rows; all: every row`).default("held-out").argParser(parseChoice("--split", ["held-out", "all"] as const)))
    .option("--split-seed <n>", "seed of the held-out split", parseCount("--split-seed", 0), config.split.seed)
    .option("--samples <n>", "only the first N rows of the split", parseCount("--samples", 1))
    .option("--policy <list>", "cache policies, run side by side on the same books", "full,sink-window,cascading")
    .option("--resume <run>", "continue an interrupted run (folder or run id) without redoing finished books");
  commonOptions(budgetedCacheOptions(command, config.defaults, "2^floor(log2(n/2))")).action(async (flags: BooksumFlags) => {
    const resumed = typeof flags.resume === "string" ? resumeRun<BooksumOptions>(command, flags.resume, flags.results, TASK_FLAGS) : undefined;
    const options: BooksumOptions = resumed?.options ?? {
      source: flags.data !== undefined ? resolve(flags.data) : "booksum",
      split: flags.split,
      splitSeed: flags.splitSeed,
      samples: flags.samples,
      ...budgetedCacheSettings(flags),
      model: flags.model ?? DEFAULT_MODEL,
    };
    const documents = await readSource(options.source, { datasetsDir: flags.datasetsDir, textField: config.bookField });
    const controller = interruptController();
    await runBooksum(documents, options, runSettings(flags, controller.signal), resumed?.folder);
    if (controller.signal.aborted) process.exitCode = 130;
  });
  return command;
}
