import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";

import { getLlama } from "node-llama-cpp";

import { getKv, readGgufHeader, readTensorBytes } from "../../src/gguf/reader.js";
import { TINY_LLAMA_DEFAULT, sha256File, writeTinyLlama, type TinyLlamaConfig } from "../../src/gguf/tiny-model.js";
import { GgmlType, GgufValueType } from "../../src/gguf/types.js";
import { spmVocabFolder } from "./helpers.js";

/** A smaller variant of the default model, quick to write and load. */
const SMALL: TinyLlamaConfig = {
  ...TINY_LLAMA_DEFAULT,
  nLayer: 1,
  nEmbd: 32,
  nHead: 2,
  nHeadKv: 1,
  nFf: 64,
  contextLength: 512,
};

const fixture = spmVocabFolder();

test("the same seed gives the same bytes; another seed other weights", async () => {
  const a = join(fixture.dir, "a.gguf");
  const b = join(fixture.dir, "b.gguf");
  const c = join(fixture.dir, "c.gguf");
  await writeTinyLlama(a, fixture.vocab, SMALL);
  await writeTinyLlama(b, fixture.vocab, SMALL);
  await writeTinyLlama(c, fixture.vocab, { ...SMALL, seed: SMALL.seed + 1 });
  const [ba, bb, bc] = await Promise.all([readFile(a), readFile(b), readFile(c)]);
  assert.ok(ba.equals(bb), "byte-identical across runs");
  assert.equal(ba.length, bc.length);
  assert.ok(!ba.equals(bc), "the seed changes the weights");
});

test("the small model loads in node-llama-cpp and evaluates tokens", async () => {
  const path = join(fixture.dir, "load.gguf");
  await writeTinyLlama(path, fixture.vocab, SMALL);
  const llama = await getLlama({ gpu: false, build: "never" });
  try {
    const model = await llama.loadModel({ modelPath: path });
    try {
      assert.equal(model.trainContextSize, SMALL.contextLength);
      const context = await model.createContext({ contextSize: 256, threads: 2 });
      try {
        const sequence = context.getSequence();
        const tokens = model.tokenize("Hello world", true);
        assert.deepEqual(tokens, [15043, 3186], "the Llama SPM tokenizer is in place");
        await sequence.evaluateWithoutGeneratingNewTokens(tokens);
        assert.equal(sequence.nextTokenIndex, tokens.length);
        assert.equal(model.detokenize(tokens), "Hello world");
      } finally {
        await context.dispose();
      }
    } finally {
      await model.dispose();
    }
  } finally {
    await llama.dispose();
  }
});

test("the default model has the documented shape and stays small", async () => {
  const path = join(fixture.dir, "default.gguf");
  const written = await writeTinyLlama(path, fixture.vocab);
  const info = await readGgufHeader(path);
  const u32 = (key: string): unknown => getKv(info.metadata, key)?.value;
  assert.equal(u32("general.architecture"), "llama");
  assert.equal(u32("general.name"), "cascade-eval tiny random (placeholder)");
  assert.match(String(u32("general.description")), /RANDOM weights/);
  assert.equal(u32("llama.block_count"), 2);
  assert.equal(u32("llama.embedding_length"), 64);
  assert.equal(u32("llama.attention.head_count"), 4);
  assert.equal(u32("llama.attention.head_count_kv"), 2);
  assert.equal(u32("llama.feed_forward_length"), 256);
  assert.equal(u32("llama.context_length"), 8192);
  assert.equal(u32("llama.rope.freq_base"), 10000);
  assert.equal(u32("llama.attention.layer_norm_rms_epsilon"), Math.fround(1e-5));
  assert.equal(getKv(info.metadata, "llama.rope.freq_base")?.type, GgufValueType.FLOAT32);
  assert.ok(!info.tensors.some((t) => t.name === "output.weight"), "embeddings are tied");
  assert.equal(info.tensors.find((t) => t.name === "token_embd.weight")?.type, GgmlType.F16);
  assert.deepEqual(info.tensors.find((t) => t.name === "token_embd.weight")?.dims, [64, 32000]);
  const norm = await readTensorBytes(path, info, "output_norm.weight");
  assert.deepEqual([...new Float32Array(norm.buffer, norm.byteOffset, 64)], new Array(64).fill(1));
  assert.ok(written.fileSize < 6_000_000, `${written.fileSize} bytes`);

  // the same bytes as the model once committed as the embedded default (models/README.md keeps its card)
  assert.equal(written.fileSize, 5_068_480);
  assert.equal(await sha256File(path), "6e9ac0d3321f8db6dfe75ac9f4110882e73c601c71ebf80ceb82deda28b9ceb5");
});
