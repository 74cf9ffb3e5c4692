/**
 * Small Llama-architecture GGUF models with a real tokenizer: random weights, generated deterministically (test
 * fixtures of any shape; they cannot retrieve or answer anything), or trained weights handed in by the probe
 * model's export (tools/probe-model/).
 *
 *     node dist/src/gguf/tiny-model.js [--vocab <gguf with a tokenizer>] [--out <path>] [--seed <n>]
 *
 * Without `--vocab`, llama.cpp's `models/ggml-vocab-llama-spm.gguf` (the Llama SentencePiece 32k vocabulary) is
 * extracted from node-llama-cpp's llama.cpp source bundle. The default output is `tiny-random-llama.gguf` in the
 * current folder. The same seed and vocabulary give the same bytes on every run.
 */

import { createHash } from "node:crypto";
import { createReadStream, realpathSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { Random } from "../util/random.js";
import { LLAMA_SPM_VOCAB, extractFromLlamaCppBundle, readTokenizerMetadata } from "./tokenizer.js";
import { GgmlType, GgufValueType, gguf, kv, type GgufKv } from "./types.js";
import { writeGguf, type GgufTensorData, type GgufTensorSpec, type GgufWriteResult } from "./writer.js";

/** Shape and generation settings of a random-weight Llama model. */
export interface TinyLlamaConfig {
  name: string;
  description: string;
  nLayer: number;
  nEmbd: number;
  nHead: number;
  nHeadKv: number;
  nFf: number;
  contextLength: number;
  ropeFreqBase: number;
  rmsEps: number;
  /** Seed of the weights; each tensor draws from its own stream (seed, tensor name). */
  seed: number;
  /** Standard deviation of the (approximately) normal weights. */
  std: number;
  /** Type of token_embd.weight (also the output projection: embeddings are tied, there is no output.weight). */
  embedType: GgmlType.F16 | GgmlType.F32 | GgmlType.Q8_0;
  /** Type of the other matrices; norms are always F32 ones. */
  weightType: GgmlType.F16 | GgmlType.F32;
}

export const DEFAULT_SEED = 20240917;

/** The default random model (once the embedded default, before the trained probe model replaced it). */
export const TINY_LLAMA_DEFAULT: TinyLlamaConfig = {
  name: "cascade-eval tiny random (placeholder)",
  description:
    "Placeholder model with RANDOM weights (seeded, approximately normal(0, 0.02)): it produces meaningless " +
    "output and cannot retrieve or answer anything. It only lets cascade-eval run offline end to end. " +
    "Tokenizer: llama.cpp models/ggml-vocab-llama-spm.gguf (Llama SentencePiece, 32000 tokens).",
  nLayer: 2,
  nEmbd: 64,
  nHead: 4,
  nHeadKv: 2,
  nFf: 256,
  contextLength: 8192,
  ropeFreqBase: 10000,
  rmsEps: 1e-5,
  seed: DEFAULT_SEED,
  std: 0.02,
  embedType: GgmlType.F16,
  weightType: GgmlType.F16,
};

/** llama_ftype values for general.file_type. */
const LLAMA_FTYPE_ALL_F32 = 0;
const LLAMA_FTYPE_MOSTLY_F16 = 1;

function randomNormal(seed: number, name: string, std: number): (out: Float32Array, start: number) => void {
  let rng: Random | undefined;
  let next = 0;
  return (out, start) => {
    if (start === 0) rng = new Random(seed, name);
    if (rng === undefined || start !== next) throw new Error(`${name}: chunks must be requested in order`);
    for (let i = 0; i < out.length; i++) out[i] = rng.normal() * std;
    next = start + out.length;
  };
}

function ones(out: Float32Array): void {
  out.fill(1);
}

/** A decoder's hyper-parameters as llama.cpp reads them (`ARCH.*` keys), in the order llama.cpp's converter writes them. */
export function hyperParameterKvs(
  arch: string,
  p: { vocab: number; context: number; embedding: number; layers: number; feedForward: number; heads: number; kvHeads: number; rmsEps: number; headDim: number; ropeBase: number },
): GgufKv[] {
  return [
    kv(`${arch}.vocab_size`, gguf.u32(p.vocab)),
    kv(`${arch}.context_length`, gguf.u32(p.context)),
    kv(`${arch}.embedding_length`, gguf.u32(p.embedding)),
    kv(`${arch}.block_count`, gguf.u32(p.layers)),
    kv(`${arch}.feed_forward_length`, gguf.u32(p.feedForward)),
    kv(`${arch}.attention.head_count`, gguf.u32(p.heads)),
    kv(`${arch}.attention.head_count_kv`, gguf.u32(p.kvHeads)),
    kv(`${arch}.attention.layer_norm_rms_epsilon`, gguf.f32(p.rmsEps)),
    kv(`${arch}.rope.dimension_count`, gguf.u32(p.headDim)),
    kv(`${arch}.rope.freq_base`, gguf.f32(p.ropeBase)),
  ];
}

/**
 * Metadata and tensors of a Llama model with the given tokenizer KVs (`tokenizer.*`): random weights, or the
 * data `weights` gives for each tensor name (a trained model's export).
 */
export function buildTinyLlama(
  config: TinyLlamaConfig,
  tokenizer: readonly GgufKv[],
  weights?: (name: string) => GgufTensorData,
): { metadata: GgufKv[]; tensors: GgufTensorSpec[] } {
  const c = config;
  const tokens = tokenizer.find((m) => m.key === "tokenizer.ggml.tokens")?.value;
  if (tokens === undefined || tokens.type !== GgufValueType.ARRAY) throw new Error("tokenizer.ggml.tokens is missing");
  const nVocab = tokens.value.length;
  if (c.nEmbd % c.nHead !== 0) throw new Error("nEmbd must be a multiple of nHead");
  if (c.nHead % c.nHeadKv !== 0) throw new Error("nHead must be a multiple of nHeadKv");
  const headDim = c.nEmbd / c.nHead;
  const allF32 = c.embedType === GgmlType.F32 && c.weightType === GgmlType.F32;

  const arch = "llama";
  const metadata: GgufKv[] = [
    kv("general.architecture", gguf.str(arch)),
    kv("general.name", gguf.str(c.name)),
    kv("general.description", gguf.str(c.description)),
    kv("general.file_type", gguf.u32(allF32 ? LLAMA_FTYPE_ALL_F32 : LLAMA_FTYPE_MOSTLY_F16)),
    ...hyperParameterKvs(arch, {
      vocab: nVocab,
      context: c.contextLength,
      embedding: c.nEmbd,
      layers: c.nLayer,
      feedForward: c.nFf,
      heads: c.nHead,
      kvHeads: c.nHeadKv,
      rmsEps: c.rmsEps,
      headDim,
      ropeBase: c.ropeFreqBase,
    }),
    ...tokenizer,
  ];

  const tensors: GgufTensorSpec[] = [];
  const matrix = (name: string, cols: number, rows: number, type: GgmlType): void => {
    tensors.push({ name, dims: [cols, rows], type, data: weights?.(name) ?? { fill: randomNormal(c.seed, name, c.std) } });
  };
  const norm = (name: string): void => {
    tensors.push({ name, dims: [c.nEmbd], type: GgmlType.F32, data: weights?.(name) ?? { fill: ones } });
  };

  // dims are GGUF order [ne0 = input features, ne1 = output features]
  matrix("token_embd.weight", c.nEmbd, nVocab, c.embedType);
  for (let i = 0; i < c.nLayer; i++) {
    const b = `blk.${i}`;
    norm(`${b}.attn_norm.weight`);
    matrix(`${b}.attn_q.weight`, c.nEmbd, c.nHead * headDim, c.weightType);
    matrix(`${b}.attn_k.weight`, c.nEmbd, c.nHeadKv * headDim, c.weightType);
    matrix(`${b}.attn_v.weight`, c.nEmbd, c.nHeadKv * headDim, c.weightType);
    matrix(`${b}.attn_output.weight`, c.nHead * headDim, c.nEmbd, c.weightType);
    norm(`${b}.ffn_norm.weight`);
    matrix(`${b}.ffn_gate.weight`, c.nEmbd, c.nFf, c.weightType);
    matrix(`${b}.ffn_up.weight`, c.nEmbd, c.nFf, c.weightType);
    matrix(`${b}.ffn_down.weight`, c.nFf, c.nEmbd, c.weightType);
  }
  norm("output_norm.weight");
  return { metadata, tensors };
}

/** Writes a Llama model (random weights unless `weights` gives them) with the tokenizer of the GGUF file `vocabPath`. */
export async function writeTinyLlama(
  outPath: string,
  vocabPath: string,
  config: TinyLlamaConfig = TINY_LLAMA_DEFAULT,
  weights?: (name: string) => GgufTensorData,
): Promise<GgufWriteResult> {
  const tokenizer = await readTokenizerMetadata(vocabPath);
  const { metadata, tensors } = buildTinyLlama(config, tokenizer, weights);
  return writeGguf(outPath, metadata, tensors);
}

/**
 * Extracts llama.cpp's Llama SentencePiece vocabulary from node-llama-cpp's bundle into a temporary folder and
 * passes its path to `use`; the folder is removed afterwards.
 */
export async function withDefaultVocab<T>(use: (vocabPath: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "cascade-eval-vocab-"));
  try {
    const vocab = join(dir, "ggml-vocab-llama-spm.gguf");
    await extractFromLlamaCppBundle(LLAMA_SPM_VOCAB, vocab);
    return await use(vocab);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

const USAGE = `usage: node dist/src/gguf/tiny-model.js [--vocab <gguf>] [--out <path>] [--seed <n>]

Writes a tiny random-weight Llama model (default: tiny-random-llama.gguf in the current folder).
  --vocab  GGUF file whose tokenizer.* metadata is copied (default: llama.cpp's
           models/ggml-vocab-llama-spm.gguf, extracted from node-llama-cpp's source bundle; needs git)
  --out    output path
  --seed   weight seed (default ${DEFAULT_SEED})`;

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  let values: { vocab?: string; out?: string; seed?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        vocab: { type: "string" },
        out: { type: "string" },
        seed: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const config = { ...TINY_LLAMA_DEFAULT };
  if (values.seed !== undefined) {
    const seed = Number(values.seed);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      process.stderr.write(`--seed must be an integer in [0, 2^32)\n`);
      return 2;
    }
    config.seed = seed;
  }
  const out = resolve(values.out ?? "tiny-random-llama.gguf");
  await mkdir(dirname(out), { recursive: true });
  const started = performance.now();
  const result =
    values.vocab !== undefined
      ? await writeTinyLlama(out, resolve(values.vocab), config)
      : await withDefaultVocab((vocab) => writeTinyLlama(out, vocab, config));
  const { size } = await stat(out);
  const sha = await sha256File(out);
  process.stdout.write(
    `wrote ${result.path}\n  tensors ${result.tensors.length}, size ${size} bytes, sha256 ${sha}\n` +
      `  ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
  return 0;
}

function isMain(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
