import type { CachePolicy, ChunkAttention } from "../../src/policies/policy.js";

/** One chunk as a policy saw it: what was appended, the attention it was given, what was evicted. */
export interface RecordedChunk {
  appended: number;
  attention: ChunkAttention | undefined;
  evicted: number[];
}

/**
 * A policy that records every chunk. With `replay` it evicts what an earlier stream evicted (its own
 * decision is still computed, and discarded), so that two streams measure exactly the same caches.
 */
export class RecordingPolicy implements CachePolicy {
  readonly chunks: RecordedChunk[] = [];
  constructor(
    private readonly inner: CachePolicy,
    private readonly replay?: readonly number[][],
  ) {}
  get config() {
    return this.inner.config;
  }
  get capacity() {
    return this.inner.capacity;
  }
  get attentionDecay() {
    return this.inner.attentionDecay;
  }
  get observedQueries() {
    return this.inner.observedQueries;
  }
  update(appended: number, attention?: ChunkAttention): number[] {
    const decided = this.inner.update(appended, attention);
    const evicted = this.replay ? this.replay[this.chunks.length]! : decided;
    this.chunks.push({ appended, attention, evicted });
    return evicted;
  }
}
