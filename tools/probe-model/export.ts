/**
 * Probe model, step 3 of 3: writes the trained weights (train.py's F16 safetensors files) as a GGUF `llama`
 * model with the full tokenizer of llama.cpp's Llama SentencePiece vocabulary, then checks it: llama.cpp (through
 * cascade-eval's engine, on the CPU) must give the log-probabilities that PyTorch computed for two fixed
 * sequences, or the export fails.
 *
 *     node dist/tools/probe-model/export.js --from DIR [--out models/probe-llama.gguf]
 */

import { readFileSync, renameSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import { Engine } from "../../src/engine/engine.js";
import { f16BitsToF32 } from "../../src/gguf/f16.js";
import { sha256File, withDefaultVocab, writeTinyLlama } from "../../src/gguf/tiny-model.js";
import { GgmlType } from "../../src/gguf/types.js";
import type { GgufTensorData } from "../../src/gguf/writer.js";
import { createPolicy } from "../../src/policies/registry.js";

const { values } = parseArgs({
  options: {
    from: { type: "string" },
    out: { type: "string", default: "models/probe-llama.gguf" },
    embedding: { type: "string", default: "q8_0" },
    threads: { type: "string", default: "2" },
  },
});

/**
 * Mean and largest absolute log-probability difference allowed between llama.cpp and PyTorch (which computes
 * with the F16 weights). An F16 export agrees to about 0.001 nats a token; quantizing the embedding to Q8_0
 * (half the file) costs about 0.02-0.03 on its own.
 */
const TOLERANCE = { f16: { mean: 0.01, max: 0.1 }, q8_0: { mean: 0.05, max: 0.5 } };

interface TrainedModel {
  architecture: { n_layer: number; n_embd: number; n_head: number; n_head_kv: number; n_ff: number; context: number; rope_base: number; eps: number };
  parameters: number;
  seed: number;
  steps: number;
  tokens_seen: number;
  reference: { tokens: number[]; logprobs: number[] }[];
}

/** Tensors of a safetensors file: an 8-byte little-endian header size, a JSON header, then the data. */
function readSafetensors(path: string): Map<string, { shape: number[]; bytes: Uint8Array }> {
  const file = readFileSync(path);
  const headerSize = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerSize).toString("utf8")) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const tensors = new Map<string, { shape: number[]; bytes: Uint8Array }>();
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (info.dtype !== "F16") throw new Error(`${path}: ${name} is ${info.dtype}, expected F16`);
    const [begin, end] = info.data_offsets;
    tensors.set(name, { shape: info.shape, bytes: file.subarray(8 + headerSize + begin, 8 + headerSize + end) });
  }
  return tensors;
}

async function main(): Promise<void> {
  if (!values.from) throw new Error("--from DIR (train.py's output folder) is required");
  const from = resolve(values.from);
  const trained = JSON.parse(readFileSync(join(from, "model.json"), "utf8")) as TrainedModel;
  const tensors = new Map([...readSafetensors(join(from, "weights-embedding.safetensors")), ...readSafetensors(join(from, "weights-layers.safetensors"))]);
  const a = trained.architecture;

  const embedding = values.embedding!;
  if (embedding !== "q8_0" && embedding !== "f16") throw new Error(`--embedding must be q8_0 or f16`);
  const embedType = embedding === "q8_0" ? GgmlType.Q8_0 : GgmlType.F16;
  const tolerance = TOLERANCE[embedding];
  const used = new Set<string>();
  const weights = (name: string): GgufTensorData => {
    const tensor = tensors.get(name);
    if (!tensor) throw new Error(`${name} is missing from the trained weights`);
    used.add(name);
    // F16 matrices go as they are; norms (F32, as llama.cpp's converters write them) and a quantized embedding are re-encoded
    if (tensor.shape.length === 2 && (name !== "token_embd.weight" || embedType === GgmlType.F16)) return { bytes: tensor.bytes };
    const halves = new Uint16Array(tensor.bytes.buffer.slice(tensor.bytes.byteOffset, tensor.bytes.byteOffset + tensor.bytes.byteLength));
    return { values: Float32Array.from(halves, f16BitsToF32) };
  };
  const out = resolve(values.out!);
  const part = `${out}.part`;
  await withDefaultVocab((vocab) =>
    writeTinyLlama(
      part,
      vocab,
      {
        name: "cascade-eval probe (llama, 4 layers, 256 wide)",
        description:
          "A small long-context probe model trained for cascade-eval: PG19 books mixed with synthetic passkey, " +
          `key-value recall and passage-copying tasks, ${a.context.toLocaleString("en-US")}-token context. Recipe: tools/probe-model/ in cascade-eval.`,
        nLayer: a.n_layer,
        nEmbd: a.n_embd,
        nHead: a.n_head,
        nHeadKv: a.n_head_kv,
        nFf: a.n_ff,
        contextLength: a.context,
        ropeFreqBase: a.rope_base,
        rmsEps: a.eps,
        seed: trained.seed,
        std: 0,
        embedType,
        weightType: GgmlType.F16,
      },
      weights,
    ),
  );
  const unused = [...tensors.keys()].filter((name) => !used.has(name));
  if (unused.length > 0) throw new Error(`trained tensors not written: ${unused.join(", ")}`);

  // llama.cpp must compute what PyTorch computed.
  const engine = await Engine.open({ model: part, gpu: "cpu", threads: Number(values.threads) });
  for (const [index, reference] of trained.reference.entries()) {
    const policy = createPolicy({ name: "full", sinks: 0, window: 1, cascades: 1 });
    const stream = await engine.openStream({ policy, stride: 512, totalTokens: reference.tokens.length });
    const { logProbabilities } = await stream.feed(reference.tokens, { logProbabilities: true });
    await engine.closeStream(stream);
    const differences = reference.logprobs.map((expected, i) => Math.abs(expected - logProbabilities[i]!));
    const mean = differences.reduce((sum, d) => sum + d, 0) / differences.length;
    const max = Math.max(...differences);
    process.stdout.write(`reference ${index + 1}: ${reference.tokens.length} tokens, |Δ log p| mean ${mean.toFixed(5)}, max ${max.toFixed(5)}\n`);
    if (mean > tolerance.mean || max > tolerance.max) throw new Error(`llama.cpp disagrees with PyTorch on reference ${index + 1} (allowed: mean ${tolerance.mean}, max ${tolerance.max})`);
  }
  await engine.close();
  renameSync(part, out);
  process.stdout.write(`wrote ${out}\n  sha256 ${await sha256File(out)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`export: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
