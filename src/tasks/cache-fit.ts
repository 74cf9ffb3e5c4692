/**
 * Fitting a bounded cache to the model: the one place that decides a task's window, budget and prefill chunk when
 * the user gives none. Each protocol names its own budget rule (docs/protocols.md); passkey, PG19 and BookSum then
 * shrink it by halving until the cache plus one chunk fits the model's trained context (LongBench truncates its
 * prompts to the model's context instead); a window given on the command line is never changed.
 */
import type { PolicyName } from "../policies/policy.js";

/** The cache settings of a task whose bounded policies get a budget rule per sample (booksum, longbench). */
export interface BudgetedCacheOptions {
  policies: PolicyName[];
  /** Sinks, inside the budget. */
  sinks: number;
  /** Fixed window after the sinks; unset: the task's budget rule per sample (or --budget). */
  window?: number;
  /** --budget as given (labels: shares of each sample's prompt or token counts, sinks included), instead of the rule: one cache per budget. */
  budgets?: string[];
  /** Prefill chunk; unset: min(the task's default, window/2). */
  stride?: number;
  cascades: number;
}

/** The prefill chunk when none is given: the task's default, or half the window where that is smaller (at least 1). */
export function defaultStride(window: number, taskDefault: number, given?: number): number {
  return given ?? Math.max(1, Math.min(taskDefault, Math.floor(window / 2)));
}

/** `size` halved until `fits(size)` (or 1), and whether it had to shrink. */
export function halveUntilFits(size: number, fits: (size: number) => boolean): { size: number; shrunk: boolean } {
  let fitted = size;
  while (fitted > 1 && !fits(fitted)) fitted /= 2;
  return { size: fitted, shrunk: fitted !== size };
}

/** A window that, after `sinks` and with its prefill chunk, fits `trainedContext` tokens. */
export function fitWindow(window: number, sinks: number, strideFor: (window: number) => number, trainedContext: number): { window: number; shrunk: boolean } {
  const { size, shrunk } = halveUntilFits(window, (candidate) => sinks + candidate + strideFor(candidate) <= trainedContext);
  return { window: size, shrunk };
}

/** Passkey's default window for a haystack: the paper's, or the largest power of two ≤ length/4 so that short haystacks still evict. */
export function passkeyWindow(length: number, paperWindow: number): number {
  return Math.min(paperWindow, 2 ** Math.floor(Math.log2(Math.max(1, length / 4))));
}

/** BookSum's cache budget for a prompt of n tokens: 2^⌊log2(n/2)⌋ (sinks included). */
export function halfPowerOfTwoBudget(promptTokens: number): number {
  return 2 ** Math.floor(Math.log2(Math.max(1, promptTokens / 2)));
}

/** LongBench's cache budget for a prompt of n tokens: 2^⌊log2(n/4)⌋ capped at the max length (sinks included). */
export function quarterPowerOfTwoBudget(promptTokens: number, maxLength: number): number {
  return Math.min(2 ** Math.floor(Math.log2(Math.max(1, promptTokens / 4))), maxLength);
}

/**
 * BookSum's budget that fits the model: halved until the budget plus one chunk (its own stride, or half the budget)
 * fits; `uncapped` is the paper's budget where it had to shrink.
 */
export function fitBudget(budget: number, stride: number, trainedContext: number): { budget: number; uncapped?: number } {
  const { size, shrunk } = halveUntilFits(budget, (candidate) => candidate + Math.min(stride, candidate / 2) <= trainedContext);
  return shrunk ? { budget: size, uncapped: budget } : { budget: size };
}
