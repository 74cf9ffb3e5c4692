// Runs after `cascade-eval extensions build` (npm run test:extensions): the eviction llama.cpp applies at the end of
// a chunk's decode must leave the same state as the eviction after the chunk, and never outlive its stream.
import assert from "node:assert/strict";
import { test } from "node:test";
import { queueEviction } from "../../src/engine/extension-runtime.js";
import { createPolicy } from "../../src/policies/registry.js";
import type { PolicyConfig } from "../../src/policies/policy.js";
import { needs } from "../fixtures.js";
import { largestDifference, openEngine, STORIES_FIXTURE, streamThrough, streamWith } from "./policy-streams.js";

/** Every stream here runs on stories260K. */
const SKIP = needs(STORIES_FIXTURE);

for (const config of [
  { name: "sink-window", sinks: 4, window: 380, cascades: 1 },
  { name: "cascading-strided", sinks: 4, window: 380, cascades: 4 },
] satisfies PolicyConfig[]) {
  test(`eviction inside the decode equals the eviction after the chunk and the per-range erase: ${config.name}`, { skip: SKIP }, async () => {
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

test("a policy that ranks by attention decides after the chunk, so it evicts after it", { skip: SKIP }, async () => {
  const scored = await streamWith(false, { name: "cascading", sinks: 4, window: 380, cascades: 4 });
  assert.equal(scored.eviction, "in-decode");
  assert.ok(scored.evicted > 2000);
  assert.equal(scored.timings.evictInDecodeMs, 0);
});

test("an eviction left queued when its stream closes never reaches the next stream on that context", { skip: SKIP }, async () => {
  const engine = await openEngine(false);
  try {
    const tokens = engine.sampleTokens(300, 11);
    const full = { name: "full", sinks: 0, window: 0, cascades: 1 } satisfies PolicyConfig;
    const clean = await streamThrough(engine, full, tokens);
    const abandoned = await engine.openStream({ policy: createPolicy(full), stride: 64, totalTokens: tokens.length + 16 });
    const queued = queueEviction((abandoned as unknown as { sequence: Parameters<typeof queueEviction>[0] }).sequence, [1, 2, 3], 100);
    assert.ok(queued, "queued");
    await engine.closeStream(abandoned);
    const after = await streamThrough(engine, full, tokens);
    assert.equal(after.evicted, 0);
    assert.equal(largestDifference(after.logProbabilities, clean.logProbabilities), 0);
    assert.deepEqual(after.generated, clean.generated);
  } finally {
    await engine.close();
  }
});
