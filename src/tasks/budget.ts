/**
 * Cache budgets as users state them (`--budget 0.25`, `--budget 8K`, or several: `--budget 1K,2K,0.5`): a share of
 * the prompt or a number of tokens, sinks included, for every bounded policy of a run. A budget becomes the window
 * after the sinks, rounded down to a multiple of the cascades so that every policy gets the same cache.
 */
import { UsageError } from "../errors.js";
import { formatLength, parseLength } from "../util/lengths.js";

export type Budget = { kind: "share"; share: number } | { kind: "tokens"; tokens: number };

/** One budget: a share in (0, 1) (0.25 or 25%) or a length such as 8K or 8192. */
export function parseBudget(text: string): Budget {
  const trimmed = text.trim();
  if (/^0?\.\d+$/.test(trimmed)) {
    const share = Number(trimmed);
    if (share > 0 && share < 1) return { kind: "share", share };
  }
  // "25%": how tables and run.json write a share
  if (/^\d+(\.\d+)?%$/.test(trimmed)) {
    const share = Number(trimmed.slice(0, -1)) / 100;
    if (share > 0 && share < 1) return { kind: "share", share };
  }
  try {
    return { kind: "tokens", tokens: parseLength(trimmed) };
  } catch {
    throw new UsageError(`--budget '${trimmed}' is neither a share of the prompt (0 < x < 1, e.g. 0.25) nor a number of tokens (e.g. 8K)`);
  }
}

/** A comma list of budgets, duplicates dropped. */
export function parseBudgets(text: string): Budget[] {
  const budgets = text.split(",").filter((each) => each.trim() !== "").map(parseBudget);
  if (budgets.length === 0) throw new UsageError("--budget needs at least one budget (e.g. 0.25 or 8K)");
  return budgets.filter((budget, index) => budgets.findIndex((other) => budgetLabel(other) === budgetLabel(budget)) === index);
}

/** How tables and records name a budget: "25%" or "8K". */
export function budgetLabel(budget: Budget): string {
  return budget.kind === "share" ? `${+(100 * budget.share).toFixed(4)}%` : formatLength(budget.tokens);
}

/**
 * The window after the sinks that a budget leaves for a prompt of `promptTokens`: budget − sinks, rounded down to a
 * multiple of `multiple`; a UsageError when nothing is left.
 */
export function budgetWindow(budget: Budget, promptTokens: number, sinks: number, multiple: number): number {
  const tokens = budget.kind === "share" ? Math.floor(budget.share * promptTokens) : budget.tokens;
  const window = Math.floor((tokens - sinks) / multiple) * multiple;
  if (window < 1)
    throw new UsageError(`--budget ${budgetLabel(budget)} is ${tokens} tokens at ${promptTokens}: no room after ${sinks} sinks${multiple > 1 ? ` for ${multiple} cascades` : ""}`);
  return window;
}
