// Runs after `cascade-eval extensions build` (npm run test:extensions): the attention the baselines rank by is the
// one their papers name — every query summed (h2o, β = 1), the newest query alone (tova, β = 0), and the chunk's
// last `observe` queries (snapkv, read from a decode of their own) — against an independent forward pass.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Engine } from "../../src/engine/engine.js";
import type { GpuChoice } from "../../src/engine/llama.js";
import type { CachePolicy } from "../../src/policies/policy.js";
import { createPolicy, policyConfig } from "../../src/policies/registry.js";
import { fixture, needs } from "../fixtures.js";
import { LlamaReference } from "./llama-reference.js";
import { RecordingPolicy } from "./recording-policy.js";

const STORIES = fixture("models/stories260K.gguf");
const STRIDE = 64;
const GPU = (process.env.CASCADE_EVAL_TEST_GPU ?? "cpu") as GpuChoice;

// Without flash attention the measurement reuses the softmax the attention materializes; with it, the fused op
// recomputes the logits (F16 cache: F16 precision, as in attention-scores.spec.ts).
for (const { name, flashAttention, cache, bound } of [
  ...["h2o", "tova", "snapkv"].map((name) => ({ name, flashAttention: false, cache: "F32" as const, bound: GPU === "cpu" ? 1e-5 : 1e-3 })),
  ...["h2o", "tova", "snapkv"].map((name) => ({ name, flashAttention: true, cache: "F16" as const, bound: 5e-3 })),
]) {
  test(`${name}: llama.cpp's attention per cached token equals the forward pass's for the queries ${name} reads within ${bound} (${cache} cache, flash attention ${flashAttention ? "on" : "off"}; 512 tokens, evictions between chunks)`, { skip: needs("models/stories260K.gguf") }, async () => {
    const engine = await Engine.open({ model: STORIES, gpu: GPU, threads: 1, flashAttention, kvCacheType: cache });
    const inner: CachePolicy = createPolicy(policyConfig(name, { sinks: 4, window: 96, cascades: 1 }, { observe: 16 }));
    const policy = new RecordingPolicy(inner);
    const tokens = engine.sampleTokens(512, 7);
    try {
      assert.ok(engine.hardware.attentionScores, "the loaded binaries carry attention-scores (run `cascade-eval extensions build`)");
      const stream = await engine.openStream({ policy, stride: STRIDE, totalTokens: tokens.length });
      await stream.feed(tokens);
      await engine.closeStream(stream);
    } finally {
      await engine.close();
    }
    const reference = await LlamaReference.load(STORIES, cache);
    const observed = inner.observedQueries ?? STRIDE;
    assert.equal(policy.chunks.length, tokens.length / STRIDE);
    let worst = 0;
    let evictions = 0;
    policy.chunks.forEach((chunk, index) => {
      const part = tokens.slice(index * STRIDE, (index + 1) * STRIDE);
      // what the policy must have read: the last `observed` queries of the chunk, weighted by its β
      if (observed < STRIDE) reference.evaluate(part.slice(0, STRIDE - observed), 1);
      const expected = reference.evaluate(part.slice(STRIDE - observed), inner.attentionDecay!);
      assert.ok(chunk.attention !== undefined, `chunk ${index} has attention`);
      assert.equal(chunk.attention.queries, observed);
      assert.equal(chunk.attention.decayedSum.length, expected.length);
      const largest = Math.max(...expected);
      for (let k = 0; k < expected.length; k++) worst = Math.max(worst, Math.abs(chunk.attention.decayedSum[k]! - expected[k]!) / largest);
      reference.evict(chunk.evicted);
      evictions += chunk.evicted.length;
    });
    assert.ok(evictions > 300, `${evictions} tokens evicted`);
    assert.ok(worst < bound, `largest error relative to the chunk's largest score: ${worst}`);
  });
}
