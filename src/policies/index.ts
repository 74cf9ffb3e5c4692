import { UsageError } from "../errors.js";
import { CascadingPolicy } from "./cascading.js";
import { FullPolicy } from "./full.js";
import { isCascading, POLICY_NAMES, type CachePolicy, type PolicyConfig, type PolicyName } from "./policy.js";
import { SinkWindowPolicy } from "./sink-window.js";

/** Parses a comma list of policy names: trimmed, empty entries skipped, duplicates dropped in given order. */
export function parsePolicyNames(list: string): PolicyName[] {
  const names: PolicyName[] = [];
  for (const entry of list.split(",")) {
    const name = entry.trim();
    if (name === "") continue;
    if (!isPolicyName(name)) throw new UsageError(`unknown policy '${name}' (known: ${POLICY_NAMES.join(", ")})`);
    if (!names.includes(name)) names.push(name);
  }
  if (names.length === 0) throw new UsageError(`no policy given (known: ${POLICY_NAMES.join(", ")})`);
  return names;
}

/** Checks the parameters the named policy uses; messages name the CLI flags that set them. */
export function validatePolicyConfig(config: PolicyConfig): void {
  if (config.name === "full") return;
  requireInteger("--sinks", config.sinks, 0);
  requireInteger("--window", config.window, 1);
  if (!isCascading(config.name)) return;
  requireInteger("--cascades", config.cascades, 1);
  // With window >= 1, divisibility also guarantees at least one slot per sub-cache.
  if (config.window % config.cascades !== 0) {
    throw new UsageError(`--window ${config.window} is not divisible by --cascades ${config.cascades}`);
  }
}

/** A fresh policy for one stream. */
export function createPolicy(config: PolicyConfig): CachePolicy {
  validatePolicyConfig(config);
  switch (config.name) {
    case "full":
      return new FullPolicy(config);
    case "sink-window":
      return new SinkWindowPolicy(config);
    case "cascading":
      return new CascadingPolicy(config);
    case "cascading-strided":
      return new CascadingPolicy(config, { useScores: false });
  }
}

function isPolicyName(name: string): name is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(name);
}

function requireInteger(flag: string, value: number, minimum: number): void {
  if (!Number.isInteger(value) || value < minimum) {
    throw new UsageError(`${flag} must be an integer >= ${minimum} (got ${value})`);
  }
}
