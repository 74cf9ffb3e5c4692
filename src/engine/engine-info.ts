/** What the engine reports about the hardware, the binaries and the model: records and speed tables name these. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Llama, LlamaModel } from "node-llama-cpp";
import { nodeLlamaCppRoot } from "../util/paths.js";
import type { EvictionPath } from "./extension-runtime.js";
import type { ModelInfo } from "./model.js";

export interface HardwareInfo {
  gpu: string | false;
  threads: number;
  llamaCppRelease: string;
  flashAttention: boolean;
  /** Why flash attention is off on a GPU by default (see defaultFlashAttention). */
  flashAttentionNote?: string;
  /** Set when the engine turned llama.cpp's CUDA graphs off (see cudaGraphsOffReason). */
  cudaGraphsNote?: string;
  /** cascade-eval extensions found in the loaded binaries, and the eviction path streams take. */
  extensions: string[];
  eviction: EvictionPath;
  /** Whether llama.cpp measures attention for the policies that rank tokens by it (the attention-scores extension). */
  attentionScores: boolean;
  /** Whether it measures them without materializing the attention weights (attention-scores v2 and later; see fusedAttentionScores). */
  attentionScoresFused: boolean;
  /** Whether streams time the phases of llama.cpp's decode (decode-timings extension, asked for). */
  decodeTimings: boolean;
  /** Whether llama.cpp's KV cache takes the faster host code (host-fast-path extension; CASCADE_EVAL_EXTENSIONS=off: no). */
  hostFastPath: boolean;
}

export type KvCacheType = "F16" | "F32";

/** llama_ftype names of general.file_type (the common ones). */
const FILE_TYPES: Record<number, string> = { 0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 12: "Q3_K_M", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 32: "BF16" };

function fileTypeName(value: unknown): string {
  return typeof value === "number" ? (FILE_TYPES[value] ?? `type ${value}`) : "not stated";
}

function nodeLlamaCppVersion(): string {
  return (JSON.parse(readFileSync(join(nodeLlamaCppRoot(), "package.json"), "utf8")) as { version: string }).version;
}

/** What a speed measurement says about the machine and the binaries that produced it. */
export interface BuildInfo {
  gpuDevices: string[];
  vramTotalBytes: number | null;
  llamaCpp: { repo: string; release: string };
  binaries: "localBuild" | "prebuilt";
  nodeLlamaCppVersion: string;
  kvCacheTypes: { key: KvCacheType; value: KvCacheType };
}

/** Memory in use now: the GPU's (every process on it; null without a GPU) and this process's resident set. */
export interface MemoryUsage {
  vramUsedBytes: number | null;
  hostRssBytes: number;
}

export async function buildInfo(llama: Llama, kvCacheType: KvCacheType): Promise<BuildInfo> {
  const gpu = llama.gpu !== false;
  return {
    gpuDevices: gpu ? await llama.getGpuDeviceNames() : [],
    vramTotalBytes: gpu ? (await llama.getVramState()).total : null,
    llamaCpp: { ...llama.llamaCppRelease },
    binaries: llama.buildType,
    nodeLlamaCppVersion: nodeLlamaCppVersion(),
    kvCacheTypes: { key: kvCacheType, value: kvCacheType },
  };
}

export async function memoryUsage(llama: Llama): Promise<MemoryUsage> {
  const hostRssBytes = process.memoryUsage.rss();
  if (llama.gpu === false) return { vramUsedBytes: null, hostRssBytes };
  return { vramUsedBytes: (await llama.getVramState()).used, hostRssBytes };
}

/** Model hyper-parameters from the GGUF header, as a speed record names the shape. */
export function modelShape(model: LlamaModel, info: ModelInfo): Record<string, number | string> {
  const metadata = model.fileInfo.metadata as unknown as Record<string, Record<string, unknown>>;
  const architecture = info.architecture;
  const section = (metadata[architecture] ?? {}) as Record<string, unknown>;
  const attention = (section.attention ?? {}) as Record<string, unknown>;
  const number = (value: unknown) => (typeof value === "number" ? value : Number.NaN);
  return {
    architecture,
    layers: number(section.block_count),
    embedding: number(section.embedding_length),
    heads: number(attention.head_count),
    kvHeads: number(attention.head_count_kv ?? attention.head_count),
    feedForward: number(section.feed_forward_length),
    vocabulary: info.vocabularySize,
    trainedContext: info.trainContextSize,
    fileType: fileTypeName((metadata.general ?? {}).file_type),
  };
}
