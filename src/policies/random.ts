import { Random } from "../util/random.js";
import { SINKS, WINDOW } from "./parameters.js";
import type { CachePolicy, PolicyConfig, PolicyDefinition, PolicyParameter } from "./policy.js";

/** Seed of the random choices (random, bigbird): the same seed makes the same choices on the same stream. */
export const EVICTION_SEED: PolicyParameter = { key: "evictionSeed", flag: "--eviction-seed", help: "seed of the random and bigbird policies' evictions", minimum: 0, default: 0 };

/**
 * A seeded uniform choice of `size` tokens among those offered, one offer at a time: once full, the offered token
 * and each held one are equally likely to be the one that leaves. Kept across chunks, so the choices do not depend
 * on how the stream is chunked.
 */
export class RandomChoice {
  private readonly random: Random;
  /** Stream indices held, in the order the choices see them (a leaving token's slot takes the offered one). */
  private readonly held: number[] = [];
  private heldSet = new Set<number>();

  constructor(
    private readonly size: number,
    seed: number,
    stream: string,
  ) {
    this.random = new Random(seed, stream);
  }

  offer(t: number): void {
    if (this.held.length < this.size) {
      this.held.push(t);
      this.heldSet.add(t);
      return;
    }
    const leaving = this.random.int(0, this.held.length);
    if (leaving === this.held.length) return;
    this.heldSet.delete(this.held[leaving]!);
    this.held[leaving] = t;
    this.heldSet.add(t);
  }

  has(t: number): boolean {
    return this.heldSet.has(t);
  }
}

/**
 * A bounded cache that keeps the sinks, the newest `recent` tokens and a seeded random choice of the older ones:
 * each token that leaves the recent window is offered to the choice. With recent = 0 that is the random policy.
 */
export class RandomlyThinnedCache implements CachePolicy {
  readonly config: Readonly<PolicyConfig>;
  readonly capacity: number;
  readonly attentionDecay = undefined;
  private readonly choice: RandomChoice;
  private streamLength = 0;
  /** 1-based stream indices of the cached tokens, in cache order. */
  private cached: number[] = [];

  constructor(
    config: PolicyConfig,
    private readonly recent: number,
    stream: string,
  ) {
    this.config = Object.freeze({ ...config });
    this.capacity = config.sinks + config.window;
    this.choice = new RandomChoice(config.window - recent, Number(config.evictionSeed ?? 0), stream);
  }

  update(appended: number): number[] {
    const arrived = Array.from({ length: appended }, (_, k) => this.streamLength + k + 1);
    this.streamLength += appended;
    const { sinks } = this.config;
    // tokens sinks + 1 … newest − recent have left the recent window: offer those that had not been offered yet
    const leftRecent = this.streamLength - this.recent;
    for (let t = Math.max(sinks + 1, leftRecent - appended + 1); t <= leftRecent; t++) this.choice.offer(t);
    const evicted: number[] = [];
    const retained: number[] = [];
    [...this.cached, ...arrived].forEach((t, position) => {
      if (t <= sinks || t > leftRecent || this.choice.has(t)) retained.push(t);
      else evicted.push(position);
    });
    this.cached = retained;
    return evicted;
  }

  retained(): number[] {
    return [...this.cached];
  }
}

/** The floor any policy must beat: the sinks plus `window` tokens kept by a seeded uniform choice. */
export class RandomPolicy extends RandomlyThinnedCache {
  constructor(config: PolicyConfig) {
    super(config, 0, "random-policy");
  }
}

export const random: PolicyDefinition = {
  name: "random",
  description: "the floor any policy must beat: the attention sinks plus a seeded uniformly random choice of the other tokens",
  parameters: [SINKS, WINDOW, EVICTION_SEED],
  bounded: true,
  signals: [],
  create: (config) => new RandomPolicy(config),
  describe: (record) => `${record.sinks} sinks + ${record.window} random (seed ${String(record.evictionSeed)}), stride ${record.stride}`,
};
