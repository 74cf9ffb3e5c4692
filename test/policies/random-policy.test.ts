import { test } from "node:test";
import assert from "node:assert/strict";
import type { PolicyConfig } from "../../src/policies/policy.js";
import { RandomPolicy } from "../../src/policies/random.js";
import { createPolicy, describePolicy, policyConfig, policyDefinition } from "../../src/policies/registry.js";
import { randomChunks, randomInt, seededRandom } from "./random.js";

const config = (sinks: number, window: number, evictionSeed: number): PolicyConfig => ({ name: "random", sinks, window, cascades: 1, evictionSeed });

/** Streams `chunks` through a fresh policy, checking every chunk's decision; returns the retained stream indices. */
function stream(policy: RandomPolicy, chunks: readonly number[], label: string): number[] {
  const { sinks, window } = policy.config;
  let streamLength = 0;
  let cached = 0;
  for (const appended of chunks) {
    streamLength += appended;
    const evicted = policy.update(appended);
    evicted.forEach((position, k) => {
      assert.ok(Number.isInteger(position) && position >= Math.min(sinks, streamLength) && position < cached + appended, `${label}: evicted ${position}`);
      if (k > 0) assert.ok(position > evicted[k - 1]!, `${label}: evictions not strictly ascending`);
    });
    cached += appended - evicted.length;
    assert.equal(cached, Math.min(streamLength, sinks + window), `${label}: the cache fills and then stays full`);
    const retained = policy.retained();
    assert.equal(retained.length, cached, label);
    retained.forEach((t, k) => {
      assert.ok(t >= 1 && t <= streamLength, label);
      if (k > 0) assert.ok(t > retained[k - 1]!, `${label}: out of stream order`);
      if (k < Math.min(sinks, streamLength)) assert.equal(t, k + 1, `${label}: sink ${k + 1} missing`);
    });
  }
  return policy.retained();
}

test("random keeps the sinks, stays in order and never over budget, whatever the chunks", () => {
  const random = seededRandom(5);
  for (let index = 0; index < 1000; index++) {
    const sinks = randomInt(random, 0, 6);
    const window = randomInt(random, 1, 40);
    const length = randomInt(random, 1, 20 * (sinks + window));
    stream(new RandomPolicy(config(sinks, window, index)), randomChunks(random, length, sinks + window), `stream ${index}`);
  }
});

test("random's choices depend on the seed and the tokens only: the same for any chunking, and reproducible", () => {
  const random = seededRandom(6);
  for (let index = 0; index < 200; index++) {
    const sinks = randomInt(random, 0, 4);
    const window = randomInt(random, 1, 30);
    const length = randomInt(random, sinks + window + 1, 15 * (sinks + window));
    const oneByOne = stream(new RandomPolicy(config(sinks, window, index)), Array.from({ length }, () => 1), `stream ${index}`);
    const chunked = stream(new RandomPolicy(config(sinks, window, index)), randomChunks(random, length, sinks + window), `stream ${index}`);
    assert.deepEqual(chunked, oneByOne, `stream ${index}`);
  }
  const a = stream(new RandomPolicy(config(2, 50, 1)), [1000], "seed 1");
  const b = stream(new RandomPolicy(config(2, 50, 2)), [1000], "seed 2");
  assert.notDeepEqual(a, b);
});

test("every token and the window's tokens are equally likely to leave: survival matches (w/(w+1))^arrivals", () => {
  // Sinks 1, window 4, 12 tokens: token t > 5 survives its own arrival and each later one with probability 4/5;
  // a token of the initial fill survives the 7 arrivals after it.
  const [sinks, window, length, streams] = [1, 4, 12, 20000];
  const kept = new Array<number>(length + 1).fill(0);
  for (let seed = 0; seed < streams; seed++) for (const t of stream(new RandomPolicy(config(sinks, window, seed)), [length], "survival")) kept[t]! += 1;
  const stay = window / (window + 1);
  for (let t = 2; t <= length; t++) {
    const arrivals = t <= sinks + window ? length - (sinks + window) : length - t + 1;
    const expected = stay ** arrivals;
    const sd = Math.sqrt((expected * (1 - expected)) / streams);
    assert.ok(Math.abs(kept[t]! / streams - expected) < 5 * sd, `token ${t}: kept ${kept[t]! / streams}, expected ${expected.toFixed(4)}`);
  }
  assert.equal(kept[1], streams, "the sink always stays");
});

test("random is a registered policy: its own parameter has a flag and a default, and its records describe it", () => {
  const definition = policyDefinition("random");
  assert.deepEqual(definition.parameters.map((parameter) => parameter.flag), ["--sinks", "--window", "--eviction-seed"]);
  const planned = policyConfig("random", { sinks: 4, window: 64, cascades: 4 }, {});
  assert.deepEqual(planned, { name: "random", sinks: 4, window: 64, cascades: 4, evictionSeed: 0 });
  assert.equal(policyConfig("random", { sinks: 4, window: 64, cascades: 4 }, { evictionSeed: 9 }).evictionSeed, 9);
  assert.equal(createPolicy(planned).capacity, 68);
  assert.throws(() => createPolicy({ ...planned, evictionSeed: -1 }), /--eviction-seed must be an integer >= 0 \(got -1\)/);
  assert.equal(describePolicy({ ...planned, stride: 32, scores: false }), "4 sinks + 64 random (seed 0), stride 32");
});
