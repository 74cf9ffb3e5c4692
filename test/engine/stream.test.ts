import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { getLlama, type Token } from "node-llama-cpp";
import { Engine } from "../../src/engine/engine.js";
import { ContextShiftError, toRanges } from "../../src/engine/stream.js";
import { createPolicy } from "../../src/policies/registry.js";
import type { CachePolicy } from "../../src/policies/policy.js";
import { Random } from "../../src/util/random.js";
import { fixture, needs } from "../fixtures.js";

/** Every test here but the first streams through stories260K. */
const STORIES = fixture("models/stories260K.gguf");
const SKIP = needs("models/stories260K.gguf");
let engine: Engine;

before(async () => {
  if (!SKIP) engine = await Engine.open({ model: STORIES, gpu: "cpu" });
});
after(async () => {
  if (!SKIP) await engine.close();
});

const story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her dog.";

test("toRanges merges adjacent positions into half-open ranges", () => {
  assert.deepEqual(toRanges([]), []);
  assert.deepEqual(toRanges([3, 4, 5, 9, 11, 12]), [
    { start: 3, end: 6 },
    { start: 9, end: 10 },
    { start: 11, end: 13 },
  ]);
});

test("log-probabilities from the logit filter equal node-llama-cpp's full probability map", { skip: SKIP }, async () => {
  const tokens = engine.tokenize(story, true);
  const stream = await engine.openStream({ policy: createPolicy({ name: "full", sinks: 0, window: 1, cascades: 1 }), stride: 8, totalTokens: tokens.length });
  const { logProbabilities } = await stream.feed(tokens, { logProbabilities: true });
  await engine.closeStream(stream);

  // Independent path: a fresh context, node-llama-cpp's own softmax over the whole vocabulary.
  const llama = await getLlama({ gpu: false, build: "never" });
  const model = await llama.loadModel({ modelPath: STORIES });
  const context = await model.createContext({ contextSize: 256, threads: 2, flashAttention: false });
  const outputs = await context
    .getSequence()
    .controlledEvaluate(tokens.map((token) => [token as Token, { generateNext: { probabilities: true } }]));
  assert.equal(logProbabilities.length, tokens.length - 1);
  let total = 0;
  for (let index = 0; index < tokens.length - 1; index++) {
    const probability = outputs[index]!.next.probabilities!.get(tokens[index + 1] as Token)!;
    assert.ok(Math.abs(logProbabilities[index]! - Math.log(probability)) < 1e-4, `token ${index}: ${logProbabilities[index]} vs ${Math.log(probability)}`);
    total -= logProbabilities[index]!;
  }
  assert.ok(total / (tokens.length - 1) < 3, "stories260K predicts its own kind of text well");
  await context.dispose();
  await model.dispose();
  await llama.dispose();
});

test("after every chunk the cache holds exactly what the policy retains, positions compacted", { skip: SKIP }, async () => {
  const rng = new Random(3);
  const tokens = Array.from({ length: 700 }, () => rng.int(3, 511));
  for (const config of [
    { name: "sink-window", sinks: 4, window: 96, cascades: 1 },
    { name: "cascading", sinks: 4, window: 96, cascades: 4 },
  ] as const) {
    const policy = createPolicy(config) as CachePolicy & { retained(): number[] };
    const stream = await engine.openStream({ policy, stride: 40, totalTokens: tokens.length });
    const seen: number[] = [];
    await stream.feed(tokens, {
      onChunk: (done) => {
        seen.push(done);
        const retained = policy.retained().map((t) => tokens[t - 1]);
        assert.equal(stream.cachedTokens, retained.length, `${config.name} after ${done} tokens`);
        assert.deepEqual(stream.cachedTokenIds(), retained, `${config.name} cache content after ${done} tokens`);
        assert.deepEqual(stream.retained(0, done), policy.retained().map((t) => t - 1), `${config.name} stream indices after ${done} tokens`);
      },
    });
    assert.equal(seen.length, Math.ceil(700 / 40));
    assert.equal(stream.cachedTokens, 100);
    assert.equal(stream.counters.evicted, 600);
    await engine.closeStream(stream);
  }
});

test("greedy generation runs under the policy: one token per chunk, the cache stays bounded", { skip: SKIP }, async () => {
  const tokens = engine.tokenize(story.repeat(6), true);
  const policy = createPolicy({ name: "sink-window", sinks: 4, window: 64, cascades: 1 });
  const stream = await engine.openStream({ policy, stride: 32, totalTokens: tokens.length + 20 });
  await stream.feed(tokens);
  const evictedBefore = stream.counters.evicted;
  const generated = await stream.generate({ maxTokens: 20 });
  assert.equal(generated.length, 20);
  assert.equal(stream.cachedTokens, 68);
  assert.equal(stream.counters.evicted - evictedBefore, 19, "each generated token but the last is evaluated and then evicts one");
  await engine.closeStream(stream);
});

test("neverNext keeps tokens from being the first generated one; stopTokens ends generation after such a token", { skip: SKIP }, async () => {
  const tokens = engine.tokenize(story.repeat(2), true);
  const policy = createPolicy({ name: "full", sinks: 0, window: 0, cascades: 1 });
  const greedy = async (neverNext?: number[], stopTokens?: number[]) => {
    const stream = await engine.openStream({ policy, stride: 64, totalTokens: tokens.length + 20 });
    await stream.feed(tokens, { neverNext });
    const generated = await stream.generate({ maxTokens: 20, stopTokens });
    await engine.closeStream(stream);
    return generated;
  };
  const free = await greedy();
  assert.equal(free.length, 20);
  const banned = await greedy([free[0]!]);
  assert.notEqual(banned[0], free[0], "the greedy first token is excluded");
  const stopped = await greedy(undefined, [free[3]!]);
  assert.deepEqual(stopped, free.slice(0, free.indexOf(free[3]!) + 1), "kept up to and including the stop token");
});

test("a closed stream's context serves the next stream of the same size; streams open together get their own", { skip: SKIP }, async () => {
  const request = () => ({ policy: createPolicy({ name: "sink-window", sinks: 4, window: 60, cascades: 1 }), stride: 30, totalTokens: 500 });
  const first = await engine.openStream(request());
  const used = first.context;
  await engine.closeStream(first);
  const again = await engine.openStream(request());
  assert.equal(again.context, used, "reused, though node-llama-cpp reports the size rounded up");
  const beside = await engine.openStream(request());
  assert.notEqual(beside.context, used);
  await engine.closeStream(again);
  await engine.closeStream(beside);
});

test("a chunk that would make node-llama-cpp shift the context fails loudly instead", { skip: SKIP }, async () => {
  const policy = createPolicy({ name: "full", sinks: 0, window: 1, cascades: 1 });
  const stream = await engine.openStream({ policy, stride: 64, totalTokens: 100 });
  const tokens = Array.from({ length: 400 }, (_, index) => 3 + (index % 500));
  await assert.rejects(stream.feed(tokens), ContextShiftError);
  await engine.closeStream(stream);
});

test("requests the model cannot serve are refused before any work, with the flags named", { skip: SKIP }, () => {
  assert.throws(
    () => engine.validate({ policy: createPolicy({ name: "sink-window", sinks: 64, window: 2048, cascades: 1 }), stride: 512, totalTokens: 9000 }),
    /model context 2048 is too short for sink-window: --sinks 64 \+ --window 2048 \+ --stride 512 = 2624/,
  );
  assert.throws(
    () => engine.validate({ policy: createPolicy({ name: "sink-window", sinks: 0, window: 64, cascades: 1 }), stride: 16, totalTokens: 200 }),
    /--sinks 0 is not supported/,
  );
});

test("a full cache too long for its attention scores gets smaller batches, and says so", { skip: SKIP }, () => {
  const policy = createPolicy({ name: "full", sinks: 0, window: 1, cascades: 1 });
  assert.deepEqual(engine.validate({ policy, stride: 512, totalTokens: 1000 }), []);
  const notes = engine.validate({ policy, stride: 512, totalTokens: 1 << 22 });
  assert.match(notes[0]!, /full cache of 4194304 tokens exceeds the model's trained context/);
  const batch = Number(/batches of (\d+) tokens in its 4194305-cell context/.exec(notes[1]!)?.[1]);
  assert.ok(batch >= 1 && batch < 512, notes[1]);
  assert.equal(engine.contextBatchSize(4194305, 512), batch);
  assert.equal(engine.contextBatchSize(1001, 512), 512);
});

test("cascading gets llama.cpp's attention in every chunk exactly when the binaries measure it; the other policies never ask", { skip: SKIP }, async () => {
  const tokens = engine.sampleTokens(600, 5);
  for (const name of ["cascading", "sink-window", "cascading-strided"] as const) {
    const policy = createPolicy({ name, sinks: 4, window: 128, cascades: 4 });
    const seen: boolean[] = [];
    const recording: CachePolicy = {
      config: policy.config,
      capacity: policy.capacity,
      attentionDecay: policy.attentionDecay,
      update: (appended, attention) => {
        seen.push(attention !== undefined);
        return policy.update(appended, attention);
      },
    };
    const stream = await engine.openStream({ policy: recording, stride: 64, totalTokens: tokens.length });
    await stream.feed(tokens);
    assert.equal(stream.rankedByAttention, name === "cascading" && engine.hardware.attentionScores);
    assert.ok(seen.every((value) => value === stream.rankedByAttention), `${name}: attention given in ${seen.filter(Boolean).length} of ${seen.length} chunks`);
    await engine.closeStream(stream);
  }
});
