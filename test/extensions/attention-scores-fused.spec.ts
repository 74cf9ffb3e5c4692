// Runs after `cascade-eval extensions build` (npm run test:extensions): attention-scores v2/v3 computes the scores
// without materializing the softmax weights (ggml's GGML_OP_ATTN_SCORES); its scores must equal those of v1's
// materialized path on the same random streams, chunk by chunk, with flash attention on and off
// (CASCADE_EVAL_ATTN_SCORES_PATH=materialized or =fused: by default llama.cpp takes the fused path with flash attention
// only). The second run replays the first one's evictions, so that both measure the same caches.
// CASCADE_EVAL_TEST_GPU=cuda runs it on CUDA binaries (the GPU machine; see docs/extensions.md). There, with flash
// attention, v3 reuses the log-sum-exp of llama.cpp's mma flash-attention kernel, which covers head sizes 64 and up:
// CASCADE_EVAL_TEST_SCORES_MODEL names such a GGUF (e.g. `cascade-eval model synth --shape llama-3.2-1b`) in place of
// stories260K (head size 8); CASCADE_EVAL_ATTN_SCORES_LSE=own makes the fused path compute its own instead.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Engine } from "../../src/engine/engine.js";
import type { GpuChoice } from "../../src/engine/llama.js";
import { CascadingPolicy } from "../../src/policies/cascading.js";
import { fixture, needs } from "../fixtures.js";
import { RecordingPolicy } from "./recording-policy.js";

const MODEL = process.env.CASCADE_EVAL_TEST_SCORES_MODEL ?? fixture("models/stories260K.gguf");
const GPU = (process.env.CASCADE_EVAL_TEST_GPU ?? "cpu") as GpuChoice;
const PATH = "CASCADE_EVAL_ATTN_SCORES_PATH";

async function stream(materialized: boolean, flashAttention: boolean, seed: number, length: number, stride: number, replay?: readonly number[][]) {
  process.env[PATH] = materialized ? "materialized" : "fused";
  try {
    const engine = await Engine.open({ model: MODEL, gpu: GPU, threads: 1, flashAttention });
    try {
      assert.ok(engine.hardware.attentionScores, "the loaded binaries carry attention-scores (run `cascade-eval extensions build`)");
      assert.equal(engine.hardware.attentionScoresFused, !materialized, "attention-scores v2 in the binaries, its path as selected");
      const tokens = engine.sampleTokens(length, seed);
      const policy = new RecordingPolicy(new CascadingPolicy({ name: "cascading", sinks: 4, window: 96 + (seed % 3) * 32, cascades: 4 }), replay);
      const opened = await engine.openStream({ policy, stride, totalTokens: tokens.length });
      await opened.feed(tokens);
      await engine.closeStream(opened);
      return policy;
    } finally {
      await engine.close();
    }
  } finally {
    delete process.env[PATH];
  }
}

for (const flashAttention of [false, true]) {
  test(`attention scores without materialized weights equal the materialized path's within 1e-3 of each chunk's largest (flash attention ${flashAttention ? "on" : "off"}; random streams)`, { skip: process.env.CASCADE_EVAL_TEST_SCORES_MODEL ? false : needs("models/stories260K.gguf") }, async () => {
    let worst = 0;
    let chunks = 0;
    for (const { seed, length, stride } of [
      { seed: 3, length: 576, stride: 64 },
      { seed: 29, length: 600, stride: 40 },
      { seed: 101, length: 512, stride: 128 },
    ]) {
      const materialized = await stream(true, flashAttention, seed, length, stride);
      const fused = await stream(false, flashAttention, seed, length, stride, materialized.chunks.map((chunk) => chunk.evicted));
      assert.equal(fused.chunks.length, materialized.chunks.length);
      fused.chunks.forEach(({ attention }, index) => {
        const expected = materialized.chunks[index]!.attention;
        assert.ok(attention !== undefined && expected !== undefined, `chunk ${index} has attention on both paths`);
        assert.equal(attention.queries, expected.queries);
        assert.equal(attention.decayedSum.length, expected.decayedSum.length);
        const largest = Math.max(...expected.decayedSum);
        assert.ok(largest > 0);
        let error = 0;
        for (let k = 0; k < expected.decayedSum.length; k++) error = Math.max(error, Math.abs(attention.decayedSum[k]! - expected.decayedSum[k]!));
        worst = Math.max(worst, error / largest);
        chunks++;
      });
    }
    assert.ok(chunks >= 20, `${chunks} chunks compared`);
    assert.ok(worst < 1e-3, `largest difference relative to the chunk's largest score: ${worst}`);
    // the two paths round differently: identical scores would mean the fused path never ran
    assert.ok(worst > 0, "the two paths gave identical scores: is the fused path in use?");
    process.stdout.write(`# flash attention ${flashAttention ? "on" : "off"}: ${chunks} chunks, largest difference / chunk's largest score = ${worst.toExponential(2)}\n`);
  });
}
