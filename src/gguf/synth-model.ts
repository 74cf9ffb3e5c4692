/**
 * Synthetic models: GGUF files with a real model's tensor shapes, hyper-parameters and tokenizer, and random
 * weights (speed does not depend on the values; vLLM's "dummy" weights serve the same purpose). The weights are a
 * seeded pool of normal values, encoded once per type and tiled through every tensor from a per-tensor offset, so
 * a 16 GB file is written at disk speed rather than at the speed of a random generator.
 */

import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";

import { hash32, Random } from "../util/random.js";
import { headDimension, llama3RopeFactors, type ModelShape, type VocabularyName } from "./shapes.js";
import { hyperParameterKvs } from "./tiny-model.js";
import { extractFromLlamaCppBundle, readTokenizerMetadata } from "./tokenizer.js";
import { GgmlType, GgufValueType, ggmlTypeTraits, gguf, kv, tensorByteSize, type GgufKv } from "./types.js";
import { TENSOR_ENCODERS, writeGguf, type GgufTensorSpec, type GgufWriteResult } from "./writer.js";

export const SYNTH_TYPES = ["f16", "q8_0", "q4_0"] as const;
export type SynthType = (typeof SYNTH_TYPES)[number];

/** llama_ftype of each file type (general.file_type). */
const FILE_TYPE: Record<SynthType, number> = { f16: 1, q8_0: 7, q4_0: 2 };
const MATRIX_TYPE: Record<SynthType, GgmlType> = { f16: GgmlType.F16, q8_0: GgmlType.Q8_0, q4_0: GgmlType.Q4_0 };

/**
 * The output projection's type. llama-quantize keeps it at Q6_K for Q4_0 files; this writer has no Q6_K encoder,
 * so Q8_0 stands in (a little more memory traffic for that one matrix). Tied embeddings are the output projection.
 */
function outputType(type: SynthType): GgmlType {
  return type === "q4_0" ? GgmlType.Q8_0 : MATRIX_TYPE[type];
}

/** llama.cpp's token type for padding entries (llama_token_type UNUSED). */
const TOKEN_TYPE_UNUSED = 5;
const WEIGHT_STD = 0.02;
const POOL_VALUES = 1 << 20;

/** The tokenizer KVs with tokens (and their types and scores) padded to `size` entries, as converters pad. */
export function padTokenizer(tokenizer: readonly GgufKv[], size: number): GgufKv[] {
  const tokens = tokenizer.find((m) => m.key === "tokenizer.ggml.tokens")?.value;
  if (tokens?.type !== GgufValueType.ARRAY || tokens.itemType !== GgufValueType.STRING) throw new Error("tokenizer.ggml.tokens is missing");
  const have = tokens.value.length;
  if (have > size) throw new Error(`the tokenizer has ${have} tokens, more than the shape's ${size} embedding rows`);
  const extra = Array.from({ length: size - have }, (_, i) => have + i);
  return tokenizer.map((entry) => {
    const { key, value } = entry;
    if (value.type !== GgufValueType.ARRAY || extra.length === 0) return entry;
    if (key === "tokenizer.ggml.tokens") return kv(key, gguf.strs([...(value.value as readonly string[]), ...extra.map((id) => `[PAD${id}]`)]));
    if (key === "tokenizer.ggml.token_type")
      return kv(key, gguf.numbers(GgufValueType.INT32, [...(value.value as readonly number[]), ...extra.map(() => TOKEN_TYPE_UNUSED)]));
    if (key === "tokenizer.ggml.scores") return kv(key, gguf.numbers(GgufValueType.FLOAT32, [...(value.value as readonly number[]), ...extra.map(() => 0)]));
    return entry;
  });
}

/** Encoded random weights of one type, tiled through tensors. */
class WeightPool {
  private readonly encoded = new Map<GgmlType, Uint8Array>();

  constructor(private readonly seed: number) {}

  bytes(type: GgmlType): Uint8Array {
    let pool = this.encoded.get(type);
    if (pool === undefined) {
      const rng = new Random(this.seed, "synthetic-weights");
      const values = Float32Array.from({ length: POOL_VALUES }, () => rng.normal() * WEIGHT_STD);
      pool = new Uint8Array(tensorByteSize(type, [POOL_VALUES]));
      TENSOR_ENCODERS[type]!.encode(values, pool);
      this.encoded.set(type, pool);
    }
    return pool;
  }

  /** The tensor's bytes: the pool from a block offset chosen by the tensor's name, wrapping around. */
  *chunks(name: string, type: GgmlType, size: number): Iterable<Uint8Array> {
    const pool = this.bytes(type);
    const blockBytes = ggmlTypeTraits(type).typeSize;
    let at = (hash32(name) % (pool.length / blockBytes)) * blockBytes;
    for (let left = size; left > 0; ) {
      const n = Math.min(left, pool.length - at);
      yield pool.subarray(at, at + n);
      left -= n;
      at = (at + n) % pool.length;
    }
  }
}

/** Metadata and tensors of a synthetic model of `shape` with weights of `type` and the given tokenizer KVs. */
export function buildSyntheticModel(shape: ModelShape, type: SynthType, tokenizer: readonly GgufKv[], seed = 1): { metadata: GgufKv[]; tensors: GgufTensorSpec[] } {
  const arch = shape.architecture;
  const head = headDimension(shape);
  const metadata: GgufKv[] = [
    kv("general.architecture", gguf.str(arch)),
    kv("general.name", gguf.str(`synthetic ${shape.id} (${type}, random weights)`)),
    kv(
      "general.description",
      gguf.str(`Random weights in the exact shape of ${shape.model}, written by cascade-eval model synth for speed measurements: it produces meaningless text.`),
    ),
    kv("general.file_type", gguf.u32(FILE_TYPE[type])),
    ...(type === "f16" ? [] : [kv("general.quantization_version", gguf.u32(2))]),
    ...hyperParameterKvs(arch, {
      vocab: shape.vocabSize,
      context: shape.contextLength,
      embedding: shape.embedding,
      layers: shape.layers,
      feedForward: shape.feedForward,
      heads: shape.heads,
      kvHeads: shape.kvHeads,
      rmsEps: shape.rmsEps,
      headDim: head,
      ropeBase: shape.ropeBase,
    }),
    ...padTokenizer(tokenizer, shape.vocabSize),
  ];

  const pool = new WeightPool(seed);
  const tensors: GgufTensorSpec[] = [];
  const matrix = (name: string, inputs: number, outputs: number, matrixType: GgmlType): void => {
    const dims = [inputs, outputs];
    tensors.push({ name, dims, type: matrixType, data: { chunks: () => pool.chunks(name, matrixType, tensorByteSize(matrixType, dims)) } });
  };
  const vector = (name: string, length: number, value: number): void => {
    tensors.push({ name, dims: [length], type: GgmlType.F32, data: { fill: (out) => out.fill(value) } });
  };

  const weights = MATRIX_TYPE[type];
  matrix("token_embd.weight", shape.embedding, shape.vocabSize, shape.tiedEmbeddings ? outputType(type) : weights);
  if (shape.ropeScaling) {
    const factors = llama3RopeFactors(shape.ropeScaling, shape.ropeBase, head);
    tensors.push({ name: "rope_freqs.weight", dims: [factors.length], type: GgmlType.F32, data: { values: factors } });
  }
  for (let layer = 0; layer < shape.layers; layer++) {
    const b = `blk.${layer}`;
    vector(`${b}.attn_norm.weight`, shape.embedding, 1);
    matrix(`${b}.attn_q.weight`, shape.embedding, shape.heads * head, weights);
    matrix(`${b}.attn_k.weight`, shape.embedding, shape.kvHeads * head, weights);
    matrix(`${b}.attn_v.weight`, shape.embedding, shape.kvHeads * head, weights);
    if (shape.qkvBias) {
      vector(`${b}.attn_q.bias`, shape.heads * head, 0);
      vector(`${b}.attn_k.bias`, shape.kvHeads * head, 0);
      vector(`${b}.attn_v.bias`, shape.kvHeads * head, 0);
    }
    matrix(`${b}.attn_output.weight`, shape.heads * head, shape.embedding, weights);
    vector(`${b}.ffn_norm.weight`, shape.embedding, 1);
    matrix(`${b}.ffn_gate.weight`, shape.embedding, shape.feedForward, weights);
    matrix(`${b}.ffn_up.weight`, shape.embedding, shape.feedForward, weights);
    matrix(`${b}.ffn_down.weight`, shape.feedForward, shape.embedding, weights);
  }
  vector("output_norm.weight", shape.embedding, 1);
  if (!shape.tiedEmbeddings) matrix("output.weight", shape.embedding, shape.vocabSize, outputType(type));
  return { metadata, tensors };
}

/**
 * A llama.cpp vocabulary file: `models/ggml-vocab-NAME.gguf` from node-llama-cpp's llama.cpp source bundle,
 * extracted once into `cacheDirectory` (a machine without the bundle, like the GPU machine, gets the cached file).
 */
export async function vocabularyFile(name: VocabularyName, cacheDirectory: string): Promise<string> {
  const path = join(cacheDirectory, `ggml-vocab-${name}.gguf`);
  if (existsSync(path)) return path;
  await mkdir(cacheDirectory, { recursive: true });
  await extractFromLlamaCppBundle(`models/ggml-vocab-${name}.gguf`, path);
  return path;
}

/** Writes a synthetic model of `shape` (weights of `type`) with the tokenizer of the GGUF file `vocabPath`. */
export async function writeSyntheticModel(outPath: string, shape: ModelShape, type: SynthType, vocabPath: string, seed = 1): Promise<GgufWriteResult> {
  const { metadata, tensors } = buildSyntheticModel(shape, type, await readTokenizerMetadata(vocabPath), seed);
  return writeGguf(outPath, metadata, tensors);
}
