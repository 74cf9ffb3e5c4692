import { test } from "node:test";
import assert from "node:assert/strict";
import { CascadingPolicy } from "../../src/policies/cascading.js";
import { FullPolicy } from "../../src/policies/full.js";
import type { CachePolicy, PolicyConfig } from "../../src/policies/policy.js";
import { SinkWindowPolicy } from "../../src/policies/sink-window.js";
import { seededRandom, randomAttention, randomChunks, randomInt } from "./random.js";

type InspectablePolicy = CachePolicy & { retained(): number[] };

const POLICY_MAKERS: Record<string, (config: PolicyConfig) => InspectablePolicy> = {
  full: (config) => new FullPolicy({ ...config, name: "full" }),
  "sink-window": (config) => new SinkWindowPolicy({ ...config, name: "sink-window" }),
  "cascading with scores": (config) => new CascadingPolicy({ ...config, name: "cascading" }),
  "strided cascading": (config) => new CascadingPolicy({ ...config, name: "cascading" }, { useScores: false }),
};

test("every policy keeps its invariants on random streams", () => {
  const random = seededRandom(99);
  for (let stream = 0; stream < 400; stream++) {
    const cascades = randomInt(random, 1, 5);
    const config: PolicyConfig = {
      name: "cascading",
      sinks: randomInt(random, 0, 8),
      window: cascades * randomInt(random, 1, 20),
      cascades,
    };
    const cacheSize = config.sinks + config.window;
    const length = randomInt(random, 1, 30 * cacheSize);
    const chunks = randomChunks(random, length, cacheSize);
    for (const [name, make] of Object.entries(POLICY_MAKERS)) {
      const label = `stream ${stream}: ${name}, sinks ${config.sinks}, ${cascades} x ${config.window / cascades}`;
      const policy = make(config);
      const bounded = name !== "full";
      assert.equal(policy.capacity, bounded ? cacheSize : Infinity, label);
      let streamLength = 0;
      let cached = 0;
      for (const appended of chunks) {
        streamLength += appended;
        const afterAppend = cached + appended;
        const scored = policy.attentionDecay !== undefined;
        const attention = scored ? randomAttention(random, afterAppend, appended) : undefined;
        const evicted = policy.update(appended, attention);
        evicted.forEach((position, k) => {
          assert.ok(Number.isInteger(position) && position >= 0 && position < afterAppend, `${label}: ${position}`);
          if (k > 0) assert.ok(position > evicted[k - 1], `${label}: evictions not strictly ascending`);
          assert.ok(position >= Math.min(config.sinks, streamLength), `${label}: sink at ${position} evicted`);
        });
        cached = afterAppend - evicted.length;
        // The cache fills completely first and then stays full.
        assert.equal(cached, bounded ? Math.min(streamLength, cacheSize) : streamLength, label);
        const retained = policy.retained();
        assert.equal(retained.length, cached, label);
        retained.forEach((t, k) => {
          assert.ok(t >= 1 && t <= streamLength, `${label}: stream index ${t}`);
          if (k > 0) assert.ok(t > retained[k - 1], `${label}: retained out of stream order`);
          if (k < config.sinks && k < streamLength) assert.equal(t, k + 1, `${label}: sink ${k + 1} missing`);
        });
        // The newest token is always kept: sub-cache 0 (or the window) accepts every arrival.
        if (bounded && streamLength > config.sinks) assert.equal(retained[retained.length - 1], streamLength, label);
      }
    }
  }
});
