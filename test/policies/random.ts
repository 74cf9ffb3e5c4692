/** Seeded randomness for the policy tests, so that a failing stream can be replayed from its seed. */
import type { ChunkAttention } from "../../src/policies/policy.js";
import { Random as SeededGenerator } from "../../src/util/random.js";

export type Random = () => number;

/** The project's own seeded generator as a function returning floats in [0, 1). */
export function seededRandom(seed: number): Random {
  const generator = new SeededGenerator(seed, "policy-tests");
  return () => generator.uniform();
}

/** Integer in [low, high]. */
export function randomInt(random: Random, low: number, high: number): number {
  return low + Math.floor(random() * (high - low + 1));
}

/** Chunk sizes summing to `length`, at most 3 × the cache size: a third of them up to 3, a third up to the cache. */
export function randomChunks(random: Random, length: number, cacheSize: number): number[] {
  const chunks: number[] = [];
  for (let remaining = length; remaining > 0; ) {
    const draw = random();
    const upper = draw < 1 / 3 ? 3 : draw < 2 / 3 ? cacheSize : 3 * cacheSize;
    const size = Math.min(remaining, randomInt(random, 1, upper));
    chunks.push(size);
    remaining -= size;
  }
  return chunks;
}

/**
 * Attention for one chunk over `size` cached tokens. Mostly small integers, often all zero, so that equal scores
 * (and so the `>=` of the protocol) come up all the time; sometimes arbitrary floats.
 */
export function randomAttention(random: Random, size: number, queries: number): ChunkAttention {
  const decayedSum = new Float64Array(size);
  const kind = random();
  for (let k = 0; k < size; k++) {
    if (kind < 0.4) decayedSum[k] = randomInt(random, 0, 2);
    else if (kind < 0.7) decayedSum[k] = random() < 0.1 ? 1 : 0;
    else if (kind < 0.8) decayedSum[k] = 0;
    else decayedSum[k] = random() * queries;
  }
  return { queries, decayedSum };
}
