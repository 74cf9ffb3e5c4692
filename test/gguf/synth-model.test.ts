import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";

import { getLlama } from "node-llama-cpp";

import { readGgufHeader, getKv } from "../../src/gguf/reader.js";
import { findShape, kvBytesPerToken, llama3RopeFactors, MODEL_SHAPES, parameterCount, type ModelShape } from "../../src/gguf/shapes.js";
import { buildSyntheticModel, padTokenizer, SYNTH_TYPES, writeSyntheticModel } from "../../src/gguf/synth-model.js";
import { readTokenizerMetadata } from "../../src/gguf/tokenizer.js";
import { GgmlType, GgufValueType, gguf, kv, tensorElementCount } from "../../src/gguf/types.js";
import { TENSOR_ENCODERS } from "../../src/gguf/writer.js";
import { f16BitsToF32 } from "../../src/gguf/f16.js";
import { spmVocabFolder } from "./helpers.js";

const fixture = spmVocabFolder();

const shape = (id: string): ModelShape => findShape(id)!;

/** A tokenizer of `n` tokens, enough for shapes' tensor lists without reading a real vocabulary. */
function fakeTokenizer(n: number) {
  return [
    kv("tokenizer.ggml.model", gguf.str("gpt2")),
    kv("tokenizer.ggml.tokens", gguf.strs(Array.from({ length: n }, (_, i) => `t${i}`))),
    kv("tokenizer.ggml.token_type", gguf.numbers(GgufValueType.INT32, new Array<number>(n).fill(1))),
  ];
}

test("parameter counts equal the published ones (tensor lists of the real shapes)", () => {
  // Published totals: Llama 3.1 8B 8,030,261,248; Llama 3.2 1B 1,235,814,400; Llama 2 7B 6,738,415,616.
  const published: Record<string, number> = { "llama-3.1-8b": 8_030_261_248, "llama-3.2-1b": 1_235_814_400, "llama-2-7b": 6_738_415_616 };
  for (const [id, count] of Object.entries(published)) assert.equal(parameterCount(shape(id)), count, id);
  for (const each of MODEL_SHAPES) {
    const { tensors } = buildSyntheticModel(each, "f16", fakeTokenizer(each.vocabSize));
    const elements = tensors.filter((t) => t.name !== "rope_freqs.weight").reduce((sum, t) => sum + tensorElementCount(t.dims), 0);
    assert.equal(elements, parameterCount(each), `${each.id}: tensors hold the counted parameters`);
  }
  assert.equal(kvBytesPerToken(shape("llama-3.1-8b")) * 2 ** 20, 128 * 2 ** 30, "the 8B shape's F16 cache at 1M tokens is 128 GiB");
});

test("tensor types per file type: Q4_0 matrices keep a Q8_0 output projection; Qwen2 has QKV biases", () => {
  const types = (id: string, type: (typeof SYNTH_TYPES)[number]) =>
    new Map(buildSyntheticModel(shape(id), type, fakeTokenizer(shape(id).vocabSize)).tensors.map((t) => [t.name, t.type]));
  const q4 = types("llama-3.1-8b", "q4_0");
  assert.equal(q4.get("blk.0.ffn_up.weight"), GgmlType.Q4_0);
  assert.equal(q4.get("token_embd.weight"), GgmlType.Q4_0);
  assert.equal(q4.get("output.weight"), GgmlType.Q8_0);
  assert.equal(q4.get("blk.31.attn_norm.weight"), GgmlType.F32);
  assert.equal(types("llama-3.2-1b", "q4_0").get("token_embd.weight"), GgmlType.Q8_0, "tied embeddings are the output projection");
  assert.equal(types("llama-3.2-1b", "q8_0").has("output.weight"), false);
  const qwen = types("qwen2.5-7b", "f16");
  assert.equal(qwen.get("blk.27.attn_k.bias"), GgmlType.F32);
  assert.equal(qwen.get("output.weight"), GgmlType.F16);
});

test("the tokenizer is padded to the embedding rows with unused [PAD] tokens", () => {
  const padded = padTokenizer(fakeTokenizer(5), 8);
  const tokens = padded.find((m) => m.key === "tokenizer.ggml.tokens")!.value;
  const kinds = padded.find((m) => m.key === "tokenizer.ggml.token_type")!.value;
  assert.deepEqual(tokens.type === GgufValueType.ARRAY && tokens.value, ["t0", "t1", "t2", "t3", "t4", "[PAD5]", "[PAD6]", "[PAD7]"]);
  assert.deepEqual(kinds.type === GgufValueType.ARRAY && kinds.value, [1, 1, 1, 1, 1, 5, 5, 5]);
  assert.throws(() => padTokenizer(fakeTokenizer(9), 8), /9 tokens, more than the shape's 8/);
});

test("Llama 3 RoPE factors: 1 for high frequencies, the factor for low ones, a smooth band between", () => {
  const factors = llama3RopeFactors({ factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 }, 500000, 128);
  assert.equal(factors.length, 64);
  assert.equal(factors[0], 1);
  assert.equal(factors[63], 8);
  for (let i = 1; i < 64; i++) assert.ok(factors[i]! >= factors[i - 1]!, "non-decreasing");
  const band = [...factors].filter((f) => f > 1 && f < 8);
  assert.ok(band.length > 0 && band.length < 20, `a narrow interpolated band (${band.length})`);
});

test("q4_0: d = (value of largest magnitude) / -8, quants min(15, trunc(x/d + 8.5)), low nibbles first", () => {
  const block = new Float32Array(32);
  block.set([-8, 4, 0, 1, -1, 8, 7.4]); // d = -8 / -8 = 1: the first of the largest magnitudes (-8, not 8) wins
  block[16] = 2; // high nibble of byte 0
  const bytes = new Uint8Array(18);
  TENSOR_ENCODERS[GgmlType.Q4_0]!.encode(block, bytes);
  assert.equal(f16BitsToF32(bytes[0]! | (bytes[1]! << 8)), 1);
  const low = (j: number) => bytes[2 + j]! & 15;
  const high = (j: number) => bytes[2 + j]! >> 4;
  // x/d + 8.5 truncated, capped at 15: -8 → 0, 4 → 12, 0 → 8, 1 → 9, -1 → 7, 8 → 16 → 15, 7.4 → 15
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map(low), [0, 12, 8, 9, 7, 15, 15]);
  assert.equal(high(0), 10, "2 → 10.5 → 10");
  assert.equal(high(1), 8, "zeros sit at 8");
  const positive = new Float32Array(32).fill(0.5);
  positive[3] = 2; // largest magnitude positive: d = -0.25, x/d = -8 for it
  TENSOR_ENCODERS[GgmlType.Q4_0]!.encode(positive, bytes);
  assert.equal(f16BitsToF32(bytes[0]! | (bytes[1]! << 8)), -0.25);
  assert.equal(low(3), 0);
  assert.equal(low(0), 6, "0.5 / -0.25 = -2 → 6.5 → 6");
});

test("the tiny shape in every type: header as the shape says, loads in node-llama-cpp and evaluates", async () => {
  const tokenizer = await readTokenizerMetadata(fixture.vocab);
  const llama = await getLlama({ gpu: false, build: "never" });
  try {
    for (const type of SYNTH_TYPES) {
      const path = join(fixture.dir, `tiny-${type}.gguf`);
      const written = await writeSyntheticModel(path, shape("tiny"), type, fixture.vocab);
      assert.match(written.sha256, /^[0-9a-f]{64}$/);
      const header = await readGgufHeader(path);
      const dims = new Map(header.tensors.map((t) => [t.name, t.dims]));
      assert.deepEqual(dims.get("blk.1.attn_k.weight"), [64, 32], "2 KV heads of 16");
      assert.deepEqual(dims.get("token_embd.weight"), [64, 32000]);
      assert.equal(getKv(header.metadata, "llama.attention.head_count_kv")?.value, 2);
      const tokens = getKv(header.metadata, "tokenizer.ggml.tokens");
      assert.equal(tokens?.type === GgufValueType.ARRAY && tokens.value.length, tokenizer.length > 0 ? 32000 : 0);

      const model = await llama.loadModel({ modelPath: path });
      try {
        const context = await model.createContext({ contextSize: 256, threads: 1 });
        const sequence = context.getSequence();
        const input = model.tokenize("Once upon a time there was a synthetic model.");
        const outputs = await sequence.controlledEvaluate([...input.slice(0, -1), [input.at(-1)!, { generateNext: { token: true, probabilities: true } }]]);
        const probabilities = [...(outputs.at(-1)?.next.probabilities?.values() ?? [])];
        assert.ok(probabilities.length > 0 && probabilities.every(Number.isFinite), `${type}: finite next-token probabilities`);
        await context.dispose();
      } finally {
        await model.dispose();
      }
    }
  } finally {
    await llama.dispose();
  }
});
