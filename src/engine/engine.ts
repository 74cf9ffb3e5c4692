import type { Llama, LlamaContext, LlamaModel, Token } from "node-llama-cpp";
import { UsageError } from "../errors.js";
import type { CachePolicy } from "../policies/policy.js";
import { openLlama, physicalCoreCount, takeLlamaError, type GpuChoice } from "./llama.js";
import { describeModel, loadModel, modelSha256, readModelMetadata, resolveModelPath, type ModelInfo } from "./model.js";
import { ContextShiftError, PolicyStream } from "./stream.js";
import { activeExtensions, evictionPath, setAttentionScores, setDecodeTimings, type EvictionPath } from "./extensions.js";
import { ATTENTION_SCORES_BUDGET_BYTES, attentionHeadSizes, batchForAttentionScores, cudaGraphsOffReason, defaultFlashAttention } from "./flash-attention.js";
import { Rng } from "../util/rng.js";
import { nodeLlamaCppRoot } from "../gguf/tokenizer.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface EngineOptions {
  /** A GGUF path or a model URI node-llama-cpp resolves (`hf:…`, URLs). */
  model: string;
  gpu?: GpuChoice;
  /** CPU threads; default: physical cores. */
  threads?: number;
  /** Where downloaded models go; default: node-llama-cpp's models folder. */
  modelsDirectory?: string;
  /** llama.cpp's flash-attention kernels; default: on a GPU only. */
  flashAttention?: boolean;
  /** Use cascade-eval's llama.cpp extensions when the binaries have them; default: yes unless CASCADE_EVAL_EXTENSIONS=off. */
  extensions?: boolean;
  /** Element type of the cached keys and values; default F16 (node-llama-cpp's). F32 serves exactness checks. */
  kvCacheType?: KvCacheType;
  /** Time the phases of llama.cpp's decode where the binaries have the decode-timings extension (the bench does). */
  decodeTimings?: boolean;
}

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

export interface StreamRequest {
  policy: CachePolicy;
  stride: number;
  /** Tokens the stream will see in all (prompt and generation); sizes the full cache. */
  totalTokens: number;
}

/**
 * Idle contexts kept for reuse beyond the ones in use: a run alternates between a few cache sizes, and allocating a
 * KV cache is slow. Streams open at the same time each get their own context.
 */
const IDLE_CONTEXTS_KEPT = 2;

/** The only code that talks to node-llama-cpp: loads the model and hands out policy-driven token streams. */
export class Engine {
  /**
   * Contexts no stream uses, least recently used first, with the size they were asked for (node-llama-cpp rounds
   * the size it reports up to a multiple of 256).
   */
  private readonly idle: { size: number; batch: number; context: LlamaContext }[] = [];
  private readonly inUse = new Map<LlamaContext, { size: number; batch: number }>();
  /** The vocabulary without special tokens, listed on the first `sampleTokens`. */
  private ordinaryTokens: number[] | undefined;

  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    readonly modelInfo: ModelInfo,
    readonly hardware: HardwareInfo,
    private readonly kvCacheType: KvCacheType,
  ) {}

  static async open(options: EngineOptions): Promise<Engine> {
    const path = await resolveModelPath(options.model, options.modelsDirectory);
    const headSizes = attentionHeadSizes(await readModelMetadata(path));
    // decided before llama.cpp's CUDA backend starts, which reads the variable once (harmless on other backends)
    const graphsOff = cudaGraphsOffReason(options.flashAttention ?? defaultFlashAttention("cuda", headSizes).enabled, process.env);
    if (graphsOff !== undefined) process.env.GGML_CUDA_DISABLE_GRAPHS = "1";
    // llama.cpp reads it once per process, at the first decode: only the process-wide switch can set it
    if (process.env.CASCADE_EVAL_EXTENSIONS === "off") process.env.CASCADE_EVAL_STOCK_HOST_PATH = "1";
    const llama = await openLlama(options.gpu ?? "auto");
    const model = await loadModel(llama, path);
    const info = describeModel(options.model, path, await modelSha256(path), model);
    const extensions = activeExtensions(llama);
    const useExtensions = options.extensions ?? process.env.CASCADE_EVAL_EXTENSIONS !== "off";
    const flash = options.flashAttention === undefined ? defaultFlashAttention(llama.gpu, headSizes) : { enabled: options.flashAttention };
    const cudaGraphsNote = llama.gpu === "cuda" ? graphsOff : undefined;
    const hardware: HardwareInfo = {
      gpu: llama.gpu,
      threads: options.threads ?? physicalCoreCount(),
      llamaCppRelease: llama.llamaCppRelease.release,
      flashAttention: flash.enabled,
      ...(flash.reason === undefined ? {} : { flashAttentionNote: flash.reason }),
      ...(cudaGraphsNote === undefined ? {} : { cudaGraphsNote }),
      extensions,
      eviction: evictionPath(useExtensions ? extensions : []),
      attentionScores: useExtensions && extensions.includes("attention-scores"),
      decodeTimings: (options.decodeTimings ?? false) && useExtensions && extensions.includes("decode-timings"),
      hostFastPath: extensions.includes("host-fast-path") && process.env.CASCADE_EVAL_STOCK_HOST_PATH === undefined,
    };
    return new Engine(llama, model, info, hardware, options.kvCacheType ?? "F16");
  }

  tokenize(text: string, specialTokens = false): number[] {
    return this.model.tokenize(text, specialTokens);
  }

  /** Tokens of a whole document as the model reads it from its start: BOS (when the model has one), then the text. */
  tokenizeDocument(text: string): number[] {
    const bos = this.model.tokens.bos;
    return bos === null ? this.tokenize(text) : [bos, ...this.tokenize(text)];
  }

  detokenize(tokens: readonly number[]): string {
    return this.model.detokenize(tokens as readonly Token[]);
  }

  /** The text of tokens without the special ones (BOS, EOS, control tokens), as transformers' skip_special_tokens decodes. */
  detokenizeText(tokens: readonly number[]): string {
    return this.model.detokenize((tokens as readonly Token[]).filter((token) => !this.model.isSpecialToken(token)));
  }

  /** The model's native object, for prompt builders that need its chat template (read-only use). */
  get llamaModel(): LlamaModel {
    return this.model;
  }

  /** Context cells a stream needs: the cache after a chunk, one chunk, and the one cell node-llama-cpp keeps free. */
  static contextSizeFor(request: StreamRequest): number {
    const { policy, stride, totalTokens } = request;
    return Number.isFinite(policy.capacity) ? policy.capacity + stride + 1 : totalTokens + 1;
  }

  /** Tokens per llama.cpp batch: a whole chunk, up to 4,096 on a GPU and 512 on the CPU. */
  static batchSizeFor(stride: number, gpu: string | false): number {
    return Math.min(stride, gpu ? 4096 : 512);
  }

  /**
   * Tokens per llama.cpp batch in a context of `cells`: the nominal batch, smaller when the attention weights that
   * llama.cpp materializes would not fit (without flash attention, or when the policy's scores are measured).
   */
  contextBatchSize(cells: number, stride: number, scores = false): number {
    const batch = Engine.batchSizeFor(stride, this.hardware.gpu);
    return this.hardware.flashAttention && !scores ? batch : batchForAttentionScores(batch, cells, Number(this.modelShape().heads));
  }

  /** Whether a stream of this policy gets llama.cpp's attention measurements. */
  private measuresAttention(policy: CachePolicy): boolean {
    return policy.attentionDecay !== undefined && this.hardware.attentionScores;
  }

  /**
   * Checks a request against the model before any work starts, with the message a user can act on. Returns notes
   * worth saying: the full cache outgrowing the trained context (allowed, as the paper's baseline), a smaller batch.
   */
  validate(request: StreamRequest): string[] {
    const { policy } = request;
    const { sinks, window, name } = policy.config;
    const cells = Engine.contextSizeFor(request);
    const batch = this.contextBatchSize(cells, request.stride, this.measuresAttention(policy));
    const notes =
      batch < Engine.batchSizeFor(request.stride, this.hardware.gpu)
        ? [`${name}: batches of ${batch} tokens in its ${cells}-cell context, so that the attention weights llama.cpp materializes stay under ${ATTENTION_SCORES_BUDGET_BYTES / 2 ** 30} GiB`]
        : [];
    if (!Number.isFinite(policy.capacity)) {
      const trained = this.modelInfo.trainContextSize;
      if (request.totalTokens > trained) notes.unshift(`full cache of ${request.totalTokens} tokens exceeds the model's trained context of ${trained}`);
      return notes;
    }
    const needed = sinks + window + request.stride;
    if (needed > this.modelInfo.trainContextSize)
      throw new UsageError(
        `model context ${this.modelInfo.trainContextSize} is too short for ${name}: --sinks ${sinks} + --window ${window} + --stride ${request.stride} = ${needed}`,
      );
    if (sinks === 0) throw new UsageError(`--sinks 0 is not supported: removing the first cached token makes node-llama-cpp re-evaluate the whole cache`);
    return notes;
  }

  async openStream(request: StreamRequest): Promise<PolicyStream> {
    this.validate(request);
    const scores = this.measuresAttention(request.policy);
    const size = Engine.contextSizeFor(request);
    const context = await this.contextOfSize(size, this.contextBatchSize(size, request.stride, scores));
    // contexts are reused: a policy without scores turns the measurement off again
    setAttentionScores(context, scores ? request.policy.attentionDecay : undefined);
    setDecodeTimings(context, this.hardware.decodeTimings);
    const sequence = context.getSequence({
      contextShift: {
        strategy: () => {
          throw new ContextShiftError("node-llama-cpp tried to shift the context during a policy run");
        },
      },
    });
    return new PolicyStream(sequence, this.model, request.policy, request.stride, this.hardware.eviction, scores);
  }

  /** Gives a stream's sequence back so its context can serve the next stream. */
  async closeStream(stream: PolicyStream): Promise<void> {
    const context = stream.context;
    await stream.dispose();
    this.idle.push({ ...this.inUse.get(context)!, context });
    this.inUse.delete(context);
    while (this.idle.length > IDLE_CONTEXTS_KEPT) await this.idle.shift()!.context.dispose();
  }

  /** An idle context of exactly `size` cells and `batch` (so that results never depend on what ran before), or a new one. */
  private async contextOfSize(size: number, batch: number): Promise<LlamaContext> {
    const index = this.idle.findIndex((entry) => entry.size === size && entry.batch === batch);
    const context = index >= 0 ? this.idle.splice(index, 1)[0]!.context : await this.createContext(size, batch);
    this.inUse.set(context, { size, batch });
    return context;
  }

  private async createContext(size: number, batch: number): Promise<LlamaContext> {
    // Room first: the least recently used idle contexts go before a new KV cache is allocated.
    while (this.idle.length > 0 && this.idle.length + this.inUse.size >= IDLE_CONTEXTS_KEPT) await this.idle.shift()!.context.dispose();
    try {
      const context = await this.model.createContext({
        contextSize: size,
        sequences: 1,
        threads: this.hardware.threads,
        batchSize: batch,
        swaFullCache: true,
        flashAttention: this.hardware.flashAttention,
        experimentalKvCacheKeyType: this.kvCacheType,
        experimentalKvCacheValueType: this.kvCacheType,
      });
      return context;
    } catch (error) {
      const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
      const cause = takeLlamaError();
      throw new UsageError(`cannot create a context of ${size} tokens: ${reason}${cause ? ` (llama.cpp: ${cause})` : ""}`);
    }
  }

  /** Frees the KV caches of idle contexts (a benchmark measures memory with nothing left over from before). */
  async disposeIdleContexts(): Promise<void> {
    for (const { context } of this.idle.splice(0)) await context.dispose();
  }

  async memoryUsage(): Promise<MemoryUsage> {
    const hostRssBytes = process.memoryUsage.rss();
    if (this.llama.gpu === false) return { vramUsedBytes: null, hostRssBytes };
    return { vramUsedBytes: (await this.llama.getVramState()).used, hostRssBytes };
  }

  async buildInfo(): Promise<BuildInfo> {
    const gpu = this.llama.gpu !== false;
    return {
      gpuDevices: gpu ? await this.llama.getGpuDeviceNames() : [],
      vramTotalBytes: gpu ? (await this.llama.getVramState()).total : null,
      llamaCpp: { ...this.llama.llamaCppRelease },
      binaries: this.llama.buildType,
      nodeLlamaCppVersion: nodeLlamaCppVersion(),
      kvCacheTypes: { key: this.kvCacheType, value: this.kvCacheType },
    };
  }

  /** Model hyper-parameters from the GGUF header, as a speed record names the shape. */
  modelShape(): Record<string, number | string> {
    const metadata = this.model.fileInfo.metadata as unknown as Record<string, Record<string, unknown>>;
    const architecture = this.modelInfo.architecture;
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
      vocabulary: this.modelInfo.vocabularySize,
      trainedContext: this.modelInfo.trainContextSize,
      fileType: fileTypeName((metadata.general ?? {}).file_type),
    };
  }

  /**
   * `count` token ids drawn with a seed from the vocabulary's ordinary tokens (no BOS, EOS or control tokens):
   * input for speed measurements, where the text does not matter.
   */
  sampleTokens(count: number, seed: number): number[] {
    if (this.ordinaryTokens === undefined) {
      this.ordinaryTokens = [];
      for (let token = 0; token < this.modelInfo.vocabularySize; token++) if (!this.model.isSpecialToken(token as Token)) this.ordinaryTokens.push(token);
    }
    const rng = new Rng(seed);
    return Array.from({ length: count }, () => rng.pick(this.ordinaryTokens!));
  }

  async close(): Promise<void> {
    for (const context of [...this.idle.map((entry) => entry.context), ...this.inUse.keys()]) await context.dispose();
    this.idle.length = 0;
    this.inUse.clear();
    await this.model.dispose();
    await this.llama.dispose();
  }
}
