import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command, Option } from "commander";
import { DEFAULT_MODEL } from "../config.js";
import { UsageError } from "../errors.js";
import { render } from "../printers/index.js";
import { OUTPUT_FORMATS, type OutputFormat, type Table } from "../printers/table.js";
import { loadLongBenchConfig, loadLongBenchDatasets, parseDatasetList, type LongBenchConfig } from "../tasks/longbench/config.js";
import { datasetOfFile, datasetsInFolder } from "../tasks/longbench/data.js";
import { longBenchTask, type LongBenchOptions } from "../tasks/longbench/run.js";
import { LENGTH_BUCKETS, writeResultJson } from "../tasks/longbench/score.js";
import type { CommonFlags } from "./common.js";
import { oneLineErrors } from "./common.js";
import { parseChoice, parseCount } from "./parse.js";
import { budgetedCacheValues, budgetedPolicyOptions } from "./policy-flags.js";
import { taskCommand } from "./task-command.js";

type LongBenchFlags = CommonFlags & Record<string, unknown>;

/** `longbench`: generation and scoring under each policy; `longbench score`: the official eval.py over a folder. */
export function longbenchCommand(): Command {
  const config = loadLongBenchConfig();
  const command = new Command("longbench")
    .description("LongBench v1 (docs/protocols.md §4): the official prompts, middle truncation and metrics, greedy answers under each cache policy")
    .option("--datasets <list>", "datasets, or the groups all, paper (the six the Cascading KV Cache paper reports), e (LongBench-E's 13) (default: all; e with --e; those of a --data folder or file)")
    .option("--e", "LongBench-E: the DATASET_e files, scored per length bucket (0-4k, 4-8k, 8k+)")
    .option("--data <path>", "local data: data.zip, a folder of DATASET.jsonl[.xz|.zst] files, or one such file (default: the hub's THUDM/LongBench, once fetched)")
    .option("--datasets-dir <dir>", "dataset cache (default: $CASCADE_EVAL_DATASETS or datasets/)")
    .option("--samples <n>", "only the first N items of each dataset", parseCount("--samples", 1));
  budgetedPolicyOptions(command, config.defaults, "min(2^floor(log2(n/4)), max length)", "run side by side on the same prompts", "each item's prompt")
    .option("--max-length <n>", `prompt budget in tokens, pred.py's max_length (default: the model's context in nominal thousands less ${config.defaults.generationReserve}, e.g. 8192 → 7500)`, parseCount("--max-length", 2))
    .option("--parallel <n>", "items evaluated at once, each in its own context (memory permitting); without --threads the cores are shared out among them", parseCount("--parallel", 1), 1);
  taskCommand(longBenchTask, command, (flags) => longBenchOptions(flags, config));
  return command.addCommand(oneLineErrors(scoreCommand()));
}

/** The run's options from the flags: a --data file names its own dataset; --e keeps to the datasets LongBench-E has. */
function longBenchOptions(flags: LongBenchFlags, config: LongBenchConfig): LongBenchOptions {
  const e = flags.e === true;
  const data = flags.data as string | undefined;
  const source = data !== undefined ? resolve(data) : "longbench";
  const local = data !== undefined && existsSync(source) ? statSync(source) : undefined;
  let datasets: string[];
  if (local?.isFile() && !source.endsWith(".zip")) {
    const own = datasetOfFile(source);
    datasets = flags.datasets !== undefined ? parseDatasetList(String(flags.datasets), config) : Object.hasOwn(config.datasets, own.dataset) ? [own.dataset] : [];
    if (datasets.length !== 1) throw new UsageError(`--data ${data} is one file: name its dataset with --datasets (one of ${Object.keys(config.datasets).join(", ")})`);
  } else if (flags.datasets === undefined && local?.isDirectory()) {
    datasets = datasetsInFolder(source, e, config);
    if (datasets.length === 0) throw new UsageError(`--data ${data}: no LongBench ${e ? "DATASET_e" : "DATASET"}.jsonl[.xz|.zst] files in the folder`);
  } else datasets = parseDatasetList(flags.datasets !== undefined ? String(flags.datasets) : e ? "e" : "all", config);
  const withoutE = datasets.filter((dataset) => !config.datasets[dataset]!.e);
  if (e && withoutE.length > 0) throw new UsageError(`--e: LongBench-E has no ${withoutE.join(", ")}`);
  return {
    source,
    datasets,
    e,
    samples: flags.samples as number | undefined,
    ...budgetedCacheValues(flags),
    maxLength: flags.maxLength as number | undefined,
    parallel: flags.parallel as number,
    model: flags.model ?? DEFAULT_MODEL,
  };
}

function scoreCommand(): Command {
  return new Command("score")
    .description("score a folder of official-format DATASET.jsonl predictions ({pred, answers, all_classes, length}) and write result.json as the official eval.py does")
    .argument("<pred-dir>", "folder of prediction files")
    .option("--e", "LongBench-E: scores per length bucket (0-4k, 4-8k, 8k+)")
    .addOption(new Option("--format <format>", "table format: terminal, markdown, csv or json").default("terminal").argParser(parseChoice("--format", OUTPUT_FORMATS)))
    .action((folder: string, flags: { e?: boolean; format: OutputFormat }) => {
      const scores = writeResultJson(resolve(folder), flags.e === true);
      const path = join(resolve(folder), "result.json");
      process.stdout.write(render([scoreTable(scores, flags.e === true)], flags.format));
      process.stderr.write(`wrote ${path}\n`);
    });
}

function scoreTable(scores: Record<string, number | Record<string, number>>, byLength: boolean): Table {
  const datasets = loadLongBenchDatasets();
  const names = Object.keys(datasets).filter((name) => name in scores);
  return {
    title: byLength ? "LongBench-E scores by length" : "LongBench scores",
    head: byLength ? ["dataset", "metric", ...LENGTH_BUCKETS] : ["dataset", "metric", "score"],
    rows: names.map((name) => {
      const score = scores[name]!;
      return [name, datasets[name]!.metric, ...(typeof score === "number" ? [score] : LENGTH_BUCKETS.map((bucket) => (Number.isNaN(score[bucket]) ? null : score[bucket]!)))];
    }),
    decimals: [undefined, undefined, 2, 2, 2],
  };
}
