/**
 * Cache budgets as users state them (`--budget 0.25`, `--budget 8K`, or several: `--budget 1K,2K,0.5`): a share of
 * the prompt or a number of tokens, sinks included, for every bounded policy of a run. A budget becomes the window
 * after the sinks, rounded down to a multiple of the cascades so that every policy gets the same cache.
 */
import { UsageError } from "../errors.js";
import type { PolicyName } from "../policies/policy.js";
import { isBounded, usesParameter } from "../policies/registry.js";
import { formatLength, parseLength } from "../util/lengths.js";

export type Budget = { kind: "share"; share: number } | { kind: "tokens"; tokens: number };

/** A budget as records, tables, resume keys and run.json name it (budgetLabel): "25%", "8K", "1000". */
export type BudgetLabel = string;

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
 * multiple of `multiple`; where nothing is left, the reason (requireWindow turns it into a UsageError).
 */
export function budgetWindow(budget: Budget, promptTokens: number, sinks: number, multiple: number): number | string {
  const tokens = budget.kind === "share" ? Math.floor(budget.share * promptTokens) : budget.tokens;
  const window = Math.floor((tokens - sinks) / multiple) * multiple;
  if (window < 1) return `--budget ${budgetLabel(budget)} is ${tokens} tokens at ${promptTokens}: no room after ${sinks} sinks${multiple > 1 ? ` for ${multiple} cascades` : ""}`;
  return window;
}

/** What a run's --budget caches are planned from: the budgets as run.json keeps them (labels), its policies and cascades. */
export interface BudgetRun {
  budgets: readonly string[];
  policies: readonly PolicyName[];
  cascades: number;
}

/** One --budget of a run, for one unit (a haystack, a book, a prompt). */
export interface BudgetCache {
  /** Its label ("25%", "8K"): in the records, the tables and the resume keys. */
  budget: string;
  /** The policies that run with it: the bounded ones, and with the first budget also the full cache (it runs once). */
  policies: PolicyName[];
  /** The window it leaves after the sinks, the same for every policy of the run; where a share leaves none, why. */
  window: number | string;
}

/**
 * The caches of a --budget run for one unit of `unitTokens` tokens, one per budget in the order given: budget −
 * sinks (a share taken of `unitTokens`), rounded down to a multiple of the cascades when a cascade is in the run, so
 * that every policy gets the same cache. A budget in tokens that leaves no window leaves none in any unit: a
 * UsageError.
 */
export function budgetCaches(run: BudgetRun, unitTokens: number, sinks: number): BudgetCache[] {
  const multiple = run.policies.some((name) => usesParameter(name, "cascades")) ? run.cascades : 1;
  return parseBudgets(run.budgets.join(",")).map((budget, nth) => {
    const window = budgetWindow(budget, unitTokens, sinks, multiple);
    return {
      budget: budgetLabel(budget),
      policies: run.policies.filter((name) => nth === 0 || isBounded(name)),
      window: budget.kind === "tokens" ? requireWindow({ window }) : window,
    };
  });
}

/** A cache's window, or a UsageError saying why the budget leaves none (for tasks where that stops the run). */
export function requireWindow(cache: Pick<BudgetCache, "window">): number {
  if (typeof cache.window === "string") throw new UsageError(cache.window);
  return cache.window;
}

/**
 * The --budget a record's policy ran under (its label), or undefined: no --budget, or the budget rule (e.g.
 * "quarter-pow2", "fixed") that LongBench and BookSum keep in the same field.
 */
export function givenBudget(policy: { budget?: unknown }): string | undefined {
  if (typeof policy.budget !== "string") return undefined;
  try {
    parseBudget(policy.budget);
    return policy.budget;
  } catch {
    return undefined;
  }
}

/**
 * The rule to describe a bounded cache by (describeBudgetedPolicy): a share --budget as "25% of `unit`", the task's
 * per-sample `rule` where that chose it, none where the window was one number for every sample (a --budget in
 * tokens, a fixed --window: budget "fixed").
 */
export function budgetRule(policy: { budget?: unknown }, rule: string, unit: string): string | undefined {
  const given = givenBudget(policy);
  if (given !== undefined) return given.endsWith("%") ? `${given} of ${unit}` : undefined;
  return policy.budget === "fixed" ? undefined : rule;
}
