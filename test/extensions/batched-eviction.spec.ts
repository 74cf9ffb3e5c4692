// Runs after `cascade-eval extensions build` (npm run test:extensions): the batched eviction must leave llama.cpp
// in the state node-llama-cpp's per-range erase leaves it in.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { PolicyConfig } from "../../src/policies/policy.js";
import { needs } from "../fixtures.js";
import { largestDifference, STORIES_FIXTURE, streamWith } from "./policy-streams.js";

for (const config of [
  { name: "sink-window", sinks: 4, window: 380, cascades: 1 },
  { name: "cascading-strided", sinks: 4, window: 380, cascades: 4 },
] satisfies PolicyConfig[]) {
  test(`batched eviction equals the per-range erase: ${config.name}, 3,000 tokens through a ${config.sinks}+${config.window} cache`, { skip: needs(STORIES_FIXTURE) }, async () => {
    // after each chunk, as a policy that ranks by attention evicts (the eviction-in-decode spec covers the other way)
    const batched = await streamWith(true, config);
    const stock = await streamWith(false, config, false);
    assert.equal(batched.eviction, "batched", "the loaded binaries carry batched-eviction (run `cascade-eval extensions build`)");
    assert.equal(stock.eviction, "stock");
    assert.equal(batched.evicted, stock.evicted);
    assert.ok(stock.evicted > 2000, `${stock.evicted} tokens evicted`);
    assert.deepEqual(batched.cached, stock.cached);
    assert.equal(batched.logProbabilities.length, 2999);
    const largest = largestDifference(batched.logProbabilities, stock.logProbabilities);
    assert.ok(largest <= 1e-5, `largest log-probability difference ${largest}`);
    assert.deepEqual(batched.generated, stock.generated);
  });
}
