import { Random } from "../util/random.js";
import { SINKS, WINDOW } from "./parameters.js";
import type { CachePolicy, PolicyConfig, PolicyDefinition, PolicyParameter } from "./policy.js";

/** Seed of the random policy's choices: the same seed makes the same choices on the same stream. */
const EVICTION_SEED: PolicyParameter = { key: "evictionSeed", flag: "--eviction-seed", help: "seed of the random policy's evictions", minimum: 0, default: 0 };

/**
 * The floor any policy must beat: the sinks, plus `window` tokens kept by a seeded uniform choice. Token by token,
 * once the window is full, each arriving token and the window's tokens are equally likely to be the one that leaves.
 */
export class RandomPolicy implements CachePolicy {
  readonly config: Readonly<PolicyConfig>;
  readonly capacity: number;
  readonly attentionDecay = undefined;
  private readonly random: Random;
  private streamLength = 0;
  /**
   * Stream indices of the window's tokens in the order the choices see them (a leaving token's slot takes the
   * arriving one), kept across chunks so that the choices do not depend on how the stream is chunked.
   */
  private readonly window: number[] = [];
  /** 1-based stream indices of the cached tokens, in cache order. */
  private cached: number[] = [];

  constructor(config: PolicyConfig) {
    this.config = Object.freeze({ ...config });
    this.capacity = config.sinks + config.window;
    this.random = new Random(Number(config.evictionSeed ?? 0), "random-policy");
  }

  update(appended: number): number[] {
    const arrived = Array.from({ length: appended }, (_, k) => this.streamLength + k + 1);
    for (const t of arrived) {
      if (t <= this.config.sinks) continue;
      if (this.window.length < this.config.window) {
        this.window.push(t);
        continue;
      }
      const leaving = this.random.int(0, this.window.length);
      if (leaving < this.window.length) this.window[leaving] = t;
    }
    const kept = new Set(this.window);
    const evicted: number[] = [];
    const retained: number[] = [];
    [...this.cached, ...arrived].forEach((t, position) => {
      if (t <= this.config.sinks || kept.has(t)) retained.push(t);
      else evicted.push(position);
    });
    this.cached = retained;
    this.streamLength += appended;
    return evicted;
  }

  retained(): number[] {
    return [...this.cached];
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
