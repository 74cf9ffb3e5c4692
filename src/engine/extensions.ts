import type { Llama, LlamaContextSequence } from "node-llama-cpp";
import { openLlama, type GpuChoice } from "./llama.js";

/**
 * cascade-eval's llama.cpp extensions (patches under extensions/, built by `cascade-eval extensions build`), as
 * found at runtime in the binaries node-llama-cpp loaded. Stock binaries have none and every task still runs.
 *
 * This module reaches into node-llama-cpp's internals (its native context and the sequence's own record of the
 * cached tokens), pinned to node-llama-cpp 3.22.1: the patched addon method is not part of its public API.
 */

/** How a stream's evicted tokens leave the KV cache. */
export type EvictionPath = "batched" | "stock";

export const EVICTION_PATHS: Record<EvictionPath, string> = {
  batched: "batched (cascade-eval extension batched-eviction: one pass over the KV cells per chunk)",
  stock: "stock (node-llama-cpp eraseContextTokenRanges: one pass over the KV cells per range and per gap)",
};

interface NativeContext {
  evictSequenceTokenCells?: (sequenceId: number, positions: Int32Array) => boolean;
}

interface SequenceInternals {
  _sequenceId: number;
  _nextTokenIndex: number;
  _contextTokens: number[];
  _loadedTokenPredictions: unknown[];
  _checkpoints: { pruneFromEndToIndex(index: number): void };
  _context: { _ctx: NativeContext };
}

/** The extensions the loaded binaries carry. */
export function activeExtensions(llama: Llama): string[] {
  const bindings = (llama as unknown as { _bindings?: { AddonContext?: { prototype?: NativeContext } } })._bindings;
  return typeof bindings?.AddonContext?.prototype?.evictSequenceTokenCells === "function" ? ["batched-eviction"] : [];
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
  return true;
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
