// Runs after `cascade-eval extensions build` (npm run test:extensions): llama.cpp's decode timed by phase must
// account for the evaluation it sits in, put the re-rotation in the K-shift phase, and stay off unless asked for.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Engine } from "../../src/engine/engine.js";
import { DECODE_PHASES } from "../../src/engine/extension-runtime.js";
import { createPolicy } from "../../src/policies/registry.js";
import type { PolicyConfig } from "../../src/policies/policy.js";
import { fixture, needs } from "../fixtures.js";

const STORIES = fixture("models/stories260K.gguf");
const SKIP = needs("models/stories260K.gguf");
const phase = (name: (typeof DECODE_PHASES)[number]) => DECODE_PHASES.indexOf(name);

async function phasesOf(config: PolicyConfig, decodeTimings: boolean, tokens = 1500) {
  const engine = await Engine.open({ model: STORIES, gpu: "cpu", threads: 1, decodeTimings });
  try {
    const stream = await engine.openStream({ policy: createPolicy(config), stride: 64, totalTokens: tokens });
    await stream.feed(engine.sampleTokens(tokens, 3));
    const phases = stream.decodePhasesMs();
    const evaluateMs = stream.timings.evaluateMs;
    await engine.closeStream(stream);
    return { timed: engine.hardware.decodeTimings, phases, evaluateMs };
  } finally {
    await engine.close();
  }
}

test("decode phases add up to at most the evaluation, and the evicting stream pays a K-shift the full cache does not", { skip: SKIP }, async () => {
  const evicting = await phasesOf({ name: "cascading-strided", sinks: 4, window: 380, cascades: 4 }, true);
  const full = await phasesOf({ name: "full", sinks: 0, window: 0, cascades: 1 }, true);
  assert.equal(evicting.timed, true, "the loaded binaries carry decode-timings (run `cascade-eval extensions build`)");
  for (const { phases, evaluateMs } of [evicting, full]) {
    assert.equal(phases?.length, DECODE_PHASES.length);
    assert.ok(phases!.every((ms) => ms >= 0), `phases ${phases!.join(", ")}`);
    const sum = phases!.reduce((total, ms) => total + ms, 0);
    assert.ok(sum > 0.5 * evaluateMs && sum <= evaluateMs, `phases sum to ${sum} ms of ${evaluateMs} ms evaluating`);
    assert.ok(phases![phase("launch")]! + phases![phase("wait")]! > phases![phase("inputs")]!, "the model's computation outweighs the host's inputs");
  }
  // without a pending shift the phase is a check of a flag (microseconds); with one, a graph over every layer's keys
  const shift = (phases: number[] | undefined) => phases![phase("K-shift")]!;
  assert.ok(shift(evicting.phases) > 10 * shift(full.phases), `K-shift ${shift(evicting.phases)} ms evicting, ${shift(full.phases)} ms full`);
});

test("decode phases stay untimed unless the engine is asked", { skip: SKIP }, async () => {
  const untimed = await phasesOf({ name: "sink-window", sinks: 4, window: 380, cascades: 1 }, false, 600);
  assert.equal(untimed.timed, false);
  assert.deepEqual(untimed.phases, DECODE_PHASES.map(() => 0));
});
