import type { CachePolicy, ChunkAttention, PolicyConfig } from "./policy.js";

/** How a ranked cache splits its `window` after the sinks: the newest tokens it always keeps, and the ranked rest. */
export interface RankedLayout {
  /** The newest non-sink tokens, always kept. */
  recent: number;
  /** The older non-sink tokens kept by score (recent + ranked = window). */
  ranked: number;
}

/**
 * A bounded cache that keeps, after each chunk, the sinks, its `recent` newest tokens, and the `ranked` other tokens
 * with the highest scores (ties go to the newer token). The policies differ in how a chunk's attention becomes a
 * score; the decision is one per chunk, shared by every head and layer.
 */
export abstract class RankedCache implements CachePolicy {
  readonly config: Readonly<PolicyConfig>;
  readonly capacity: number;
  abstract readonly attentionDecay: number | undefined;
  /** Per cached token, in cache order: its 1-based stream index and its score. */
  protected streamIndices: number[] = [];
  protected scores: number[] = [];
  private streamLength = 0;

  constructor(
    config: PolicyConfig,
    private readonly layout: RankedLayout,
  ) {
    this.config = Object.freeze({ ...config });
    this.capacity = config.sinks + config.window;
  }

  update(appended: number, attention?: ChunkAttention): number[] {
    for (let k = 1; k <= appended; k++) {
      this.streamIndices.push(this.streamLength + k);
      this.scores.push(0);
    }
    this.streamLength += appended;
    if (attention !== undefined) {
      if (attention.decayedSum.length !== this.scores.length)
        throw new Error(`attention covers ${attention.decayedSum.length} tokens, the cache after the append has ${this.scores.length}`);
      this.score(attention);
    }
    return this.select();
  }

  /** 1-based stream indices of the cached tokens, in cache order. */
  retained(): number[] {
    return [...this.streamIndices];
  }

  /** Folds a chunk's attention into `scores` (one per token of the cache after the append). */
  protected abstract score(attention: ChunkAttention): void;

  private select(): number[] {
    const total = this.streamIndices.length;
    if (total <= this.capacity) return [];
    const sinks = this.streamIndices.filter((t) => t <= this.config.sinks).length;
    const recentFrom = total - Math.min(this.layout.recent, total - sinks);
    // the candidates ranked by score, best first; of equal scores the newer (higher position) first
    const candidates = Array.from({ length: recentFrom - sinks }, (_, k) => sinks + k);
    candidates.sort((a, b) => this.scores[b]! - this.scores[a]! || b - a);
    const keep = new Uint8Array(total);
    keep.fill(1, 0, sinks);
    keep.fill(1, recentFrom);
    for (const position of candidates.slice(0, this.layout.ranked)) keep[position] = 1;
    const evicted: number[] = [];
    const streamIndices: number[] = [];
    const scores: number[] = [];
    for (let position = 0; position < total; position++) {
      if (keep[position]) {
        streamIndices.push(this.streamIndices[position]!);
        scores.push(this.scores[position]!);
      } else evicted.push(position);
    }
    this.streamIndices = streamIndices;
    this.scores = scores;
    return evicted;
  }
}

/** `percent` of `window` (rounded down) as the recent part, the rest ranked. */
export function splitWindow(window: number, recentPercent: number): RankedLayout {
  const recent = Math.floor((window * recentPercent) / 100);
  return { recent, ranked: window - recent };
}
