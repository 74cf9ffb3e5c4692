/**
 * For the eviction specs (not a test file itself): one stream of sampled stories260K tokens through a policy on the
 * CPU, with the eviction path the engine takes under the given switches, and what it leaves behind.
 */
import assert from "node:assert/strict";
import { Engine } from "../../src/engine/engine.js";
import type { PolicyStream } from "../../src/engine/stream.js";
import { createPolicy } from "../../src/policies/registry.js";
import type { PolicyConfig } from "../../src/policies/policy.js";
import { fixture } from "../fixtures.js";

/** The model every stream here runs on: a fixture, so the specs give their tests `{ skip: needs(STORIES_FIXTURE) }`. */
export const STORIES_FIXTURE = "models/stories260K.gguf";
const STORIES = fixture(STORIES_FIXTURE);

export interface StreamOutcome {
  eviction: string;
  logProbabilities: Float64Array;
  cached: number[];
  evicted: number;
  generated: number[];
  timings: PolicyStream["timings"];
}

/** An engine on stories260K; `afterChunk` sets CASCADE_EVAL_EVICT_AFTER_CHUNK while it opens. */
export async function openEngine(afterChunk: boolean, extensions = true): Promise<Engine> {
  if (afterChunk) process.env.CASCADE_EVAL_EVICT_AFTER_CHUNK = "1";
  try {
    return await Engine.open({ model: STORIES, gpu: "cpu", threads: 1, extensions });
  } finally {
    delete process.env.CASCADE_EVAL_EVICT_AFTER_CHUNK;
  }
}

/** Feeds `tokens` in chunks of 64 with log-probabilities, generates 16, and closes the stream. */
export async function streamThrough(engine: Engine, config: PolicyConfig, tokens: number[]): Promise<StreamOutcome> {
  const opened = await engine.openStream({ policy: createPolicy(config), stride: 64, totalTokens: tokens.length + 16 });
  const { logProbabilities } = await opened.feed(tokens, { logProbabilities: true });
  const generated = await opened.generate({ maxTokens: 16 });
  const outcome = { eviction: engine.hardware.eviction, logProbabilities, cached: opened.cachedTokenIds(), evicted: opened.counters.evicted, generated, timings: { ...opened.timings } };
  await engine.closeStream(opened);
  return outcome;
}

/** 3,000 sampled tokens through `config` on a fresh engine. */
export async function streamWith(afterChunk: boolean, config: PolicyConfig, extensions = true): Promise<StreamOutcome> {
  const engine = await openEngine(afterChunk, extensions);
  try {
    return await streamThrough(engine, config, engine.sampleTokens(3000, 7));
  } finally {
    await engine.close();
  }
}

export function largestDifference(a: Float64Array, b: Float64Array): number {
  assert.equal(a.length, b.length);
  let largest = 0;
  for (let index = 0; index < a.length; index++) largest = Math.max(largest, Math.abs(a[index]! - b[index]!));
  return largest;
}
