import assert from "node:assert/strict";
import { test } from "node:test";
import { readGgufFileInfo } from "node-llama-cpp";
import { ATTENTION_SCORES_BUDGET_BYTES, attentionHeadSizes, batchForAttentionScores, cudaGraphsOffReason, defaultFlashAttention } from "../../src/engine/flash-attention.js";
import { projectPath } from "../../src/util/paths.js";

test("flash attention is on by default on a GPU, off on the CPU, and off on CUDA for a head size it has no kernel for", () => {
  assert.deepEqual(defaultFlashAttention(false, { key: 128, value: 128 }), { enabled: false });
  assert.deepEqual(defaultFlashAttention("cuda", { key: 128, value: 128 }), { enabled: true }); // Llama-3.1-8B
  assert.deepEqual(defaultFlashAttention("cuda", { key: 64, value: 64 }), { enabled: true }); // Llama-3.2-1B
  const small = defaultFlashAttention("cuda", { key: 32, value: 32 });
  assert.equal(small.enabled, false);
  assert.match(small.reason!, /no.* head size 32 \(it would run on the CPU\)/);
  assert.equal(defaultFlashAttention("cuda", { key: 192, value: 128 }).enabled, false);
  assert.match(defaultFlashAttention("cuda", { key: 192, value: 128 }).reason!, /head size 192\/128/);
  // other backends have their own kernels: left on
  assert.deepEqual(defaultFlashAttention("vulkan", { key: 32, value: 32 }), { enabled: true });
});

test("head sizes come from the GGUF header: the embedded default model has heads of 32", async () => {
  const info = await readGgufFileInfo(projectPath("models", "probe-llama.gguf"));
  assert.deepEqual(attentionHeadSizes(info.metadata), { key: 32, value: 32 });
  const header = { general: { architecture: "llama" }, llama: { embedding_length: 4096, attention: { head_count: 32, key_length: 192, value_length: 128 } } };
  assert.deepEqual(attentionHeadSizes(header), { key: 192, value: 128 });
});

test("without flash attention the batch halves until its attention scores fit the budget", () => {
  const scores = (cells: number, batch: number, heads: number) => cells * batch * heads * 4;
  // the H100's abort: the default model's full cache at 1M tokens (1,048,627 cells, 8 heads) with batches of 2,048
  assert.ok(scores(1_048_627, 2048, 8) > 32 * 2 ** 30);
  const batch = batchForAttentionScores(2048, 1_048_627, 8);
  assert.equal(batch, 128);
  assert.ok(scores(1_048_627, batch, 8) <= ATTENTION_SCORES_BUDGET_BYTES && scores(1_048_627, batch * 2, 8) > ATTENTION_SCORES_BUDGET_BYTES);
  // bounded caches keep their whole chunk: 64 + 4,096 + 2,048 cells of the default model
  assert.equal(batchForAttentionScores(2048, 6209, 8), 2048);
  // an 8B shape (32 heads) at 64 + 65,536 + 4,096 cells without flash attention
  assert.equal(batchForAttentionScores(4096, 69_697, 32), 512);
  // never below one token
  assert.equal(batchForAttentionScores(4096, 2 ** 40, 64), 1);
});

test("CUDA graphs go off when a run would go without flash attention, unless the user set them", () => {
  assert.match(cudaGraphsOffReason(false, {})!, /CUDA graphs off/);
  assert.equal(cudaGraphsOffReason(true, {}), undefined);
  assert.equal(cudaGraphsOffReason(false, { GGML_CUDA_DISABLE_GRAPHS: "" }), undefined);
});
