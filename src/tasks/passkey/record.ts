import { isCascading, type PolicyName } from "../../policies/policy.js";
import type { Filler } from "./haystack.js";

/** Everything about the policy as it ran, so a record is meaningful on its own. */
export interface PolicyRecord {
  name: PolicyName;
  sinks: number;
  window: number;
  cascades: number;
  stride: number;
  /** Whether attention scores ranked tokens (false: the strided cascade, or a policy that needs none). */
  scores: boolean;
}

/** One line of `samples.jsonl`: one sample under one policy, with all that is needed to recompute its score. */
export interface PasskeyRecord {
  task: "passkey";
  runId: string;
  sampleId: string;
  length: number;
  depthBin: number;
  index: number;
  seed: number;
  filler: Filler;
  policy: PolicyRecord;
  model: { source: string; path: string; sha256: string; name: string };
  promptTokens: number;
  keyPosition: number;
  depth: number;
  key: string;
  answer: string;
  score: number;
  /** Tokens in the KV cache when the answer was finished. */
  cachedTokens: number;
  evictedTokens: number;
  timings: { prefillMs: number; generateMs: number; evaluateMs: number; policyMs: number; eraseMs: number };
  prefillTokensPerSecond: number;
  hardware: { gpu: string | false; threads: number };
  finishedAt: string;
}

/** Identifies a unit of work for resuming: one sample under one policy. */
export function unitKey(sampleId: string, policy: PolicyName): string {
  return `${sampleId}|${policy}`;
}

export function describePolicy(policy: PolicyRecord): string {
  switch (policy.name) {
    case "full":
      return "full cache";
    case "sink-window":
      return `${policy.sinks} sinks + ${policy.window} window, stride ${policy.stride}`;
    case "cascading":
    case "cascading-strided":
      return `${policy.sinks} sinks + ${policy.window} window in ${policy.cascades} cascades${policy.scores ? " (attention scores)" : " (strided)"}, stride ${policy.stride}`;
  }
}

/** A bounded policy whose budget a per-sample rule chose (`rule`: "2^⌊log2(n/2)⌋"); fixed budgets as describePolicy. */
export function describeBudgetedPolicy(policy: PolicyRecord & { budget: string }, rule: string): string {
  if (policy.name === "full" || policy.budget === "fixed") return describePolicy(policy);
  const layout = isCascading(policy.name) ? `, ${policy.cascades} cascades${policy.scores ? "" : " (strided)"}` : "";
  return `budget ${rule} incl. ${policy.sinks} sinks${layout}`;
}
