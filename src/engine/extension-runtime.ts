import type { Llama, LlamaContext, LlamaContextSequence } from "node-llama-cpp";
import type { ChunkAttention } from "../policies/policy.js";
import { readExtensionsManifest } from "./extension-manifest.js";
import { openLlama, type GpuChoice } from "./llama.js";

/**
 * cascade-eval's llama.cpp extensions (patches under extensions/, built by `cascade-eval extensions build`), as
 * found at runtime in the binaries node-llama-cpp loaded. Stock binaries have none and every task still runs.
 *
 * This module reaches into node-llama-cpp's internals (its native context and the sequence's own record of the
 * cached tokens), pinned to node-llama-cpp 3.22.1: the patched addon method is not part of its public API.
 */

/** How a stream's evicted tokens leave the KV cache. */
export type EvictionPath = "in-decode" | "batched" | "stock";

export const EVICTION_PATHS: Record<EvictionPath, string> = {
  "in-decode":
    "batched, inside each chunk's decode while the backends compute (cascade-eval extensions batched-eviction and eviction-in-decode); policies that rank by attention evict after the chunk",
  batched: "batched (cascade-eval extension batched-eviction: one pass over the KV cells per chunk)",
  stock: "stock (node-llama-cpp eraseContextTokenRanges: one pass over the KV cells per range and per gap)",
};

/**
 * The eviction path the binaries' extensions allow (pass none where they are turned off). CASCADE_EVAL_EVICT_AFTER_CHUNK=1
 * keeps the batched eviction after each chunk where the binaries could evict inside the decode (to compare the two).
 */
export function evictionPath(extensions: readonly string[]): EvictionPath {
  if (!extensions.includes("batched-eviction")) return "stock";
  const inDecode = extensions.includes("eviction-in-decode") && process.env.CASCADE_EVAL_EVICT_AFTER_CHUNK !== "1";
  return inDecode ? "in-decode" : "batched";
}

/** What a run prints about attention scores: measured, turned off (CASCADE_EVAL_EXTENSIONS=off), or not in the binaries. */
export function attentionScoresLine(measured: boolean, inBinaries: boolean): string {
  if (measured) return "attention scores: measured by llama.cpp (cascade-eval extension attention-scores) for the policies that rank by them (cascading, h2o, tova, snapkv)";
  if (inBinaries) return "attention scores: not used (CASCADE_EVAL_EXTENSIONS=off), so cascading runs as the strided cascade";
  return "attention scores: none in these binaries, so cascading runs as the strided cascade (cascade-eval extensions build adds them)";
}

/** What a run that needs attention scores, and cannot get them, tells the user to do. */
export function attentionScoresRemedy(inBinaries: boolean): string {
  return inBinaries ? "CASCADE_EVAL_EXTENSIONS=off turns the extension off" : "`cascade-eval extensions build` adds the measurement to these binaries";
}

interface NativeContext {
  evictSequenceTokenCells?: (sequenceId: number, positions: Int32Array) => boolean;
  setPendingEviction?: (sequenceId: number, after: number, positions: Int32Array) => boolean;
  takePendingEviction?: (sequenceId: number) => [result: number, ms: number];
  setAttentionScores?: (enabled: boolean, beta: number) => void;
  getSequenceAttentionScores?: (sequenceId: number, scores: Float32Array) => number;
  attentionScoresFused?: () => boolean;
  setDecodeTimings?: (enabled: boolean) => void;
  getDecodeTimings?: () => Float64Array;
  hostFastPath?: () => boolean;
}

interface SequenceInternals {
  _sequenceId: number;
  _nextTokenIndex: number;
  _contextTokens: number[];
  _loadedTokenPredictions: unknown[];
  _checkpoints: { pruneFromEndToIndex(index: number): void };
  _context: { _ctx: NativeContext };
}

/** The addon's object behind a context, where the extensions' methods live. */
function nativeContext(context: LlamaContext): NativeContext {
  return (context as unknown as { _ctx: NativeContext })._ctx;
}

/** The extensions the loaded binaries carry: those of the manifest whose addon methods all exist. */
export function activeExtensions(llama: Llama): string[] {
  const native = (llama as unknown as { _bindings?: { AddonContext?: { prototype?: Record<string, unknown> } } })._bindings?.AddonContext?.prototype;
  return readExtensionsManifest()
    .extensions.filter((extension) => extension.addonMethods.every((method) => typeof native?.[method] === "function"))
    .map((extension) => extension.name);
}

/**
 * Whether llama.cpp computes the attention scores without materializing the softmax weights: attention-scores v2 and
 * later (the addon has attentionScoresFused) do with flash attention; without it, it reuses the softmax the attention
 * materializes anyway. CASCADE_EVAL_ATTN_SCORES_PATH=materialized or =fused forces a path (llama.cpp reads it when
 * the measurement is turned on), to compare the two.
 */
export function fusedAttentionScores(llama: Llama, flashAttention: boolean): boolean {
  const native = (llama as unknown as { _bindings?: { AddonContext?: { prototype?: NativeContext } } })._bindings?.AddonContext?.prototype;
  const path = process.env.CASCADE_EVAL_ATTN_SCORES_PATH;
  return typeof native?.attentionScoresFused === "function" && (path === "fused" || (path !== "materialized" && flashAttention));
}

/**
 * Turns llama.cpp's attention measurement on (with the moving average's β) or off for every later evaluation in
 * `context`; binaries without the attention-scores extension have nothing to turn.
 */
export function setAttentionScores(context: LlamaContext, beta: number | undefined): void {
  const native = nativeContext(context);
  native.setAttentionScores?.call(native, beta !== undefined, beta ?? 1);
}

/** The phases of a llama.cpp decode that the decode-timings extension times, in its order (llama_get_decode_timings). */
export const DECODE_PHASES = ["K-shift", "plan", "place", "graph", "inputs", "launch", "wait"] as const;

/**
 * Turns llama.cpp's per-phase decode timing on (from zero) or off for every later evaluation in `context`; binaries
 * without the decode-timings extension have nothing to turn.
 */
export function setDecodeTimings(context: LlamaContext, enabled: boolean): void {
  const native = nativeContext(context);
  native.setDecodeTimings?.call(native, enabled);
}

/** Milliseconds per phase (DECODE_PHASES) summed since the timing was turned on; undefined without the extension. */
export function decodeTimings(context: LlamaContext): number[] | undefined {
  const native = nativeContext(context);
  const totals = native.getDecodeTimings?.call(native);
  return totals === undefined ? undefined : Array.from(totals.subarray(0, DECODE_PHASES.length));
}

/**
 * The attention each of the sequence's cached tokens received during the evaluations since the last read (see
 * ChunkAttention), in cache order, and a new accumulation started. Undefined when llama.cpp measured none (a model
 * whose attention is not that of the unified KV cache). Read it before evicting: llama.cpp keeps it per cell.
 */
export function takeAttention(sequence: LlamaContextSequence): ChunkAttention | undefined {
  const internals = sequence as unknown as SequenceInternals;
  const native = internals._context._ctx;
  if (native.getSequenceAttentionScores === undefined) return undefined;
  const scores = new Float32Array(internals._nextTokenIndex);
  const queries = native.getSequenceAttentionScores.call(native, internals._sequenceId, scores);
  return queries < 0 ? undefined : { queries, decayedSum: Float64Array.from(scores) };
}

/**
 * Removes the cached tokens at `positions` (ascending) and compacts the rest in one native call, then updates
 * node-llama-cpp's record of the sequence as its eraseContextTokenRanges would. False when llama.cpp declined
 * (the cache unchanged): the caller erases by ranges instead.
 */
export function evictBatched(sequence: LlamaContextSequence, positions: readonly number[]): boolean {
  const internals = sequence as unknown as SequenceInternals;
  if (internals._loadedTokenPredictions.length > 0) return false;
  const evict = internals._context._ctx.evictSequenceTokenCells;
  if (evict === undefined || !evict.call(internals._context._ctx, internals._sequenceId, Int32Array.from(positions))) return false;
  forgetEvicted(internals, positions);
  return true;
}

/**
 * Queues the eviction of `positions` (ascending, in the cache after the next chunk) for the end of the decode that
 * gives the sequence position `after` (the chunk's last token), where llama.cpp applies it while the backends still
 * compute (eviction-in-decode). False where it cannot be queued: evict after the chunk instead.
 */
export function queueEviction(sequence: LlamaContextSequence, positions: readonly number[], after: number): boolean {
  const internals = sequence as unknown as SequenceInternals;
  const native = internals._context._ctx;
  if (internals._loadedTokenPredictions.length > 0 || native.setPendingEviction === undefined) return false;
  return native.setPendingEviction.call(native, internals._sequenceId, after, Int32Array.from(positions));
}

/**
 * Takes the queued eviction's outcome after the chunk: applied (node-llama-cpp's record of the sequence updated here,
 * with the milliseconds llama.cpp spent), declined by llama.cpp (nothing changed) or not applied (no decode reached
 * its position). Either of the last two leaves the eviction to the caller.
 */
export function takeQueuedEviction(sequence: LlamaContextSequence, positions: readonly number[]): { applied: true; nativeMs: number } | { applied: false; declined: boolean } {
  const internals = sequence as unknown as SequenceInternals;
  const native = internals._context._ctx;
  const [result, nativeMs] = native.takePendingEviction?.call(native, internals._sequenceId) ?? [-1, 0];
  if (result !== 1) return { applied: false, declined: result === 0 };
  forgetEvicted(internals, positions);
  return { applied: true, nativeMs };
}

/** Drops a queued eviction unapplied, so no later decode of the sequence (another stream's, once reused) applies it. */
export function discardQueuedEviction(sequence: LlamaContextSequence): void {
  const internals = sequence as unknown as SequenceInternals;
  const native = internals._context._ctx;
  native.takePendingEviction?.call(native, internals._sequenceId);
}

/** After llama.cpp evicted `positions`: node-llama-cpp's record of the sequence, as its eraseContextTokenRanges leaves it. */
function forgetEvicted(internals: SequenceInternals, positions: readonly number[]): void {
  // compacted in place, one pass: node-llama-cpp replaces the array on every evaluation (concat) and hands out only
  // copies, so no one else holds it; a new array cost 3× more (0.6 against 0.2 ms at 69,696 tokens)
  const tokens = internals._contextTokens;
  let next = 0;
  let write = 0;
  for (let read = 0; read < tokens.length; read += 1) {
    if (read === positions[next]) next += 1;
    else tokens[write++] = tokens[read]!;
  }
  tokens.length = write;
  internals._nextTokenIndex -= positions.length;
  internals._checkpoints.pruneFromEndToIndex(write - 1);
}

export interface BinariesStatus {
  binaries: "localBuild" | "prebuilt";
  gpu: string | false;
  llamaCppRelease: string;
  extensions: string[];
}

/** What the binaries node-llama-cpp loads for `gpu` are, and which extensions they carry. */
export async function binariesStatus(gpu: GpuChoice): Promise<BinariesStatus> {
  const llama = await openLlama(gpu);
  try {
    return { binaries: llama.buildType, gpu: llama.gpu, llamaCppRelease: llama.llamaCppRelease.release, extensions: activeExtensions(llama) };
  } finally {
    await llama.dispose();
  }
}
