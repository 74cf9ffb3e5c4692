import assert from "node:assert/strict";
import { test } from "node:test";
import { readGgufFileInfo } from "node-llama-cpp";
import { attentionHeadSizes, defaultFlashAttention } from "../../src/engine/flash-attention.js";
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
