/**
 * What `merge` refuses, on shard folders written here by hand (no model): each reason is one line naming the
 * shards at fault, and nothing is written. A real sharded run merged is in test/cli/shard.test.ts.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../src/errors.js";
import { RunFolder } from "../../src/results/run-folder.js";
import { mergeShards } from "../../src/tasks/merge.js";

const results = mkdtempSync(join(tmpdir(), "cascade-eval-merge-"));
after(() => rmSync(results, { recursive: true, force: true }));

/** Six units of one policy, the shards' assignment written down as the runner would: positions in the plan. */
const UNITS = Array.from({ length: 6 }, (_, at) => `2048-1-${at}|full`);
const ASSIGNED: Record<number, number[]> = { 1: [0, 2, 4], 2: [1, 3, 5] };

interface ShardSpec {
  index: number;
  count?: number;
  seed?: number;
  sha256?: string;
  /** Units of the shard left without a record. */
  unfinished?: number;
  positions?: number[];
  parallel?: number;
}

let made = 0;
/** A shard's run folder as the runner leaves it: run.json with its shard, and one record per finished unit. */
function shardFolder({ index, count = 2, seed = 1, sha256 = "ab".repeat(32), unfinished = 0, positions = ASSIGNED[index]!, parallel = 1 }: ShardSpec): RunFolder {
  const path = join(results, `passkey-shard-${index}-${++made}`);
  mkdirSync(path);
  const units = positions.map((position) => UNITS[position]!);
  const manifest = {
    task: "passkey",
    createdAt: new Date().toISOString(),
    options: { model: `/node-${index}/model.gguf`, lengths: [2048], samples: 6, seed, policies: ["full"], parallel },
    plannedRecords: units.length,
    shard: { index, count, units, positions },
    model: { path: `/node-${index}/model.gguf`, sha256 },
    hardware: { gpu: `node ${index}` },
  };
  writeFileSync(join(path, "run.json"), JSON.stringify(manifest));
  const records = units.slice(0, units.length - unfinished).map((unit) => ({ sampleId: unit.split("|")[0], policy: { name: "full" }, length: 2048, depthBin: 1, score: 1 }));
  writeFileSync(join(path, "samples.jsonl"), records.map((record) => `${JSON.stringify(record)}\n`).join(""));
  return RunFolder.open(path, results);
}

/** The merge's refusal: a UsageError of one line matching `message`, and no merged folder. */
function assertRefused(folders: RunFolder[], message: RegExp): void {
  const output = join(results, `merged-${++made}`);
  assert.throws(
    () => mergeShards(folders, results, output),
    (error: unknown) => error instanceof UsageError && !error.message.includes("\n") && message.test(error.message),
  );
  assert.equal(existsSync(output), false, "nothing written");
  assert.deepEqual(readdirSync(results).filter((name) => name.startsWith(".")), [], "no staging folder left");
}

test("merge refuses a missing shard, a doubled one, other settings or model, unfinished units and runs that are no shards", () => {
  const [first, second] = [shardFolder({ index: 1 }), shardFolder({ index: 2 })];
  assertRefused([first], /shard 2\/2 missing \(given: 1\/2\)/);
  assertRefused([first, shardFolder({ index: 1 }), second], /are both shard 1\/2; give one of them/);
  assertRefused([first, shardFolder({ index: 2, seed: 7 })], /different settings \(options\.seed: 1 vs 7\): not shards of one run/);
  assertRefused([first, shardFolder({ index: 2, sha256: "cd".repeat(32) })], /ran different models \(sha256 abababababab… vs cdcdcdcdcdcd…\)/);
  assertRefused([first, shardFolder({ index: 2, count: 3 })], /is shard 1\/2 and .* shard 2\/3: not shards of one run/);
  assertRefused([first, shardFolder({ index: 2, unfinished: 2 })], /unfinished: shard 2\/2 lacks 2 of 3 units \(2048-1-3\|full, 2048-1-5\|full; continue with: cascade-eval passkey --resume /);
  assertRefused([first, shardFolder({ index: 2, positions: [1, 2, 3] })], /planned different units/);
  const single = shardFolder({ index: 2 });
  rmSync(join(single.path, "run.json"));
  writeFileSync(join(single.path, "run.json"), JSON.stringify({ task: "passkey", options: {}, model: { sha256: "ab".repeat(32) } }));
  assertRefused([first, single], /is not a shard \(it ran without --shard\)/);
  const taken = join(results, "taken");
  mkdirSync(taken);
  assert.throws(() => mergeShards([first, second], results, taken), /already exists; name a new folder with -o/);
});

test("shards may differ in where the model lies, the machine and --parallel; the merge holds their records in plan order", () => {
  const output = join(results, "merged");
  const { folder } = mergeShards([shardFolder({ index: 2, parallel: 4 }), shardFolder({ index: 1 })], results, output);
  assert.equal(folder.path, output);
  const records = folder.records<{ sampleId: string; runId: string }>();
  assert.deepEqual(records.map((record) => `${record.sampleId}|full`), UNITS, "plan order, not shard order");
  assert.ok(records.every((record) => record.runId === "merged"), "each record names the merged run");
  const manifest = folder.manifest<{ shard?: unknown; plannedRecords: number; mergedFrom: { shard: string }[]; options: { parallel: number } }>();
  assert.equal(manifest.shard, undefined);
  assert.equal(manifest.plannedRecords, 6);
  assert.deepEqual(manifest.mergedFrom.map((each) => each.shard), ["1/2", "2/2"]);
  assert.equal(manifest.options.parallel, 1, "shard 1's settings");
  assert.ok(existsSync(join(output, "summary.md")) && existsSync(join(output, "summary.csv")));
});
