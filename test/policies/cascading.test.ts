import { test } from "node:test";
import assert from "node:assert/strict";
import { CascadingPolicy, SCHEDULES, type Schedule } from "../../src/policies/cascading.js";
import type { ChunkAttention, PolicyConfig } from "../../src/policies/policy.js";
import { SinkWindowPolicy } from "../../src/policies/sink-window.js";
import { seededRandom, randomAttention, randomChunks, randomInt } from "./random.js";
import { ReferenceCascade, ReferenceSinkWindow } from "./reference.js";

function cascadingConfig(sinks: number, window: number, cascades: number): PolicyConfig {
  return { name: "cascading", sinks, window, cascades };
}

/** How a stream treats scores: attention given to a scoring policy, none given, or given to a non-scoring one. */
const SCORE_MODES = ["attention", "no attention", "scores disabled"] as const;

test("cascading agrees with the step-by-step reference on 1,200 random streams", () => {
  const random = seededRandom(17808);
  let streamsWhereScoresMattered = 0;
  for (let stream = 0; stream < 1200; stream++) {
    const mode = SCORE_MODES[stream % SCORE_MODES.length];
    const sinks = randomInt(random, 0, 8);
    const cascades = randomInt(random, 1, 5);
    const slots = randomInt(random, 1, 20);
    const window = slots * cascades;
    const length = sinks + window + randomInt(random, 0, 8 * slots * 2 ** cascades);
    const label = `stream ${stream}: ${mode}, sinks ${sinks}, ${cascades} x ${slots}, ${length} tokens`;
    const policy = new CascadingPolicy(cascadingConfig(sinks, window, cascades), {
      useScores: mode !== "scores disabled",
    });
    const reference = new ReferenceCascade(sinks, window, cascades, mode === "attention");
    const strided = new ReferenceCascade(sinks, window, cascades, false);
    let scoresMattered = false;
    let cached = 0;
    for (const appended of randomChunks(random, length, sinks + window)) {
      cached += appended;
      const attention = mode === "no attention" ? undefined : randomAttention(random, cached, appended);
      const expected = reference.update(appended, attention);
      const evicted = policy.update(appended, attention);
      assert.deepEqual(evicted, expected.evicted, label);
      assert.deepEqual(policy.retained(), expected.retained, label);
      if (mode === "attention" && !scoresMattered) {
        scoresMattered = strided.update(appended).retained.join() !== expected.retained.join();
      }
      cached -= evicted.length;
    }
    if (scoresMattered) streamsWhereScoresMattered++;
  }
  // Guards the test itself: the random attention must often change the outcome, or `>=` went unexercised.
  assert.ok(streamsWhereScoresMattered > 100, `scores mattered in only ${streamsWhereScoresMattered} streams`);
});

test("cascading with one sub-cache evicts exactly what sink-window evicts", () => {
  const random = seededRandom(4);
  for (let stream = 0; stream < 300; stream++) {
    const sinks = randomInt(random, 0, 8);
    const window = randomInt(random, 1, 60);
    const length = randomInt(random, 1, 12 * (sinks + window));
    const label = `stream ${stream}: sinks ${sinks}, window ${window}, ${length} tokens`;
    const cascading = new CascadingPolicy(cascadingConfig(sinks, window, 1));
    const sinkWindow = new SinkWindowPolicy({ name: "sink-window", sinks, window, cascades: 1 });
    const reference = new ReferenceSinkWindow(sinks, window);
    let cached = 0;
    for (const appended of randomChunks(random, length, sinks + window)) {
      cached += appended;
      const evicted = sinkWindow.update(appended);
      const expected = reference.update(appended);
      assert.deepEqual(evicted, expected.evicted, label);
      assert.deepEqual(sinkWindow.retained(), expected.retained, label);
      // Scores must not matter with a single, always accepting, sub-cache.
      assert.deepEqual(cascading.update(appended, randomAttention(random, cached, appended)), evicted, label);
      assert.deepEqual(cascading.retained(), sinkWindow.retained(), label);
      cached -= evicted.length;
    }
  }
});

/*
 * Span of the strided cascade. "Tokens back" counts from where the next token goes, so the newest cached token
 * is 1 back and the oldest kept token t_old is `t - t_old + 1` back after token t: the convention under which the
 * protocol's (s − 1)(2^C − 1) + C is right for one sub-cache (a window of s tokens reaches s back).
 *
 * For C > 1 the span cannot be one number: the last sub-cache accepts only every 2^(C-1) steps and its oldest
 * token ages meanwhile. Exactly (s >= 2): `phase` steps after the last sub-cache accepted, the span is
 * (s − 1)(2^C − 1) + 1 + phase. The protocol's figure, which adds up the ideal spans (s − 1)·2^i + 1 of the
 * sub-caches, is the span at phase C − 1 (229 for 4 × 16 three steps after an acceptance), inside the range
 * 226..233, and the largest span stays within the round figure s · (2^C − 1) = 240.
 * (With s = 1 the only slot of a sub-cache is also its newest and gets overwritten; the law does not apply.)
 */
function expectedSpan(slots: number, cascades: number, sinks: number, t: number): number {
  const phase = (t - 1 - sinks) % 2 ** (cascades - 1);
  return (slots - 1) * (2 ** cascades - 1) + 1 + phase;
}

test("strided cascade spans (s − 1)(2^C − 1) + 1 + phase back, the protocol's figure at phase C − 1", () => {
  const shapes = [[16, 4], [2, 1], [5, 1], [3, 2], [2, 3], [4, 3], [7, 3], [2, 5], [6, 5], [3, 6]];
  const random = seededRandom(229);
  for (const [slots, cascades] of shapes) {
    const roundFigure = slots * (2 ** cascades - 1);
    const protocolFigure = (slots - 1) * (2 ** cascades - 1) + cascades;
    for (const sinks of [0, 3]) {
      const window = slots * cascades;
      // Steady state: the last sub-cache has taken `slots` tokens under the schedule, twice over.
      const steady = sinks + window + 2 * slots * 2 ** cascades;
      const length = steady + 8 * 2 ** cascades + 50;
      const strides = [[1], [7], [64], randomChunks(random, length, sinks + window)];
      for (const pattern of strides) {
        const feeding = pattern.length === 1 ? `chunks of ${pattern[0]}` : "random chunks";
        const label = `${cascades} x ${slots}, sinks ${sinks}, ${feeding}`;
        const policy = new CascadingPolicy(cascadingConfig(sinks, window, cascades), { useScores: false });
        const reference = new ReferenceCascade(sinks, window, cascades, false);
        const spansSeen = new Set<number>();
        for (let t = 0, chunk = 0; t < length; chunk++) {
          const appended = Math.min(pattern[chunk % pattern.length], length - t);
          t += appended;
          policy.update(appended);
          const oldestKept = policy.retained()[sinks];
          assert.equal(reference.update(appended).retained[sinks], oldestKept, label);
          if (t < steady) continue;
          const span = t - oldestKept + 1;
          assert.equal(span, expectedSpan(slots, cascades, sinks, t), `${label}, after token ${t}`);
          assert.ok(span <= roundFigure, `${label}: span ${span} beyond ${roundFigure}`);
          spansSeen.add(span);
        }
        if (pattern[0] === 1 && pattern.length === 1) {
          // Token by token every phase occurs, the protocol's figure among them.
          const shortest = (slots - 1) * (2 ** cascades - 1) + 1;
          assert.equal(spansSeen.size, 2 ** (cascades - 1), label);
          assert.equal(Math.min(...spansSeen), shortest, label);
          assert.ok(spansSeen.has(protocolFigure), `${label}: never ${protocolFigure} back`);
        }
      }
    }
  }
});

test("the spans of 4 x 16 are 226..233 tokens back, 229 among them, all within 240", () => {
  const policy = new CascadingPolicy(cascadingConfig(0, 64, 4), { useScores: false });
  const spans = new Set<number>();
  for (let t = 1; t <= 2000; t++) {
    policy.update(1);
    if (t > 1000) spans.add(t - policy.retained()[0] + 1);
  }
  assert.deepEqual([...spans].sort((a, b) => a - b), [226, 227, 228, 229, 230, 231, 232, 233]);
});

/** Attention that gives `value` to the listed cache positions and nothing elsewhere. */
function attentionOn(size: number, queries: number, values: Record<number, number>): ChunkAttention {
  const decayedSum = new Float64Array(size);
  for (const [position, value] of Object.entries(values)) decayedSum[Number(position)] = value;
  return { queries, decayedSum };
}

/*
 * Two sub-caches of two slots. Tokens 1..4 fill the cache (sub-cache 1 = [1, 2], sub-cache 0 = [3, 4]); token 5
 * arrives when both accept, so 1 leaves and sub-cache 1 = [2, 3]; token 6 arrives when sub-cache 1 does not
 * accept, so the token 4 that it pushes out of sub-cache 0 competes with the newest of sub-cache 1, token 3.
 */
test("scores matter: a token with more attention keeps its slot where the strided cascade drops it", () => {
  const config = cascadingConfig(0, 4, 2);
  const strided = new CascadingPolicy(config);
  assert.deepEqual(strided.update(6), [0, 2]);
  assert.deepEqual(strided.retained(), [2, 4, 5, 6]);

  const scored = new CascadingPolicy(config);
  assert.deepEqual(scored.update(6, attentionOn(6, 6, { 2: 1 })), [0, 3]);
  assert.deepEqual(scored.retained(), [2, 3, 5, 6]);

  // Equal scores: the arriving token wins (score(x) >= score(z)).
  const tied = new CascadingPolicy(config);
  assert.deepEqual(tied.update(6, attentionOn(6, 6, { 2: 1, 3: 1 })), [0, 2]);
  assert.deepEqual(tied.retained(), [2, 4, 5, 6]);
});

test("scores matter token by token: attention from an earlier chunk, decayed since, still wins", () => {
  const scored = new CascadingPolicy(cascadingConfig(0, 4, 2));
  for (let t = 1; t <= 6; t++) {
    const cached = Math.min(t, 5);
    // Only when token 3 arrives does it receive attention (it sits at position 2).
    const evicted = scored.update(1, attentionOn(cached, 1, t === 3 ? { 2: 1 } : {}));
    assert.deepEqual(evicted, t === 5 ? [0] : t === 6 ? [2] : [], `after token ${t}`);
  }
  assert.deepEqual(scored.retained(), [2, 3, 5, 6]);
});

test("a 1M-token stream through 65,536 + 64 tokens in 4,096-token chunks stays fast", () => {
  const sinks = 64;
  const window = 65536;
  const chunk = 4096;
  const policy = new CascadingPolicy(cascadingConfig(sinks, window, 4));
  const random = seededRandom(1);
  const started = performance.now();
  let cached = 0;
  for (let t = 0; t < 1_048_576; t += chunk) {
    cached += chunk;
    const decayedSum = new Float64Array(cached);
    for (let k = 0; k < cached; k++) decayedSum[k] = random();
    const evicted = policy.update(chunk, { queries: chunk, decayedSum });
    cached -= evicted.length;
    assert.equal(cached, Math.min(t + chunk, sinks + window));
  }
  const seconds = (performance.now() - started) / 1000;
  assert.ok(seconds < 15, `took ${seconds.toFixed(1)} s`);
});

test("the eager fill lasts through t = sinks + window + 1, as in the paper's code (its text stops one token earlier)", () => {
  // 3 sub-caches of 2 slots: token 7 (offset 6) pushes token 3 on to sub-cache 2, whose stride 4 does not divide 6
  const policy = new CascadingPolicy({ name: "cascading", sinks: 0, window: 6, cascades: 3 }, { useScores: false });
  for (let t = 1; t <= 7; t++) policy.update(1);
  // still eager: sub-cache 2 takes token 3 and lets its oldest, token 1, go (the text's rule keeps 1 and drops 2)
  assert.deepEqual(policy.retained(), [2, 3, 4, 5, 6, 7]);
  policy.update(1);
  // token 8 (offset 7) is past it: sub-cache 0 pushes token 6 on, sub-cache 1 (stride 2) does not accept it, and
  // tied with its newest token (5) it takes 5's slot
  assert.deepEqual(policy.retained(), [2, 3, 4, 6, 7, 8]);
});

test("every schedule (pow2, pow3, pow4, linear) agrees with the reference on 1,000 random streams", () => {
  const random = seededRandom(2406);
  const periods: Record<Schedule, (level: number) => number> = { pow2: (i) => 2 ** i, pow3: (i) => 3 ** i, pow4: (i) => 4 ** i, linear: (i) => i + 1 };
  const names = Object.keys(SCHEDULES) as Schedule[];
  assert.deepEqual(names, ["pow2", "pow3", "pow4", "linear"]);
  for (let stream = 0; stream < 1000; stream++) {
    const schedule = names[stream % names.length]!;
    const sinks = randomInt(random, 0, 6);
    const cascades = randomInt(random, 1, 4);
    const window = cascades * randomInt(random, 1, 12);
    const scored = random() < 0.5;
    const policy = new CascadingPolicy({ ...cascadingConfig(sinks, window, cascades), schedule }, { useScores: scored });
    const reference = new ReferenceCascade(sinks, window, cascades, scored, periods[schedule]);
    let cached = 0;
    for (const appended of randomChunks(random, sinks + window + randomInt(random, 0, 40 * window), sinks + window)) {
      cached += appended;
      const attention = randomAttention(random, cached, appended);
      const evicted = policy.update(appended, attention);
      assert.deepEqual(evicted, reference.update(appended, attention).evicted, `stream ${stream}: ${schedule}`);
      cached -= evicted.length;
    }
  }
  // the schedules differ: a pow3 cascade keeps other tokens than pow2 on the same stream
  const kept = (schedule: Schedule) => {
    const policy = new CascadingPolicy({ ...cascadingConfig(0, 12, 3), schedule }, { useScores: false });
    policy.update(100);
    return policy.retained();
  };
  assert.notDeepEqual(kept("pow3"), kept("pow2"));
  assert.notDeepEqual(kept("linear"), kept("pow2"));
});
