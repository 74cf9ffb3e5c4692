import type { PolicyName, PolicyRecord } from "../../policies/policy.js";
import type { Filler } from "./haystack.js";

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
  /** Tokens of the key block, from keyPosition (absent in runs before retention was recorded). */
  keyTokens?: number;
  /** Offsets within the key block of its tokens that the cache still held once the prompt was read. */
  keyRetained?: number[];
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
