import { resolve } from "node:path";
import { Command, Option } from "commander";
import { DEFAULT_MODEL } from "../config.js";
import { CHUNKINGS, pg19Task, type Chunking, type Pg19Options } from "../tasks/pg19/run.js";
import { parseLength } from "../util/lengths.js";
import { parseChoice, parseCount } from "./parse.js";
import { budgetOption, budgetValues, policyOptions, policyValues } from "./policy-flags.js";
import { taskCommand } from "./task-command.js";

export function pg19Command(): Command {
  const command = new Command("pg19")
    .description("PG19 streaming perplexity: each book tokenized whole and streamed through each cache policy (docs/protocols.md §3)")
    .option("--data <path>", "books: JSONL (.xz/.zst) or parquet in the PG19 schema, or a folder of .txt files (default: the hub's emozilla/pg19-test, once fetched)")
    .option("--datasets-dir <dir>", "dataset cache (default: $CASCADE_EVAL_DATASETS or datasets/)");
  policyOptions(command, {
    policies: "full,sink-window,cascading",
    policiesHelp: "run side by side on the same books",
    values: { sinks: 64, cascades: 4 },
    help: { window: "tokens kept after the sinks (default: 32768, halved until it fits the model's context)" },
  })
    .option("--stride <n>", "tokens per chunk; the policy runs after each", parseCount("--stride", 1), 1024)
    .option("--max-tokens <n>", "cap each book at its first N tokens (e.g. 64K)", (text: string) => parseLength(text))
    .addOption(new Option("--chunking <mode>", "stream: one persistent cache per book; llama-perplexity: fresh n_ctx chunks scored on their second half, as llama.cpp's tool").default("stream").argParser(parseChoice("--chunking", CHUNKINGS)))
    .option("--ctx <n>", "n_ctx of --chunking llama-perplexity", (text: string) => parseLength(text), 4096)
    .option("--curve-bin <n>", "tokens per point of the perplexity-by-position curve", parseCount("--curve-bin", 1), 1024);
  budgetOption(command, "each book");
  return taskCommand(pg19Task, command, (flags): Pg19Options => {
    const policy = policyValues(flags);
    const budgets = budgetValues(flags);
    return {
      ...policy,
      source: flags.data !== undefined ? resolve(String(flags.data)) : "pg19-test",
      policies: policy.policies,
      sinks: policy.sinks!,
      window: policy.window,
      stride: flags.stride as number,
      cascades: policy.cascades!,
      maxTokens: flags.maxTokens as number | undefined,
      chunking: flags.chunking as Chunking,
      ctx: flags.ctx as number,
      curveBin: flags.curveBin as number,
      ...(budgets === undefined ? {} : { budgets }),
      model: flags.model ?? DEFAULT_MODEL,
    };
  });
}
