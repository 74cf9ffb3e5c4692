/** LongBench run records, the tables rebuilt from them, and the official-format prediction files. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Table } from "../../printers/table.js";
import type { StreamOutcome } from "../outcome.js";
import { writeFileAtomic } from "../../util/files.js";
import { describeBudgetedPolicy, groupByPolicy } from "../../policies/registry.js";
import { budgetRule, givenBudget, type BudgetLabel } from "../budget.js";
import type { PolicyRecord } from "../../policies/policy.js";
import type { LongBenchConfig } from "./config.js";
import { LENGTH_BUCKETS, scoreDataset, scoreDatasetByLength, type PredictionRecord } from "./score.js";

/**
 * How the cache size of a bounded policy was chosen: the paper's rule per prompt, a fixed --window, or a --budget
 * (its label; the full cache of a --budget run has no budget).
 */
export type LongBenchBudget = "quarter-pow2" | "fixed" | BudgetLabel;

/** One line of `samples.jsonl`: one item of one dataset under one policy. */
export interface LongBenchRecord extends StreamOutcome {
  task: "longbench";
  runId: string;
  dataset: string;
  /** 0-based line of the dataset file: prediction files keep this order. */
  item: number;
  id: string;
  policy: PolicyRecord & { budget?: LongBenchBudget };
  model: { source: string; path: string; sha256: string; name: string };
  /** Prompt tokens evaluated (after truncation, with the chat template) and before truncation when it applied. */
  promptTokens: number;
  truncatedFrom: number | null;
  generatedTokens: number;
  /** The official record's fields: the prediction and what eval.py reads with it. */
  pred: string;
  answers: string[];
  all_classes: string[] | null;
  length: number;
  /** This item's metric (max over answers, first-line rule), 0–1. */
  score: number;
}

/** Records of one policy (one group) and dataset in file order, as official prediction records. */
function predictions(group: readonly LongBenchRecord[], dataset: string): PredictionRecord[] {
  return group
    .filter((record) => record.dataset === dataset)
    .sort((a, b) => a.item - b.item)
    .map(({ pred, answers, all_classes, length }) => ({ pred, answers, all_classes, length }));
}

/** The records per policy and --budget (not per budget rule), in the tables' order. */
const policiesOf = (records: readonly LongBenchRecord[]) => groupByPolicy(records, givenBudget);

/**
 * `pred/POLICY/DATASET.jsonl` (pred_e for LongBench-E; `POLICY@BUDGET` under a --budget) for every policy and
 * dataset with records, each line `{"pred", "answers", "all_classes", "length"}` as pred.py writes it; returns the
 * folders written.
 */
export function writePredictionFiles(runPath: string, records: readonly LongBenchRecord[], datasets: readonly string[], byLength: boolean): string[] {
  const folders: string[] = [];
  for (const policy of policiesOf(records)) {
    const folder = join(runPath, byLength ? "pred_e" : "pred", policy.key);
    mkdirSync(folder, { recursive: true });
    for (const dataset of datasets) {
      const lines = predictions(policy.records, dataset);
      if (lines.length > 0) writeFileAtomic(join(folder, `${dataset}.jsonl`), lines.map((line) => `${JSON.stringify(line)}\n`).join(""));
    }
    folders.push(folder);
  }
  return folders;
}

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/**
 * Scores per dataset (rows) and policy (columns) as eval.py computes them from the prediction files, then the
 * category averages and the paper's six-dataset average over the datasets run (unweighted, as the papers average).
 */
export function longBenchTables(runId: string, records: readonly LongBenchRecord[], datasets: readonly string[], config: LongBenchConfig, notes: string[] = []): Table[] {
  const policies = policiesOf(records);
  const run = datasets.filter((dataset) => records.some((record) => record.dataset === dataset));
  const scores = new Map<string, (number | null)[]>();
  const rows = run.map((dataset) => {
    const settings = config.datasets[dataset]!;
    const perPolicy = policies.map((policy) => predictions(policy.records, dataset));
    const row = perPolicy.map((lines) => (lines.length === 0 ? null : scoreDataset(dataset, lines, settings)));
    scores.set(dataset, row);
    // Policies may differ in items (a prompt too short for a bounded budget is skipped): then each count is shown.
    const counts = perPolicy.map((lines) => lines.length);
    const items = new Set(counts).size === 1 ? counts[0]! : counts.join(" / ");
    return [dataset, settings.metric, items, ...row];
  });
  const average = (label: string, members: readonly string[]) => {
    const present = members.filter((dataset) => scores.has(dataset));
    if (present.length === 0) return [];
    const cells = policies.map((_, column) => {
      const values = present.map((dataset) => scores.get(dataset)![column]);
      return values.some((value) => value === null) ? null : mean(values as number[]);
    });
    const coverage = present.length === members.length ? "" : ` (${present.length} of ${members.length})`;
    return [[`${label}${coverage}`, "average", null, ...cells]];
  };
  const categories = [...new Set(Object.values(config.datasets).map((settings) => settings.category))];
  const averages = [
    ...categories.flatMap((category) => average(`avg ${category}`, Object.keys(config.datasets).filter((dataset) => config.datasets[dataset]!.category === category))),
    ...average("avg paper's six", config.paperDatasets),
  ];
  const layouts = policies.map((policy) => `${policy.label}: ${describeCache(policy.records[0]!)}`);
  return [
    {
      title: `LongBench scores (official metrics, ×100) — run ${runId}`,
      head: ["dataset", "metric", "items", ...policies.map((policy) => policy.label)],
      rows: [...rows, ...averages],
      notes: [...layouts, ...notes],
      decimals: [undefined, undefined, 0, ...policies.map(() => 2)],
    },
  ];
}

/** LongBench-E: one table per policy, scores per length bucket as eval.py --e computes them. */
export function longBenchETables(runId: string, records: readonly LongBenchRecord[], datasets: readonly string[], config: LongBenchConfig, notes: string[] = []): Table[] {
  return policiesOf(records).map((policy) => ({
    title: `LongBench-E scores by length, ${policy.label} — run ${runId}`,
    head: ["dataset", "metric", "items", ...LENGTH_BUCKETS],
    rows: datasets.flatMap((dataset) => {
      const lines = predictions(policy.records, dataset);
      if (lines.length === 0) return [];
      const buckets = scoreDatasetByLength(dataset, lines, config.datasets[dataset]!);
      return [[dataset, config.datasets[dataset]!.metric, lines.length, ...LENGTH_BUCKETS.map((bucket) => (Number.isNaN(buckets[bucket]) ? null : buckets[bucket]))]];
    }),
    notes: [`${policy.label}: ${describeCache(policy.records[0]!)}`, ...notes],
    decimals: [undefined, undefined, 0, 2, 2, 2],
  }));
}

function describeCache(record: LongBenchRecord): string {
  return describeBudgetedPolicy(record.policy, budgetRule(record.policy, "min(2^⌊log2(n/4)⌋, max length)", "each prompt"));
}
