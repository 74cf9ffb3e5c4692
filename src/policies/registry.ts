/**
 * The registry of cache policies: tables list them in this order. Adding a policy is one module exporting its
 * `PolicyDefinition`, one line here, and its tests.
 */
import { UsageError } from "../errors.js";
import { bigbird } from "./bigbird.js";
import { cascading, cascadingStrided } from "./cascading.js";
import { full } from "./full.js";
import { h2o } from "./h2o.js";
import type { CachePolicy, PolicyConfig, PolicyDefinition, PolicyName, PolicyParameter, PolicyRecord, Signal } from "./policy.js";
import { random } from "./random.js";
import { sinkWindow } from "./sink-window.js";
import { snapkv } from "./snapkv.js";
import { tova } from "./tova.js";

export const POLICIES: readonly PolicyDefinition[] = [full, sinkWindow, cascadingStrided, cascading, h2o, tova, snapkv, bigbird, random];

export const POLICY_NAMES: readonly PolicyName[] = POLICIES.map((policy) => policy.name);

/** The definition of a registered policy; a UsageError for any other name. */
export function policyDefinition(name: PolicyName): PolicyDefinition {
  const definition = POLICIES.find((policy) => policy.name === name);
  if (definition === undefined) throw new UsageError(`unknown policy '${name}' (known: ${POLICY_NAMES.join(", ")})`);
  return definition;
}

/** Every parameter some policy reads, each once (by key), in registry order: the CLI's policy flags. */
export function policyParameters(): PolicyParameter[] {
  const byKey = new Map<string, PolicyParameter>();
  for (const parameter of POLICIES.flatMap((policy) => policy.parameters)) {
    const known = byKey.get(parameter.key);
    if (known !== undefined && known !== parameter) throw new Error(`two policies declare the parameter '${parameter.key}' differently`);
    byKey.set(parameter.key, parameter);
  }
  return [...byKey.values()];
}

/** Whether the named policy keeps its cache bounded (every policy but the full cache does). */
export function isBounded(name: PolicyName): boolean {
  return policyDefinition(name).bounded;
}

/**
 * The policies among `names` that need signals these binaries cannot measure (no fallback of their own), or a
 * UsageError naming them and the remedy.
 */
export function requireSignals(names: readonly PolicyName[], measured: ReadonlySet<Signal>, remedy: string): void {
  const missing = names.map(policyDefinition).filter((policy) => policy.withoutSignals === undefined && policy.signals.some((signal) => !measured.has(signal)));
  if (missing.length === 0) return;
  const list = missing.map((policy) => policy.name).join(", ");
  throw new UsageError(`${list} ${missing.length === 1 ? "ranks" : "rank"} tokens by attention, which these binaries do not measure: ${remedy}`);
}

/** Whether the named policy reads the parameter `key` (e.g. "cascades"). */
export function usesParameter(name: PolicyName, key: string): boolean {
  return policyDefinition(name).parameters.some((parameter) => parameter.key === key);
}

/** Parses a comma list of policy names: trimmed, empty entries skipped, duplicates dropped in given order. */
export function parsePolicyNames(list: string): PolicyName[] {
  const names: PolicyName[] = [];
  for (const entry of list.split(",")) {
    const name = entry.trim();
    if (name === "") continue;
    policyDefinition(name);
    if (!names.includes(name)) names.push(name);
  }
  if (names.length === 0) throw new UsageError(`no policy given (known: ${POLICY_NAMES.join(", ")})`);
  return names;
}

/** Checks the parameters the named policy reads; messages name the CLI flags that set them. */
export function validatePolicyConfig(config: PolicyConfig): void {
  const definition = policyDefinition(config.name);
  for (const parameter of definition.parameters) {
    const value = config[parameter.key];
    if (parameter.choices === undefined) requireInteger(parameter.flag, value, parameter.minimum);
    // a config made before the choice existed (an older run's record) means its default
    else if (value !== undefined && (typeof value !== "string" || !parameter.choices.includes(value))) throw new UsageError(`${parameter.flag} must be one of ${parameter.choices.join(", ")} (got ${String(value)})`);
  }
  definition.validate?.(config);
}

/** A fresh policy for one stream. */
export function createPolicy(config: PolicyConfig): CachePolicy {
  validatePolicyConfig(config);
  return policyDefinition(config.name).create(config);
}

/** How tables name a policy as it ran. */
export function describePolicy(record: PolicyRecord): string {
  return policyDefinition(record.name).describe(record);
}

/**
 * A bounded policy whose window differs per sample, named by the rule that chose it (`rule`: "2^⌊log2(n/2)⌋",
 * "25% of each book"); without a rule (one window for all: a fixed --window, a --budget in tokens), or for an
 * unbounded policy, as describePolicy.
 */
export function describeBudgetedPolicy(record: PolicyRecord, rule: string | undefined): string {
  const definition = policyDefinition(record.name);
  if (!definition.bounded || rule === undefined) return definition.describe(record);
  return `budget ${rule} incl. ${record.sinks} sinks${definition.describeLayout?.(record) ?? ""}`;
}

/**
 * The config of the named policy with the cache shape a task chose, plus the policy's own parameters (beyond sinks,
 * window and cascades) from the task's options where they are set, else their defaults.
 */
export function policyConfig(name: PolicyName, shape: { sinks: number; window: number; cascades: number }, options: object): PolicyConfig {
  const config: PolicyConfig = { name, sinks: shape.sinks, window: shape.window, cascades: shape.cascades };
  const given = options as Record<string, unknown>;
  for (const parameter of policyDefinition(name).parameters) if (!(parameter.key in config)) config[parameter.key] = given[parameter.key] ?? parameter.default;
  return config;
}

/**
 * The record of a policy as it ran: its config, then the prefill stride, whether scores ranked its tokens and, where
 * something chose its cache per run or per sample, that `budget` (a --budget's label, or a task's budget rule).
 */
export function policyRecord(config: PolicyConfig, stride: number, scores: boolean, budget?: string): PolicyRecord {
  return { ...config, stride, scores, ...(budget === undefined ? {} : { budget }) };
}

function requireInteger(flag: string, value: unknown, minimum: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < minimum) {
    throw new UsageError(`${flag} must be an integer >= ${minimum} (got ${String(value)})`);
  }
}

/** How tables and progress lines name a policy that ran under a --budget ("sink-window · budget 25%"), or without one. */
export function policyLabel(name: PolicyName, budget: string | undefined): string {
  return budget === undefined ? name : `${name} · budget ${budget}`;
}

/** How resume keys and file names tell a policy apart: its name, and "@budget" where it ran under a --budget. */
export function policyKey(name: PolicyName, budget: string | undefined): string {
  return budget === undefined ? name : `${name}@${budget}`;
}

/**
 * Records grouped by the policy that made them, as tables list them: registry order, and within a policy its
 * budgets (`budgetOf`: by default `policy.budget`, from --budget) in the order they first appear. A group without a
 * budget is named by the policy alone, one with a budget "name · budget 25%".
 */
export function groupByPolicy<R extends { policy: PolicyConfig }>(
  records: readonly R[],
  budgetOf: (policy: R["policy"]) => string | undefined = (policy) => policy.budget as string | undefined,
): { label: string; key: string; name: PolicyName; budget: string | undefined; records: R[] }[] {
  return POLICY_NAMES.flatMap((name) => {
    const mine = records.filter((record) => record.policy.name === name);
    const budgets = [...new Set(mine.map((record) => budgetOf(record.policy)))];
    return budgets.map((budget) => ({ name, budget, label: policyLabel(name, budget), key: policyKey(name, budget), records: mine.filter((record) => budgetOf(record.policy) === budget) }));
  });
}
