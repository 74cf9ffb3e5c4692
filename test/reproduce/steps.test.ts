/** A reproduction's steps as they will run: a sharded reproduction gives every step its shard, and only then. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { planSteps, type ReproduceOptions } from "../../src/reproduce/run.js";

const options: ReproduceOptions = { presets: ["passkey", "pg19"], scale: "ci", gpu: "cpu", progress: false };

test("with --shard every step of every preset runs that shard; without it none does", () => {
  const sharded = planSteps({ ...options, shard: { index: 2, count: 3 } }, "/work");
  assert.ok(sharded.length >= 2);
  for (const step of sharded) assert.deepEqual(step.args.slice(step.args.indexOf("--shard"), step.args.indexOf("--shard") + 2), ["--shard", "2/3"], step.id);
  for (const step of planSteps(options, "/work")) assert.equal(step.args.includes("--shard"), false, step.id);
});
