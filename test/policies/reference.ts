/**
 * Slow references for the policy tests, written from the text of docs/protocols.md §1 step by step with plain arrays,
 * independently of the fast implementations in src/policies/.
 */
import type { ChunkAttention } from "../../src/policies/policy.js";

const BETA = 0.9999;

interface Token {
  t: number;
  score: number;
}

/** The result every reference chunk returns: what the fast policies' update() and retained() must match. */
export interface ReferenceStep {
  evicted: number[];
  retained: number[];
}

/** Evicted positions of `afterAppend` = the tokens that are no longer in `kept`. */
function positionsLeaving(afterAppend: Token[], kept: Token[]): number[] {
  const keptTokens = new Set(kept);
  const evicted: number[] = [];
  afterAppend.forEach((token, position) => {
    if (!keptTokens.has(token)) evicted.push(position);
  });
  return evicted;
}

export class ReferenceCascade {
  private readonly sinkTokens: Token[] = [];
  /** subCaches[i] holds sub-cache i, oldest first. */
  private readonly subCaches: Token[][];
  private readonly slots: number;
  private streamLength = 0;

  constructor(
    private readonly sinks: number,
    private readonly window: number,
    private readonly cascades: number,
    private readonly useScores: boolean,
    /** Sub-cache i accepts every period(i)-th step (pow2: 2^i). */
    private readonly period: (level: number) => number = (level) => 2 ** level,
  ) {
    this.slots = window / cascades;
    this.subCaches = [];
    for (let i = 0; i < cascades; i++) this.subCaches.push([]);
  }

  update(appended: number, attention?: ChunkAttention): ReferenceStep {
    const afterAppend = this.cache();
    const arrivals: Token[] = [];
    for (let j = 0; j < appended; j++) {
      this.streamLength++;
      arrivals.push({ t: this.streamLength, score: 0 });
    }
    afterAppend.push(...arrivals);
    if (this.useScores && attention) {
      afterAppend.forEach((token, k) => {
        token.score = Math.pow(BETA, attention.queries) * token.score + (1 - BETA) * attention.decayedSum[k];
      });
    }
    for (const token of arrivals) this.arrive(token);
    const kept = this.cache();
    return { evicted: positionsLeaving(afterAppend, kept), retained: kept.map((token) => token.t) };
  }

  /** Sinks, then sub-cache C-1 (oldest) down to sub-cache 0 (newest). */
  private cache(): Token[] {
    const tokens = [...this.sinkTokens];
    for (let i = this.cascades - 1; i >= 0; i--) tokens.push(...this.subCaches[i]);
    return tokens;
  }

  private arrive(arriving: Token): void {
    const t = arriving.t;
    if (t <= this.sinks) {
      this.sinkTokens.push(arriving);
      return;
    }
    let x = arriving;
    for (let i = 0; i < this.cascades; i++) {
      const subCache = this.subCaches[i];
      const accepts = t - 1 <= this.sinks + this.window || (t - 1 - this.sinks) % this.period(i) === 0;
      if (accepts) {
        if (subCache.length < this.slots) {
          subCache.push(x);
          return;
        }
        const y = subCache.shift() as Token;
        subCache.push(x);
        x = y;
        continue;
      }
      if (subCache.length === 0) {
        subCache.push(x);
        return;
      }
      const z = subCache[subCache.length - 1];
      if (x.score >= z.score) subCache[subCache.length - 1] = x;
      return;
    }
  }
}

export class ReferenceSinkWindow {
  private tokens: Token[] = [];
  private streamLength = 0;

  constructor(
    private readonly sinks: number,
    private readonly window: number,
  ) {}

  update(appended: number): ReferenceStep {
    const afterAppend = [...this.tokens];
    for (let j = 0; j < appended; j++) afterAppend.push({ t: ++this.streamLength, score: 0 });
    const sinkTokens = afterAppend.filter((token) => token.t <= this.sinks);
    const others = afterAppend.filter((token) => token.t > this.sinks);
    this.tokens = [...sinkTokens, ...others.slice(Math.max(0, others.length - this.window))];
    return { evicted: positionsLeaving(afterAppend, this.tokens), retained: this.tokens.map((token) => token.t) };
  }
}

/**
 * The ranked baselines, one eviction at a time: after each chunk the scores are updated, then, while the cache is
 * over budget, the lowest-scoring token outside the sinks and the protected newest tokens leaves (of equal scores
 * the older). `rescore` turns the chunk's attention into every token's new score.
 */
export class ReferenceRanked {
  private tokens: Token[] = [];
  private streamLength = 0;

  constructor(
    private readonly sinks: number,
    private readonly window: number,
    private readonly protectedNewest: number,
    private readonly rescore: (tokens: Token[], attention: ChunkAttention) => void,
  ) {}

  update(appended: number, attention?: ChunkAttention): ReferenceStep {
    const afterAppend = [...this.tokens];
    for (let j = 0; j < appended; j++) afterAppend.push({ t: ++this.streamLength, score: 0 });
    if (attention) this.rescore(afterAppend, attention);
    const kept = [...afterAppend];
    while (kept.length > this.sinks + this.window) {
      const sinkCount = kept.filter((token) => token.t <= this.sinks).length;
      const candidates = kept.slice(sinkCount, Math.max(sinkCount, kept.length - this.protectedNewest));
      let worst = candidates[0]!;
      for (const token of candidates) if (token.score < worst.score) worst = token;
      kept.splice(kept.indexOf(worst), 1);
    }
    this.tokens = kept;
    return { evicted: positionsLeaving(afterAppend, kept), retained: kept.map((token) => token.t) };
  }
}

/** H2O: scores summed over every query since the token arrived; `recent` newest protected. */
export const referenceH2o = (sinks: number, window: number, recent: number) =>
  new ReferenceRanked(sinks, window, recent, (tokens, attention) => tokens.forEach((token, k) => (token.score += attention.decayedSum[k]!)));

/** TOVA: the newest query's attention alone; nothing protected but the sinks. */
export const referenceTova = (sinks: number, window: number) =>
  new ReferenceRanked(sinks, window, 0, (tokens, attention) => tokens.forEach((token, k) => (token.score = attention.decayedSum[k]!)));

/** SnapKV: the observation window's attention, averaged over `kernel` neighbours (zeros beyond the prefix). */
export const referenceSnapKv = (sinks: number, window: number, observe: number, kernel: number) =>
  new ReferenceRanked(sinks, window, observe, (tokens, attention) => {
    const prefix = Math.max(0, tokens.length - observe);
    const raw = Array.from(attention.decayedSum);
    tokens.forEach((token, k) => {
      if (k >= prefix) {
        token.score = raw[k]!;
        return;
      }
      let sum = 0;
      for (let j = k - (kernel - 1) / 2; j <= k + (kernel - 1) / 2; j++) if (j >= 0 && j < prefix) sum += raw[j]!;
      token.score = sum / kernel;
    });
  });
