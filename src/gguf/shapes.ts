/**
 * The shapes of real models, for synthetic (random-weight) GGUF files whose speed matches the real ones:
 * evaluation time depends on tensor shapes, types and hyper-parameters, never on the weight values. Figures are
 * the published configs (Hugging Face config.json of each model); the tokenizer is llama.cpp's vocabulary file
 * of the same family, padded to the model's embedding rows where the model pads them.
 */

/** llama.cpp's vocabulary files (`models/ggml-vocab-NAME.gguf` in its source) that the shapes use. */
export const VOCABULARIES = ["llama-spm", "llama-bpe", "qwen2"] as const;
export type VocabularyName = (typeof VOCABULARIES)[number];

/** Llama 3.1's frequency-dependent RoPE rescaling (written as `rope_freqs.weight`, as llama.cpp's converter does). */
export interface Llama3RopeScaling {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalContext: number;
}

export interface ModelShape {
  id: string;
  /** The model whose shape this is. */
  model: string;
  architecture: "llama" | "qwen2";
  vocabulary: VocabularyName;
  /** Rows of the embedding matrix (≥ the vocabulary's tokens; the tokenizer is padded to it). */
  vocabSize: number;
  layers: number;
  embedding: number;
  heads: number;
  kvHeads: number;
  feedForward: number;
  contextLength: number;
  ropeBase: number;
  rmsEps: number;
  /** The output projection is the embedding matrix (no `output.weight`). */
  tiedEmbeddings: boolean;
  /** Biases on the Q, K and V projections (Qwen2). */
  qkvBias: boolean;
  ropeScaling?: Llama3RopeScaling;
}

const LLAMA_31_ROPE: Llama3RopeScaling = { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 };
const LLAMA_32_ROPE: Llama3RopeScaling = { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 };

const llama3 = { architecture: "llama", vocabulary: "llama-bpe", vocabSize: 128256, contextLength: 131072, ropeBase: 500000, rmsEps: 1e-5, qkvBias: false } as const;
const qwen25 = { architecture: "qwen2", vocabulary: "qwen2", contextLength: 32768, ropeBase: 1000000, rmsEps: 1e-6, qkvBias: true } as const;

export const MODEL_SHAPES: readonly ModelShape[] = [
  {
    id: "tiny",
    model: "a 2-layer Llama of width 64 (tests and smoke runs)",
    architecture: "llama",
    vocabulary: "llama-spm",
    vocabSize: 32000,
    layers: 2,
    embedding: 64,
    heads: 4,
    kvHeads: 2,
    feedForward: 256,
    contextLength: 8192,
    ropeBase: 10000,
    rmsEps: 1e-5,
    tiedEmbeddings: true,
    qkvBias: false,
  },
  { id: "llama-3.2-1b", model: "Llama 3.2 1B", ...llama3, layers: 16, embedding: 2048, heads: 32, kvHeads: 8, feedForward: 8192, tiedEmbeddings: true, ropeScaling: LLAMA_32_ROPE },
  { id: "llama-3.2-3b", model: "Llama 3.2 3B", ...llama3, layers: 28, embedding: 3072, heads: 24, kvHeads: 8, feedForward: 8192, tiedEmbeddings: true, ropeScaling: LLAMA_32_ROPE },
  { id: "llama-3.1-8b", model: "Llama 3.1 8B", ...llama3, layers: 32, embedding: 4096, heads: 32, kvHeads: 8, feedForward: 14336, tiedEmbeddings: false, ropeScaling: LLAMA_31_ROPE },
  {
    id: "llama-2-7b",
    model: "Llama 2 7B",
    architecture: "llama",
    vocabulary: "llama-spm",
    vocabSize: 32000,
    layers: 32,
    embedding: 4096,
    heads: 32,
    kvHeads: 32,
    feedForward: 11008,
    contextLength: 4096,
    ropeBase: 10000,
    rmsEps: 1e-5,
    tiedEmbeddings: false,
    qkvBias: false,
  },
  { id: "qwen2.5-1.5b", model: "Qwen2.5 1.5B", ...qwen25, vocabSize: 151936, layers: 28, embedding: 1536, heads: 12, kvHeads: 2, feedForward: 8960, tiedEmbeddings: true },
  { id: "qwen2.5-7b", model: "Qwen2.5 7B", ...qwen25, vocabSize: 152064, layers: 28, embedding: 3584, heads: 28, kvHeads: 4, feedForward: 18944, tiedEmbeddings: false },
];

export function findShape(id: string): ModelShape | undefined {
  return MODEL_SHAPES.find((shape) => shape.id === id);
}

export function headDimension(shape: ModelShape): number {
  return shape.embedding / shape.heads;
}

/** Parameters of the shape (embeddings counted once when tied). */
export function parameterCount(shape: ModelShape): number {
  const head = headDimension(shape);
  const kv = shape.kvHeads * head;
  const attention = shape.embedding * (shape.heads * head) * 2 + shape.embedding * kv * 2 + (shape.qkvBias ? shape.heads * head + 2 * kv : 0);
  const feedForward = 3 * shape.embedding * shape.feedForward;
  const perLayer = attention + feedForward + 2 * shape.embedding;
  const embeddings = shape.vocabSize * shape.embedding * (shape.tiedEmbeddings ? 1 : 2);
  return shape.layers * perLayer + embeddings + shape.embedding;
}

/** Bytes of K and V per cached token with an F16 cache (what a cache of N tokens costs on the GPU). */
export function kvBytesPerToken(shape: ModelShape): number {
  return 2 * shape.layers * shape.kvHeads * headDimension(shape) * 2;
}

/**
 * Llama 3's per-frequency RoPE divisors, as llama.cpp's converter computes `rope_freqs.weight`: high frequencies
 * (wavelength below originalContext / highFreqFactor) keep 1, low ones (above originalContext / lowFreqFactor)
 * get `factor`, the band between is interpolated.
 */
export function llama3RopeFactors(scaling: Llama3RopeScaling, ropeBase: number, headDim: number): Float32Array {
  const { factor, lowFreqFactor, highFreqFactor, originalContext } = scaling;
  const lowWavelength = originalContext / lowFreqFactor;
  const highWavelength = originalContext / highFreqFactor;
  const factors = new Float32Array(headDim / 2);
  for (let i = 0; i < headDim / 2; i++) {
    const frequency = 1 / ropeBase ** ((2 * i) / headDim);
    const wavelength = (2 * Math.PI) / frequency;
    if (wavelength < highWavelength) factors[i] = 1;
    else if (wavelength > lowWavelength) factors[i] = factor;
    else {
      const smooth = (originalContext / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      factors[i] = 1 / ((1 - smooth) / factor + smooth);
    }
  }
  return factors;
}
