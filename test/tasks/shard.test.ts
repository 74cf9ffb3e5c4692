/**
 * Sharding's planner: --shard K/N and auto/N from the job array's variables, and the assignment of units to shards
 * (disjoint, complete, deterministic, and balanced by tokens on the paper's passkey grid as the passkey task plans it).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { PolicyName } from "../../src/policies/policy.js";
import { loadReproduceConfig } from "../../src/reproduce/presets.js";
import { loadPasskeyConfig } from "../../src/tasks/passkey/config.js";
import { passkeyTask, planUnits, type PasskeyOptions } from "../../src/tasks/passkey/run.js";
import { assignShards, parseShard, shardPositions } from "../../src/tasks/shard.js";
import { parseLengths } from "../../src/util/lengths.js";

/** A passkey step of the paper preset as options: its --len, --window and --policy, the rest the task's defaults. */
function stepOptions(args: readonly string[]): PasskeyOptions {
  const flag = (name: string) => {
    const at = args.indexOf(name);
    return at < 0 ? undefined : args[at + 1];
  };
  const defaults = loadPasskeyConfig().defaults;
  return {
    model: "unused",
    lengths: parseLengths(flag("--len")!),
    depths: [0.2, 0.4, 0.6, 0.8, 1.0],
    samples: defaults.samples,
    seed: 1,
    policies: flag("--policy")!.split(",") as PolicyName[],
    window: flag("--window") === undefined ? undefined : Number(flag("--window")),
    cascades: defaults.cascades,
    filler: "words",
  };
}

test("on the paper's passkey grid the largest shard's tokens are within 10% of the mean, every unit in exactly one shard", () => {
  const steps = loadReproduceConfig().presets.passkey.paper;
  assert.ok(steps.length >= 3, "the paper preset's passkey steps");
  for (const step of steps) {
    const units = planUnits(stepOptions(step.args), loadPasskeyConfig());
    const costs = units.map((unit) => passkeyTask.unitTokens(unit));
    assert.ok(new Set(costs).size > 1, `${step.id}: units of several lengths, so that balancing is tested`);
    for (const count of [2, 3, 4, 8]) {
      const assigned = assignShards(costs, count);
      assert.equal(assigned.length, units.length);
      const loads = new Array<number>(count).fill(0);
      assigned.forEach((shard, position) => (loads[shard]! += costs[position]!));
      const mean = costs.reduce((a, b) => a + b, 0) / count;
      assert.ok(Math.max(...loads) <= 1.1 * mean, `${step.id}, ${count} shards: largest ${Math.max(...loads)} tokens against a mean of ${mean}`);
      const positions = Array.from({ length: count }, (_, index) => shardPositions(costs, { index: index + 1, count })).flat();
      assert.deepEqual([...positions].sort((a, b) => a - b), units.map((_, position) => position), `${step.id}, ${count} shards: disjoint and complete`);
      assert.deepEqual(assignShards(costs, count), assigned, "the same plan gives the same shards");
    }
  }
});

test("the assignment weighs units by their tokens: a 1M-token unit is a shard's whole share, not one unit of many", () => {
  const K32 = 32_768;
  // one 1M unit and 32 units of 32K (1M together): two shards of 1M each
  const costs = [K32, K32, 1_048_576, ...new Array<number>(30).fill(K32)];
  const assigned = assignShards(costs, 2);
  assert.deepEqual(assigned.filter((shard) => shard === assigned[2]).length, 1, "the 1M unit alone");
  // shard positions keep plan order within a shard
  const positions = shardPositions(costs, { index: 2, count: 2 });
  assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
});

test("--shard K/N is 1-based; auto/N reads SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX + 1; bad input is one clear error", () => {
  assert.deepEqual(parseShard("2/3", {}), { index: 2, count: 3 });
  assert.deepEqual(parseShard("auto/3", { SLURM_ARRAY_TASK_ID: "3" }), { index: 3, count: 3 });
  assert.deepEqual(parseShard("auto/3", { JOB_COMPLETION_INDEX: "0" }), { index: 1, count: 3 });
  assert.deepEqual(parseShard("auto/4", { SLURM_ARRAY_TASK_ID: "2", JOB_COMPLETION_INDEX: "0" }), { index: 2, count: 4 }, "Slurm first");
  assert.throws(() => parseShard("auto/3", {}), /neither is set/);
  assert.throws(() => parseShard("auto/3", { SLURM_ARRAY_TASK_ID: "0" }), /SLURM_ARRAY_TASK_ID=0 .*out of range: shards are 1 to 3/);
  assert.throws(() => parseShard("auto/3", { JOB_COMPLETION_INDEX: "3" }), /JOB_COMPLETION_INDEX=3 .*out of range/);
  assert.throws(() => parseShard("auto/3", { SLURM_ARRAY_TASK_ID: "x" }), /must be a whole number/);
  for (const bad of ["0/3", "4/3", "1/0", "3", "a/b", "1/3/2"]) assert.throws(() => parseShard(bad, {}), /--shard/, bad);
});
