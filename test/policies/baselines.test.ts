/**
 * The baselines (h2o, tova, snapkv, bigbird) against slow references on random streams with random scores, their
 * invariants, and bigbird's reproducibility from its seed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { BigBirdPolicy } from "../../src/policies/bigbird.js";
import { H2oPolicy } from "../../src/policies/h2o.js";
import type { CachePolicy, PolicyConfig } from "../../src/policies/policy.js";
import { createPolicy, policyConfig, validatePolicyConfig } from "../../src/policies/registry.js";
import { SnapKvPolicy } from "../../src/policies/snapkv.js";
import { TovaPolicy } from "../../src/policies/tova.js";
import { randomAttention, randomChunks, randomInt, seededRandom, type Random } from "./random.js";
import { referenceH2o, referenceSnapKv, referenceTova, type ReferenceStep } from "./reference.js";

type Inspectable = CachePolicy & { retained(): number[] };

/** Streams random chunks (and random attention, over the observed queries where the policy observes fewer) through both. */
function compare(random: Random, label: string, policy: Inspectable, reference: { update: Inspectable["update"] extends (...args: infer A) => unknown ? (...args: A) => ReferenceStep : never }, length: number): void {
  const { sinks, window } = policy.config;
  let cached = 0;
  let streamLength = 0;
  for (const appended of randomChunks(random, length, sinks + window)) {
    streamLength += appended;
    const queries = Math.min(appended, policy.observedQueries ?? appended);
    const attention = randomAttention(random, cached + appended, queries);
    const evicted = policy.update(appended, attention);
    const expected = reference.update(appended, attention);
    assert.deepEqual(evicted, expected.evicted, `${label}: evictions at stream length ${streamLength}`);
    assert.deepEqual(policy.retained(), expected.retained, `${label}: retained at stream length ${streamLength}`);
    cached += appended - evicted.length;
    assert.equal(cached, Math.min(streamLength, sinks + window), `${label}: the cache fills and then stays full`);
    const retained = policy.retained();
    for (let k = 0; k < Math.min(sinks, streamLength); k++) assert.equal(retained[k], k + 1, `${label}: sink ${k + 1} missing`);
  }
}

const shape = (random: Random, name: string): PolicyConfig => ({ name, sinks: randomInt(random, 0, 6), window: randomInt(random, 1, 40), cascades: 1 });

test("h2o equals its one-eviction-at-a-time reference on 1,000 random streams", () => {
  const random = seededRandom(26);
  for (let index = 0; index < 1000; index++) {
    const config = { ...shape(random, "h2o"), recentPercent: randomInt(random, 0, 100) };
    const recent = Math.floor((config.window * config.recentPercent) / 100);
    const label = `stream ${index}: h2o ${JSON.stringify(config)}`;
    compare(random, label, new H2oPolicy(config), referenceH2o(config.sinks, config.window, recent), randomInt(random, 1, 12 * (config.sinks + config.window)));
  }
});

test("tova equals its reference on 1,000 random streams", () => {
  const random = seededRandom(27);
  for (let index = 0; index < 1000; index++) {
    const config = shape(random, "tova");
    compare(random, `stream ${index}: tova ${JSON.stringify(config)}`, new TovaPolicy(config), referenceTova(config.sinks, config.window), randomInt(random, 1, 12 * (config.sinks + config.window)));
  }
});

test("snapkv equals its reference on 1,000 random streams, and observes only its last queries", () => {
  const random = seededRandom(28);
  for (let index = 0; index < 1000; index++) {
    const base = shape(random, "snapkv");
    const config = { ...base, observe: randomInt(random, 1, base.window), poolKernel: 2 * randomInt(random, 0, 3) + 1 };
    const policy = new SnapKvPolicy(config);
    assert.equal(policy.observedQueries, config.observe);
    compare(random, `stream ${index}: snapkv ${JSON.stringify(config)}`, policy, referenceSnapKv(config.sinks, config.window, config.observe, config.poolKernel), randomInt(random, 1, 12 * (config.sinks + config.window)));
  }
});

test("bigbird keeps the sinks and its recent window, thins the rest at random, and repeats itself from the seed", () => {
  const random = seededRandom(29);
  for (let index = 0; index < 1000; index++) {
    const config = { ...shape(random, "bigbird"), recentPercent: randomInt(random, 0, 100), evictionSeed: randomInt(random, 0, 3) };
    const recent = Math.floor((config.window * config.recentPercent) / 100);
    const chunks = randomChunks(random, randomInt(random, 1, 12 * (config.sinks + config.window)), config.sinks + config.window);
    const label = `stream ${index}: bigbird ${JSON.stringify(config)}`;
    const run = (chunking: readonly number[]) => {
      const policy = new BigBirdPolicy(config);
      let streamLength = 0;
      for (const appended of chunking) {
        streamLength += appended;
        policy.update(appended);
        const retained = policy.retained();
        assert.equal(retained.length, Math.min(streamLength, config.sinks + config.window), label);
        retained.forEach((t, k) => k > 0 && assert.ok(t > retained[k - 1]!, `${label}: out of stream order`));
        for (let k = 0; k < Math.min(config.sinks, streamLength); k++) assert.equal(retained[k], k + 1, `${label}: sink ${k + 1} missing`);
        const newest = Array.from({ length: Math.min(recent, streamLength - Math.min(config.sinks, streamLength)) }, (_, k) => streamLength - k);
        for (const t of newest) assert.ok(retained.includes(t), `${label}: recent token ${t} evicted`);
      }
      return policy.retained();
    };
    const retained = run(chunks);
    // the same seed makes the same choices, however the stream is chunked
    const length = chunks.reduce((a, b) => a + b, 0);
    assert.deepEqual(run(Array.from({ length }, () => 1)), retained, `${label}: token by token`);
  }
  // a different seed makes different choices
  const config = { name: "bigbird", sinks: 4, window: 64, cascades: 1, recentPercent: 50, evictionSeed: 1 };
  const kept = (seed: number) => {
    const policy = new BigBirdPolicy({ ...config, evictionSeed: seed });
    policy.update(4096);
    return policy.retained();
  };
  assert.notDeepEqual(kept(1), kept(2));
  assert.deepEqual(kept(1), kept(1));
});

test("the baselines' parameters: defaults, bounds and one-line errors", () => {
  assert.deepEqual(
    Object.fromEntries(["h2o", "snapkv", "bigbird"].map((name) => [name, policyConfig(name, { sinks: 64, window: 1024, cascades: 4 }, {})])),
    {
      h2o: { name: "h2o", sinks: 64, window: 1024, cascades: 4, recentPercent: 50 },
      snapkv: { name: "snapkv", sinks: 64, window: 1024, cascades: 4, observe: 32, poolKernel: 5 },
      bigbird: { name: "bigbird", sinks: 64, window: 1024, cascades: 4, recentPercent: 50, evictionSeed: 0 },
    },
  );
  const base = { sinks: 4, window: 16, cascades: 1 };
  assert.throws(() => validatePolicyConfig({ name: "h2o", ...base, recentPercent: 101 }), /--recent-percent must be at most 100 \(got 101\)/);
  assert.throws(() => validatePolicyConfig({ name: "snapkv", ...base, observe: 17, poolKernel: 5 }), /--observe 17 is larger than --window 16/);
  assert.throws(() => validatePolicyConfig({ name: "snapkv", ...base, observe: 8, poolKernel: 4 }), /--pool-kernel must be odd \(got 4\)/);
  assert.equal(createPolicy({ name: "tova", ...base }).attentionDecay, 0, "TOVA reads the newest query alone");
  assert.equal(createPolicy({ name: "h2o", ...base, recentPercent: 50 }).attentionDecay, 1, "H2O sums every query");
  assert.equal(createPolicy({ name: "bigbird", ...base, recentPercent: 50, evictionSeed: 0 }).attentionDecay, undefined, "BigBird needs no scores");
});
