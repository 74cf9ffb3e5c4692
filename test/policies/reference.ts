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
      const accepts = t <= this.sinks + this.window || (t - 1 - this.sinks) % 2 ** i === 0;
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
