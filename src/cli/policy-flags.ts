/** The policy flags of every model-running command, derived once from the policy registry. */
import type { Command } from "commander";
import type { PolicyName } from "../policies/policy.js";
import { parsePolicyNames, policyParameters, POLICIES } from "../policies/registry.js";
import type { BudgetedCacheOptions } from "../tasks/cache-fit.js";
import { UsageError } from "../errors.js";
import { budgetLabel, parseBudgets } from "../tasks/budget.js";
import { parseChoice, parseCount } from "./parse.js";

/** A command's defaults for the policy flags, and help where its default is a rule rather than a number. */
export interface PolicyFlagDefaults {
  policies: string;
  /** How the command runs the policies it is given (e.g. "run side by side on identical samples"). */
  policiesHelp: string;
  values: Partial<Record<string, number | string>>;
  help?: Partial<Record<string, string>>;
}

/** Adds --policy and one flag per policy parameter (its key is the flag's attribute, e.g. --sinks → sinks). */
export function policyOptions(command: Command, defaults: PolicyFlagDefaults): Command {
  command.option("--policy <list>", `cache policies (${POLICIES.map((policy) => policy.name).join(", ")}), ${defaults.policiesHelp}`, defaults.policies);
  for (const parameter of policyParameters()) {
    const value = defaults.values[parameter.key] ?? parameter.default;
    const help = defaults.help?.[parameter.key] ?? parameter.help;
    if (parameter.choices) command.option(`${parameter.flag} <name>`, `${help} (${parameter.choices.join(", ")})`, parseChoice(parameter.flag, parameter.choices), value);
    else command.option(`${parameter.flag} <n>`, help, parseCount(parameter.flag, parameter.minimum), value);
  }
  const width = Math.max(...POLICIES.map((policy) => policy.name.length));
  return command.addHelpText("after", `\nPolicies:\n${POLICIES.map((policy) => `  ${policy.name.padEnd(width)}  ${policy.description}`).join("\n")}\n`);
}

/** The policies, the shared cache shape and every other policy parameter (a number, or a named choice). */
export type PolicyFlagValues = { policies: PolicyName[]; sinks?: number; window?: number; cascades?: number } & Record<string, number | string | undefined>;

/** The policies and their parameters from the flags `policyOptions` added. */
export function policyValues(flags: Record<string, unknown>): PolicyFlagValues {
  const values: Record<string, number | string | undefined> = {};
  for (const parameter of policyParameters()) values[parameter.key] = flags[parameter.key] as number | string | undefined;
  return { ...values, policies: parsePolicyNames(String(flags.policy)) } as PolicyFlagValues;
}

/**
 * The policy flags of a task whose bounded policies get a budget rule per sample (booksum, longbench): sinks inside
 * the budget, a fixed window or --budget (shares of `unit`, or tokens) instead of the rule, and the prefill stride;
 * `rule` says the rule in the help.
 */
export function budgetedPolicyOptions(command: Command, defaults: { sinks: number; stride: number; cascades: number }, rule: string, policiesHelp: string, unit: string): Command {
  policyOptions(command, {
    policies: "full,sink-window,cascading",
    policiesHelp,
    values: { sinks: defaults.sinks, cascades: defaults.cascades },
    help: { sinks: "attention sinks (part of the budget)", window: `fixed window after the sinks (default: the paper's budget ${rule} per sample, sinks included)` },
  }).option("--stride <n>", `prefill chunk size (default: min(${defaults.stride}, window/2))`, parseCount("--stride", 1));
  return budgetOption(command, unit);
}

/** The cache settings from the flags `budgetedPolicyOptions` added. */
export function budgetedCacheValues(flags: Record<string, unknown>): BudgetedCacheOptions {
  const policy = policyValues(flags);
  const budgets = budgetValues(flags);
  return {
    ...policy,
    policies: policy.policies,
    sinks: policy.sinks!,
    window: policy.window,
    stride: flags.stride as number | undefined,
    cascades: policy.cascades!,
    ...(budgets === undefined ? {} : { budgets }),
  };
}

/** --budget: cache budgets instead of --window, for every bounded policy of the run. */
export function budgetOption(command: Command, of: string): Command {
  return command.option("--budget <list>", `cache budgets instead of --window, sinks included: shares of ${of} (0.25) or tokens (8K); several (1K,2K,0.5) run side by side`);
}

/** The budgets `budgetOption` read, as their labels ("25%", "8K"); undefined without the flag. */
export function budgetValues(flags: Record<string, unknown>): string[] | undefined {
  if (flags.budget === undefined) return undefined;
  if (flags.window !== undefined) throw new UsageError("--budget and --window both set the cache: give one");
  return parseBudgets(String(flags.budget)).map(budgetLabel);
}
