import type { Table } from "../../printers/table.js";
import type { StreamOutcome } from "../outcome.js";
import { describeBudgetedPolicy, groupByPolicy } from "../../policies/registry.js";
import { budgetRule, givenBudget, type BudgetLabel } from "../budget.js";
import type { PolicyRecord } from "../../policies/policy.js";
import type { RougeScores } from "./rouge.js";

/**
 * How the cache size of a bounded policy was chosen: the paper's rule per sample, a fixed --window, or a --budget
 * (its label; the full cache of a --budget run has no budget).
 */
export type BudgetRule = "half-pow2" | "fixed" | BudgetLabel;

/** One line of `samples.jsonl`: one book under one policy, with the texts its scores are recomputed from. */
export interface BooksumRecord extends StreamOutcome {
  task: "booksum";
  runId: string;
  /** Row of the source file (1-based), which also identifies the sample in the held-out split. */
  row: number;
  policy: PolicyRecord & { budget?: BudgetRule };
  model: { source: string; path: string; sha256: string; name: string };
  promptTokens: number;
  /** Tokens generated before the stop (≤ maxNewTokens) and the first `scoredTokens` of them as text. */
  generatedTokens: number;
  summary: string;
  reference: string;
  rouge: RougeScores;
}

const mean = (values: number[]): number | null => (values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length);
const percent = (value: number | null): number | null => (value === null ? null : Math.round(value * 10000) / 100);

function describeCache(record: BooksumRecord): string {
  return describeBudgetedPolicy(record.policy, budgetRule(record.policy, "2^⌊log2(n/2)⌋", "each book"));
}

/** Mean ROUGE F-measures (×100) per policy (and --budget), over the samples each finished. */
export function booksumTables(runId: string, records: readonly BooksumRecord[], notes?: string[]): Table[] {
  const rows = groupByPolicy(records, givenBudget).map(({ label, records: group }) => {
    const f = (key: keyof RougeScores) => percent(mean(group.map((record) => record.rouge[key].fmeasure)));
    return [label, describeCache(group[0]!), group.length, Math.round(mean(group.map((r) => r.promptTokens))!), f("rouge1"), f("rouge2"), f("rougeL")];
  });
  return [{ title: `BookSum ROUGE (F1 ×100, rouge_score with stemming) — run ${runId}`, head: ["policy", "cache", "books", "mean tokens", "ROUGE-1", "ROUGE-2", "ROUGE-L"], rows, notes, decimals: [undefined, undefined, undefined, undefined, 2, 2, 2] }];
}
