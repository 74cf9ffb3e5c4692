// Runs after `cascade-eval extensions build` (npm run test:extensions): the batched eviction must leave llama.cpp
// in the state node-llama-cpp's per-range erase leaves it in.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Engine } from "../../src/engine/engine.js";
import { createPolicy } from "../../src/policies/index.js";
import type { PolicyConfig } from "../../src/policies/policy.js";
import { projectPath } from "../../src/util/paths.js";

const STORIES = projectPath("..", "shared", "models", "stories260K.gguf");

interface Outcome {
  eviction: string;
  logProbabilities: Float64Array;
  cached: number[];
  evicted: number;
  generated: number[];
}

async function stream(config: PolicyConfig, extensions: boolean): Promise<Outcome> {
  // after each chunk, as a policy that ranks by attention evicts (the eviction-in-decode spec covers the other way)
  process.env.CASCADE_EVAL_EVICT_AFTER_CHUNK = "1";
  const engine = await Engine.open({ model: STORIES, gpu: "cpu", threads: 1, extensions }).finally(() => delete process.env.CASCADE_EVAL_EVICT_AFTER_CHUNK);
  try {
    const tokens = engine.sampleTokens(3000, 7);
    const opened = await engine.openStream({ policy: createPolicy(config), stride: 64, totalTokens: tokens.length + 16 });
    const { logProbabilities } = await opened.feed(tokens, { logProbabilities: true });
    const generated = await opened.generate({ maxTokens: 16 });
    const outcome = { eviction: engine.hardware.eviction, logProbabilities, cached: opened.cachedTokenIds(), evicted: opened.counters.evicted, generated };
    await engine.closeStream(opened);
    return outcome;
  } finally {
    await engine.close();
  }
}

for (const config of [
  { name: "sink-window", sinks: 4, window: 380, cascades: 1 },
  { name: "cascading-strided", sinks: 4, window: 380, cascades: 4 },
] satisfies PolicyConfig[]) {
  test(`batched eviction equals the per-range erase: ${config.name}, 3,000 tokens through a ${config.sinks}+${config.window} cache`, async () => {
    const batched = await stream(config, true);
    const stock = await stream(config, false);
    assert.equal(batched.eviction, "batched", "the loaded binaries carry batched-eviction (run `cascade-eval extensions build`)");
    assert.equal(stock.eviction, "stock");
    assert.equal(batched.evicted, stock.evicted);
    assert.ok(stock.evicted > 2000, `${stock.evicted} tokens evicted`);
    assert.deepEqual(batched.cached, stock.cached);
    assert.equal(batched.logProbabilities.length, 2999);
    let largest = 0;
    for (let index = 0; index < stock.logProbabilities.length; index++)
      largest = Math.max(largest, Math.abs(batched.logProbabilities[index]! - stock.logProbabilities[index]!));
    assert.ok(largest <= 1e-5, `largest log-probability difference ${largest}`);
    assert.deepEqual(batched.generated, stock.generated);
  });
}
