// Runs after `cascade-eval extensions build` (npm run test:extensions): the eviction llama.cpp applies at the end of
// a chunk's decode must leave the same state as the eviction after the chunk, and never outlive its stream.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Engine } from "../../src/engine/engine.js";
import { queueEviction } from "../../src/engine/extensions.js";
import type { PolicyStream } from "../../src/engine/stream.js";
import { createPolicy } from "../../src/policies/index.js";
import type { PolicyConfig } from "../../src/policies/policy.js";
import { projectPath } from "../../src/util/paths.js";

const STORIES = projectPath("..", "shared", "models", "stories260K.gguf");

async function openEngine(afterChunk: boolean, extensions = true): Promise<Engine> {
  if (afterChunk) process.env.CASCADE_EVAL_EVICT_AFTER_CHUNK = "1";
  try {
    return await Engine.open({ model: STORIES, gpu: "cpu", threads: 1, extensions });
  } finally {
    delete process.env.CASCADE_EVAL_EVICT_AFTER_CHUNK;
  }
}

interface Outcome {
  eviction: string;
  logProbabilities: Float64Array;
  cached: number[];
  evicted: number;
  generated: number[];
  timings: PolicyStream["timings"];
}

async function stream(engine: Engine, config: PolicyConfig, tokens: number[]): Promise<Outcome> {
  const opened = await engine.openStream({ policy: createPolicy(config), stride: 64, totalTokens: tokens.length + 16 });
  const { logProbabilities } = await opened.feed(tokens, { logProbabilities: true });
  const generated = await opened.generate({ maxTokens: 16 });
  const outcome = { eviction: engine.hardware.eviction, logProbabilities, cached: opened.cachedTokenIds(), evicted: opened.counters.evicted, generated, timings: { ...opened.timings } };
  await engine.closeStream(opened);
  return outcome;
}

async function streamWith(afterChunk: boolean, config: PolicyConfig, extensions = true): Promise<Outcome> {
  const engine = await openEngine(afterChunk, extensions);
  try {
    return await stream(engine, config, engine.sampleTokens(3000, 7));
  } finally {
    await engine.close();
  }
}

function largestDifference(a: Float64Array, b: Float64Array): number {
  assert.equal(a.length, b.length);
  let largest = 0;
  for (let index = 0; index < a.length; index++) largest = Math.max(largest, Math.abs(a[index]! - b[index]!));
  return largest;
}

for (const config of [
  { name: "sink-window", sinks: 4, window: 380, cascades: 1 },
  { name: "cascading-strided", sinks: 4, window: 380, cascades: 4 },
] satisfies PolicyConfig[]) {
  test(`eviction inside the decode equals the eviction after the chunk and the per-range erase: ${config.name}`, async () => {
    const inDecode = await streamWith(false, config);
    const afterChunk = await streamWith(true, config);
    const stock = await streamWith(false, config, false);
    assert.equal(inDecode.eviction, "in-decode", "the loaded binaries carry eviction-in-decode (run `cascade-eval extensions build`)");
    assert.equal(afterChunk.eviction, "batched");
    assert.equal(stock.eviction, "stock");
    assert.ok(inDecode.timings.evictInDecodeMs > 0, "llama.cpp applied the evictions inside the decodes");
    assert.equal(afterChunk.timings.evictInDecodeMs, 0);
    assert.ok(stock.evicted > 2000, `${stock.evicted} tokens evicted`);
    for (const other of [afterChunk, stock]) {
      assert.equal(inDecode.evicted, other.evicted);
      assert.deepEqual(inDecode.cached, other.cached);
      assert.deepEqual(inDecode.generated, other.generated);
      const largest = largestDifference(inDecode.logProbabilities, other.logProbabilities);
      assert.ok(largest <= 1e-5, `largest log-probability difference ${largest}`);
    }
  });
}

test("a policy that ranks by attention decides after the chunk, so it evicts after it", async () => {
  const scored = await streamWith(false, { name: "cascading", sinks: 4, window: 380, cascades: 4 });
  assert.equal(scored.eviction, "in-decode");
  assert.ok(scored.evicted > 2000);
  assert.equal(scored.timings.evictInDecodeMs, 0);
});

test("an eviction left queued when its stream closes never reaches the next stream on that context", async () => {
  const engine = await openEngine(false);
  try {
    const tokens = engine.sampleTokens(300, 11);
    const full = { name: "full", sinks: 0, window: 0, cascades: 1 } satisfies PolicyConfig;
    const clean = await stream(engine, full, tokens);
    const abandoned = await engine.openStream({ policy: createPolicy(full), stride: 64, totalTokens: tokens.length + 16 });
    const queued = queueEviction((abandoned as unknown as { sequence: Parameters<typeof queueEviction>[0] }).sequence, [1, 2, 3], 100);
    assert.ok(queued, "queued");
    await engine.closeStream(abandoned);
    const after = await stream(engine, full, tokens);
    assert.equal(after.evicted, 0);
    assert.equal(largestDifference(after.logProbabilities, clean.logProbabilities), 0);
    assert.deepEqual(after.generated, clean.generated);
  } finally {
    await engine.close();
  }
});
