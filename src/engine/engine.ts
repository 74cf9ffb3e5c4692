import type { Llama, LlamaModel, Token } from "node-llama-cpp";
import { UsageError } from "../errors.js";
import type { CachePolicy, Signal } from "../policies/policy.js";
import { requireSignals } from "../policies/registry.js";
import { Random } from "../util/random.js";
import { ContextPool } from "./context-pool.js";
import { buildInfo, memoryUsage, modelShape, type BuildInfo, type HardwareInfo, type KvCacheType, type MemoryUsage } from "./engine-info.js";
import { activeExtensions, attentionScoresRemedy, evictionPath, fusedAttentionScores, setAttentionScores, setDecodeTimings } from "./extension-runtime.js";
import { ATTENTION_SCORES_BUDGET_BYTES, attentionHeadSizes, batchForAttentionScores, cudaGraphsOffReason, defaultFlashAttention } from "./flash-attention.js";
import { openLlama, physicalCoreCount } from "./llama.js";
import type { GpuChoice } from "./llama.js";
import { describeModel, loadModel, modelSha256, readModelMetadata, resolveModelPath, type ModelInfo } from "./model.js";
import { ContextShiftError, PolicyStream } from "./stream.js";

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

export interface StreamRequest {
  policy: CachePolicy;
  stride: number;
  /** Tokens the stream will see in all (prompt and generation); sizes the full cache. */
  totalTokens: number;
}

/** The only code that talks to node-llama-cpp: loads the model and hands out policy-driven token streams. */
export class Engine {
  private readonly contexts: ContextPool;
  /** The vocabulary without special tokens, listed on the first `sampleTokens`. */
  private ordinaryTokens: number[] | undefined;

  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    readonly modelInfo: ModelInfo,
    readonly hardware: HardwareInfo,
    private readonly kvCacheType: KvCacheType,
  ) {
    this.contexts = new ContextPool(model, { threads: hardware.threads, flashAttention: hardware.flashAttention, kvCacheType });
  }

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
      attentionScoresFused: useExtensions && extensions.includes("attention-scores") && fusedAttentionScores(llama, flash.enabled),
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
   * llama.cpp materializes would not fit (without flash attention, or when the policy's scores are measured by the
   * materialized path: the fused one keeps no weights).
   */
  contextBatchSize(cells: number, stride: number, scores = false): number {
    const batch = Engine.batchSizeFor(stride, this.hardware.gpu);
    const materialized = !this.hardware.flashAttention || (scores && !this.hardware.attentionScoresFused);
    return materialized ? batchForAttentionScores(batch, cells, Number(this.modelShape().heads)) : batch;
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
    requireSignals([name], new Set<Signal>(this.hardware.attentionScores ? ["attention-scores"] : []), attentionScoresRemedy(this.hardware.extensions.includes("attention-scores")));
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
    const context = await this.contexts.acquire(size, this.contextBatchSize(size, request.stride, scores));
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
    await this.contexts.release(context);
  }

  /** Frees the KV caches of idle contexts (a benchmark measures memory with nothing left over from before). */
  disposeIdleContexts(): Promise<void> {
    return this.contexts.disposeIdle();
  }

  /** GPU and host memory in use now. */
  memoryUsage(): Promise<MemoryUsage> {
    return memoryUsage(this.llama);
  }

  buildInfo(): Promise<BuildInfo> {
    return buildInfo(this.llama, this.kvCacheType);
  }

  /** Model hyper-parameters from the GGUF header, as a speed record names the shape. */
  modelShape(): Record<string, number | string> {
    return modelShape(this.model, this.modelInfo);
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
    const rng = new Random(seed);
    return Array.from({ length: count }, () => rng.pick(this.ordinaryTokens!));
  }

  async close(): Promise<void> {
    await this.contexts.disposeAll();
    await this.model.dispose();
    await this.llama.dispose();
  }
}
