import { UsageError } from "../errors.js";
import { CASCADES, SINKS, WINDOW } from "./parameters.js";
import type { CachePolicy, ChunkAttention, PolicyConfig, PolicyDefinition, PolicyParameter, PolicyRecord } from "./policy.js";

/** When sub-cache i accepts, past the eager fill: every period(i)-th step (docs/protocols.md §1, step 2). */
export const SCHEDULES = { pow2: (level: number) => 2 ** level, pow3: (level: number) => 3 ** level, pow4: (level: number) => 4 ** level, linear: (level: number) => level + 1 } as const;
export type Schedule = keyof typeof SCHEDULES;

export const SCHEDULE: PolicyParameter = {
  key: "schedule",
  flag: "--schedule",
  help: "cascading: sub-cache i keeps every 2^i-th (pow2), 3^i-th, 4^i-th or (i+1)-th token",
  minimum: 0,
  choices: Object.keys(SCHEDULES),
  default: "pow2",
};

/** β of the attention moving average (docs/protocols.md §1). */
export const CASCADING_ATTENTION_DECAY = 0.9999;

export interface CascadingOptions {
  /** Rank tokens by attention (default). Without scores every comparison is a tie: the "strided" cascade. */
  useScores?: boolean;
}

/**
 * The Cascading KV Cache (docs/protocols.md §1): `sinks` plus `cascades` sub-caches of `window / cascades` slots, the
 * sub-cache i accepting every 2^i-th token once the cache is full.
 *
 * During a chunk every cached token is named by its position in the cache after the append; the sub-caches are
 * ring buffers of those positions, so a token moves between sub-caches in O(1) and the evicted positions are the
 * gaps of one ascending walk over the retained ones. The walk also compacts the positions for the next chunk.
 */
export class CascadingPolicy implements CachePolicy {
  readonly config: Readonly<PolicyConfig>;
  readonly capacity: number;
  readonly attentionDecay: number | undefined;
  private readonly slots: number;
  /** Sub-cache i accepts every periods[i]-th step past the eager fill. */
  private readonly periods: number[];
  /** Sub-cache i occupies ring[i * slots, (i + 1) * slots); oldest at ringHead[i], ringFill[i] tokens. */
  private readonly ring: Int32Array;
  private readonly ringHead: Int32Array;
  private readonly ringFill: Int32Array;
  private streamLength = 0;
  private sinkCount = 0;
  private cacheSize = 0;
  /** Per position of the cache (after the append, during a chunk): the token's score and 1-based stream index. */
  private scores = new Float64Array(0);
  private streamIndices = new Float64Array(0);
  /** Where the walk compacts the retained tokens; swapped with the arrays above after each chunk. */
  private spareScores = new Float64Array(0);
  private spareStreamIndices = new Float64Array(0);

  constructor(config: PolicyConfig, options: CascadingOptions = {}) {
    this.config = Object.freeze({ ...config });
    this.capacity = config.sinks + config.window;
    this.attentionDecay = options.useScores === false ? undefined : CASCADING_ATTENTION_DECAY;
    this.slots = config.window / config.cascades;
    if (!Number.isInteger(this.slots) || this.slots < 1) {
      throw new Error(`cascading needs window divisible by cascades (got ${config.window} / ${config.cascades})`);
    }
    const schedule = SCHEDULES[(config.schedule ?? SCHEDULE.default) as Schedule];
    this.periods = Array.from({ length: config.cascades }, (_, level) => schedule(level));
    this.ring = new Int32Array(config.window);
    this.ringHead = new Int32Array(config.cascades);
    this.ringFill = new Int32Array(config.cascades);
  }

  update(appended: number, attention?: ChunkAttention): number[] {
    const total = this.cacheSize + appended;
    this.reserve(total);
    for (let position = this.cacheSize; position < total; position++) {
      this.scores[position] = 0;
      this.streamIndices[position] = this.streamLength + position - this.cacheSize + 1;
    }
    // A chunk without attention leaves the scores as they are (its tokens score 0): never given, all tie.
    if (attention !== undefined && this.attentionDecay !== undefined) {
      this.applyAttention(attention, total, this.attentionDecay);
    }
    // The token-by-token update runs after the whole chunk's scores are known.
    for (let position = this.cacheSize; position < total; position++) this.arrive(position);
    this.streamLength += appended;
    return this.compact(total);
  }

  /** 1-based stream indices of the cached tokens, in cache order. */
  retained(): number[] {
    return Array.from(this.streamIndices.subarray(0, this.cacheSize));
  }

  private applyAttention(attention: ChunkAttention, total: number, beta: number): void {
    const decayed = attention.decayedSum;
    if (decayed.length !== total) {
      throw new Error(`attention covers ${decayed.length} tokens, the cache after the append has ${total}`);
    }
    const carried = Math.pow(beta, attention.queries);
    const gain = 1 - beta;
    for (let position = 0; position < total; position++) {
      this.scores[position] = carried * this.scores[position] + gain * decayed[position];
    }
  }

  /** Step 3 of the protocol for the token at `position`: O(cascades). */
  private arrive(position: number): void {
    const t = this.streamIndices[position];
    const { sinks, window, cascades } = this.config;
    if (t <= sinks) {
      this.sinkCount++;
      return;
    }
    // the paper's code fills eagerly one token longer than its text (t - 1 <= sinks + window; docs/protocols.md §1)
    const eagerFill = t - 1 <= sinks + window;
    // The schedule is that of the arriving token, also for the tokens it pushes on.
    const offset = t - 1 - sinks;
    let incoming = position;
    for (let level = 0; level < cascades; level++) {
      const period = this.periods[level]!;
      const base = level * this.slots;
      const head = this.ringHead[level];
      const fill = this.ringFill[level];
      if (eagerFill || offset % period === 0) {
        if (fill < this.slots) {
          this.ring[base + ((head + fill) % this.slots)] = incoming;
          this.ringFill[level] = fill + 1;
          return;
        }
        const oldest = this.ring[base + head];
        this.ring[base + head] = incoming;
        this.ringHead[level] = (head + 1) % this.slots;
        incoming = oldest;
        continue;
      }
      // Past the eager fill every sub-cache is full, so the protocol's "empty" case cannot occur here.
      const newestSlot = base + ((head + fill - 1) % this.slots);
      if (this.scores[incoming] >= this.scores[this.ring[newestSlot]]) this.ring[newestSlot] = incoming;
      return;
    }
    // `incoming` was pushed out of the last sub-cache: it is simply not retained.
  }

  /**
   * Walks the retained tokens in cache order (sinks, then sub-caches oldest to newest), which is ascending
   * position order; every skipped position is evicted. Retained tokens are re-numbered 0..n-1 as they go.
   */
  private compact(total: number): number[] {
    const evicted: number[] = [];
    const { scores, streamIndices, spareScores, spareStreamIndices, ring } = this;
    // next: the position after the last one kept or evicted; kept: the compacted positions handed out so far
    let next = 0;
    let kept = 0;
    const keep = (position: number): number => {
      if (position < next) throw new Error("cascading cache left stream order");
      while (next < position) evicted.push(next++);
      next++;
      spareScores[kept] = scores[position];
      spareStreamIndices[kept] = streamIndices[position];
      return kept++;
    };
    for (let position = 0; position < this.sinkCount; position++) keep(position);
    for (let level = this.config.cascades - 1; level >= 0; level--) {
      const base = level * this.slots;
      const head = this.ringHead[level];
      const fill = this.ringFill[level];
      // the ring's oldest-to-newest order as (at most) two plain runs of slots: no modulo per token
      const firstRun = Math.min(fill, this.slots - head);
      for (let slot = base + head; slot < base + head + firstRun; slot++) ring[slot] = keep(ring[slot]);
      for (let slot = base; slot < base + fill - firstRun; slot++) ring[slot] = keep(ring[slot]);
    }
    while (next < total) evicted.push(next++);
    [this.scores, this.spareScores] = [this.spareScores, this.scores];
    [this.streamIndices, this.spareStreamIndices] = [this.spareStreamIndices, this.streamIndices];
    this.cacheSize = kept;
    return evicted;
  }

  /** Grows the per-position arrays (keeping the cached tokens) so that `total` positions fit. */
  private reserve(total: number): void {
    if (total <= this.scores.length) return;
    const size = Math.max(total, 2 * this.scores.length);
    const scores = new Float64Array(size);
    scores.set(this.scores.subarray(0, this.cacheSize));
    const streamIndices = new Float64Array(size);
    streamIndices.set(this.streamIndices.subarray(0, this.cacheSize));
    this.scores = scores;
    this.streamIndices = streamIndices;
    this.spareScores = new Float64Array(size);
    this.spareStreamIndices = new Float64Array(size);
  }
}

/** With window >= 1, divisibility also guarantees at least one slot per sub-cache. */
function validateLayout(config: PolicyConfig): void {
  if (config.window % config.cascades !== 0) throw new UsageError(`--window ${config.window} is not divisible by --cascades ${config.cascades}`);
}

/** The schedule as tables say it: nothing for the default pow2 (and for records made before there was a choice). */
const scheduleNote = (record: PolicyRecord) => (record.schedule === undefined || record.schedule === SCHEDULE.default ? "" : `, ${String(record.schedule)} schedule`);

const layout = (record: PolicyRecord) => `${record.cascades} cascades${record.scores ? "" : " (strided)"}${scheduleNote(record)}`;

/** The paper's method: sub-caches ranked by attention where llama.cpp measures it (strided elsewhere). */
export const cascading: PolicyDefinition = {
  name: "cascading",
  description: "the Cascading KV Cache: sinks plus sub-caches that keep ever sparser older tokens, ranked by attention where llama.cpp measures it",
  parameters: [SINKS, WINDOW, CASCADES, SCHEDULE],
  bounded: true,
  signals: ["attention-scores"],
  withoutSignals: "runs as the strided cascade",
  validate: validateLayout,
  create: (config) => new CascadingPolicy(config),
  describe: (record) => `${record.sinks} sinks + ${record.window} window in ${record.cascades} cascades${record.scores ? " (attention scores)" : " (strided)"}${scheduleNote(record)}, stride ${record.stride}`,
  describeLayout: (record) => `, ${layout(record)}`,
};

/** The same cascade that never asks for scores: every comparison ties, so each sub-cache keeps its stride. */
export const cascadingStrided: PolicyDefinition = {
  ...cascading,
  name: "cascading-strided",
  description: "the Cascading KV Cache without attention scores: each sub-cache keeps every 2^i-th token (ties always go to the newer one)",
  signals: [],
  create: (config) => new CascadingPolicy(config, { useScores: false }),
};
