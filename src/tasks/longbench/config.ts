/** The declarative part of LongBench, read from `tasks/longbench/datasets.json`. */
import { readFileSync } from "node:fs";
import { UsageError } from "../../errors.js";
import { projectPath } from "../../util/paths.js";
import type { MetricName } from "./metrics.js";

export interface DatasetConfig {
  /** The LongBench paper's task category, for the category averages. */
  category: string;
  metric: MetricName;
  language: "en" | "zh" | "code";
  maxNewTokens: number;
  /** The chat template is applied after truncation (false for the six raw datasets). */
  chat: boolean;
  /** Only the first line of a prediction is scored. */
  firstLine: boolean;
  /** Generation stops after a newline token, which (like end-of-text) may not be the first token (samsum). */
  stopAtNewline?: boolean;
  /** A LongBench-E file `DATASET_e.jsonl` exists. */
  e: boolean;
  /** pred.py's template, filled with the record's `{context}` and `{input}`. */
  prompt: string;
}

export interface LongBenchConfig {
  /** The six datasets the Cascading KV Cache paper reports, averaged in its headline. */
  paperDatasets: string[];
  /** Paper settings: 64 sinks, 4 cascades; prefill stride; tokens kept free for generation by the default max length. */
  defaults: { sinks: number; cascades: number; stride: number; generationReserve: number };
  /** In the official order (eval.py's and the tables'). */
  datasets: Record<string, DatasetConfig>;
}

export function loadLongBenchConfig(): LongBenchConfig {
  return JSON.parse(readFileSync(projectPath("tasks", "longbench", "datasets.json"), "utf8")) as LongBenchConfig;
}

export function loadLongBenchDatasets(): Record<string, DatasetConfig> {
  return loadLongBenchConfig().datasets;
}

/** `--datasets` as a list of known names in the official order; `all`, `paper` and `e` name groups. */
export function parseDatasetList(list: string, config: LongBenchConfig): string[] {
  const known = Object.keys(config.datasets);
  const wanted = new Set<string>();
  for (const name of list.split(",").map((item) => item.trim()).filter((item) => item !== "")) {
    if (name === "all") known.forEach((dataset) => wanted.add(dataset));
    else if (name === "paper") config.paperDatasets.forEach((dataset) => wanted.add(dataset));
    else if (name === "e") known.filter((dataset) => config.datasets[dataset]!.e).forEach((dataset) => wanted.add(dataset));
    else if (Object.hasOwn(config.datasets, name)) wanted.add(name);
    else throw new UsageError(`--datasets: unknown dataset '${name}' (known: ${known.join(", ")}; groups: all, paper, e)`);
  }
  if (wanted.size === 0) throw new UsageError("--datasets: no dataset named");
  return known.filter((dataset) => wanted.has(dataset));
}

/**
 * The prompt budget of a model trained on `trainedContext` tokens when --max-length is not given: its size in
 * nominal thousands (a 4,096-token model is a "4k" model: 4,000) less 500 tokens left for the answer and the chat
 * template. That is the rule behind every entry of the official model2maxlen.json (4k → 3500, 8k → 7500,
 * 16k → 15500, 32k → 31500).
 */
export function defaultMaxLength(trainedContext: number, config: LongBenchConfig = loadLongBenchConfig()): number {
  return Math.floor((trainedContext * 1000) / 1024) - config.defaults.generationReserve;
}
