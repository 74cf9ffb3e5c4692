/**
 * Whether the engine turns on llama.cpp's flash attention when the user did not say. node-llama-cpp's
 * `flashAttention: true` forces it; llama.cpp then runs the operation on whichever backend has a kernel for it, so
 * on CUDA a head size without a kernel puts every layer's attention on the CPU (llama.cpp's own "auto" probes for
 * this and falls back, but does not tell node-llama-cpp what it chose, and a run records what it measured with).
 */

/** Head sizes (keys and values alike) of llama.cpp v0.5.0's CUDA flash-attention kernels (ggml-cuda/fattn.cu). */
export const CUDA_FLASH_ATTENTION_HEAD_SIZES: ReadonlySet<number> = new Set([40, 64, 72, 80, 96, 112, 128, 256]);

export interface FlashAttentionChoice {
  enabled: boolean;
  /** Why it is off on a GPU, for the run's output; undefined when on, or on the CPU (slower there). */
  reason?: string;
}

export function defaultFlashAttention(gpu: string | false, headSizes: { key: number; value: number }): FlashAttentionChoice {
  // llama.cpp's CPU flash-attention path measured 4× slower on this project's machines; on a GPU it is the fast one
  if (gpu === false) return { enabled: false };
  if (gpu === "cuda" && (headSizes.key !== headSizes.value || !CUDA_FLASH_ATTENTION_HEAD_SIZES.has(headSizes.key))) {
    const size = headSizes.key === headSizes.value ? `${headSizes.key}` : `${headSizes.key}/${headSizes.value}`;
    return { enabled: false, reason: `flash attention off: llama.cpp's CUDA kernels have none for attention head size ${size} (it would run on the CPU)` };
  }
  return { enabled: true };
}

/** Key and value head sizes from a GGUF header (attention.key_length / value_length, else width / heads). */
export function attentionHeadSizes(metadata: object): { key: number; value: number } {
  const header = metadata as Record<string, Record<string, unknown>>;
  const section = (header[String((header.general ?? {}).architecture)] ?? {}) as Record<string, unknown>;
  const attention = (section.attention ?? {}) as Record<string, unknown>;
  const width = Number(section.embedding_length) / Number(attention.head_count);
  const key = typeof attention.key_length === "number" ? attention.key_length : width;
  return { key, value: typeof attention.value_length === "number" ? attention.value_length : key };
}

/** Attention scores one batch may materialize without flash attention (f32, cells × batch × query heads). */
export const ATTENTION_SCORES_BUDGET_BYTES = 8 * 2 ** 30;

/**
 * The batch, halved until its attention scores fit ATTENTION_SCORES_BUDGET_BYTES. Without flash attention llama.cpp
 * materializes each layer's scores, and CUDA keeps an f16 copy in a memory pool that aborts the whole process past
 * 32 GiB: measured on the H100 with the default model's full cache at 1M tokens and batches of 2,048 (64 GiB of
 * scores). Smaller batches do the same work in more llama.cpp calls.
 */
export function batchForAttentionScores(batch: number, cells: number, heads: number): number {
  let size = batch;
  while (size > 1 && cells * size * heads * 4 > ATTENTION_SCORES_BUDGET_BYTES) size = Math.floor(size / 2);
  return size;
}

/**
 * Whether to turn llama.cpp's CUDA graphs off, and why: when a run on CUDA would go without flash attention. The
 * default model's full cache (no flash attention, batches of 128) aborted the process on the H100 within seconds,
 * at 256K and at 1M tokens, in four runs (with CUDA_LAUNCH_BLOCKING=1 the failing call was cudaGraphLaunch); with
 * GGML_CUDA_DISABLE_GRAPHS=1 set before the process started, the same 1M run streamed past 890,000 tokens. Setting it
 * after llama.cpp's CUDA backend started changed nothing, so the engine decides before loading llama.cpp. Runs
 * with flash attention keep the graphs (their measurements were taken with them). A user's own setting wins.
 */
export function cudaGraphsOffReason(flashAttention: boolean, env: NodeJS.ProcessEnv): string | undefined {
  if (flashAttention || env.GGML_CUDA_DISABLE_GRAPHS !== undefined) return undefined;
  return "CUDA graphs off (GGML_CUDA_DISABLE_GRAPHS=1): without flash attention they aborted llama.cpp's full-cache runs";
}
