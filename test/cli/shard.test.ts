/**
 * A passkey run sharded in three (--shard k/3, the third from SLURM_ARRAY_TASK_ID through --shard auto/3), merged,
 * against the same run in one process: the same records, answers, scores and tables. Then what merge refuses, in one
 * line (the others are in test/tasks/merge.test.ts); and a shard resumed as itself.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import {
  assertSucceeded,
  cli,
  cliWith,
  explain,
  onlyRunFolder,
  QUIET,
  readRecords,
  removeTemporaryFolders,
  startCli,
  STORIES,
  STORIES_FIXTURE,
  tempFolder,
  unitOf,
  type CliResult,
  type PasskeyRecord,
} from "./helpers.js";
import { needs } from "../fixtures.js";

/** 1 length × 2 depths × 2 samples × 3 policies = 12 units (two depths, not five, to keep the test short). */
const FLAGS = ["passkey", "--model", STORIES, "--len", "2K", "--samples", "2", "--depths", "0.5,1.0"];
const UNITS = 12;
const SKIP = needs(STORIES_FIXTURE);

const work = tempFolder();
let single: string;
/** The shards' run folders, shard 1/3 first. */
let shards: string[];

before(async () => {
  if (SKIP) return;
  const results = (name: string) => join(work, name);
  // all four at once: the three shards and the single run share nothing but the model file
  const runs = await Promise.all([
    startCli([...FLAGS, "--results", results("single"), ...QUIET]).done,
    startCli([...FLAGS, "--shard", "1/3", "--results", results("shard-1"), ...QUIET]).done,
    startCli([...FLAGS, "--shard", "2/3", "--results", results("shard-2"), ...QUIET]).done,
    startCli([...FLAGS, "--shard", "auto/3", "--results", results("shard-3"), ...QUIET], undefined, { SLURM_ARRAY_TASK_ID: "3", JOB_COMPLETION_INDEX: "" }).done,
  ]);
  for (const run of runs) assertSucceeded(run);
  single = onlyRunFolder(results("single"));
  shards = [1, 2, 3].map((index) => onlyRunFolder(results(`shard-${index}`)));
});

after(removeTemporaryFolders);

const manifest = (folder: string) => JSON.parse(readFileSync(join(folder, "run.json"), "utf8")) as { shard?: { index: number; count: number; units: string[] }; options: unknown; plannedRecords: number };
/** A table with its run's id taken out, so that two runs' tables compare. */
const withoutRunId = (text: string, folder: string) => text.replaceAll(basename(folder), "RUN");

/** What one process and the merged shards must agree on, record by record. */
const outcome = (record: PasskeyRecord) => ({
  unit: unitOf(record),
  key: record.key,
  keyPosition: record.keyPosition,
  promptTokens: record.promptTokens,
  keyRetained: record.keyRetained,
  answer: record.answer,
  score: record.score,
  policy: record.policy,
});

function assertOneLineError(result: CliResult, message: RegExp): void {
  assert.equal(result.code, 2, explain(result));
  assert.equal(result.stdout, "", "no table");
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line\n${explain(result)}`);
  assert.match(lines[0]!, /^cascade-eval: /);
  assert.match(lines[0]!, message);
}

test("three shards split the run's units between them, balanced, each recorded in its run.json", { skip: SKIP }, () => {
  const recorded = shards.map((folder) => manifest(folder).shard!);
  assert.deepEqual(recorded.map((shard) => [shard.index, shard.count]), [[1, 3], [2, 3], [3, 3]], "the third from SLURM_ARRAY_TASK_ID");
  const units = recorded.flatMap((shard) => shard.units);
  assert.equal(new Set(units).size, UNITS, "disjoint, and all of the run's units");
  assert.deepEqual(units.sort(), readRecords(single).map(unitOf).sort());
  for (const [at, folder] of shards.entries()) {
    assert.equal(readRecords(folder).length, recorded[at]!.units.length, "each shard ran its own units only");
    assert.equal(manifest(folder).plannedRecords, recorded[at]!.units.length);
    assert.deepEqual(manifest(folder).options, manifest(single).options, "the same settings as the single run");
  }
  // equal tokens per unit: 12 units split 4 / 4 / 4
  assert.deepEqual(recorded.map((shard) => shard.units.length), [4, 4, 4]);
});

test("the merged shards hold the single run's records, in its order, and its tables", { skip: SKIP }, async () => {
  const output = join(work, "merged", "passkey-merged");
  const merged = await cli(["merge", ...shards, "-o", output, "--format", "csv"]);
  assertSucceeded(merged);
  const records = readRecords(output);
  const reference = readRecords(single);
  assert.deepEqual(records.map(outcome), reference.map(outcome));
  for (const record of records) assert.equal(record.runId, "passkey-merged", "records name the merged run");
  assert.equal(manifest(output).shard, undefined, "the merged run is no shard");
  assert.equal(manifest(output).plannedRecords, UNITS);
  for (const file of ["summary.md", "summary.csv"])
    assert.equal(withoutRunId(readFileSync(join(output, file), "utf8"), output), withoutRunId(readFileSync(join(single, file), "utf8"), single), file);
  assert.equal(withoutRunId(merged.stdout, output), withoutRunId(readFileSync(join(single, "summary.csv"), "utf8"), single), "the printed tables");
  const rebuilt = await cli(["table", output, "--format", "csv"]);
  assertSucceeded(rebuilt);
  assert.equal(rebuilt.stdout, merged.stdout, "table rebuilds the same tables from the merged folder");
});

test("merge refuses an incomplete set of shards in one line and exit 2, writing nothing (every refusal: test/tasks/merge.test.ts)", { skip: SKIP }, async () => {
  const output = join(work, "refused");
  assertOneLineError(await cli(["merge", shards[0]!, shards[1]!, "-o", output]), /shard 3\/3 missing \(given: 1\/3, 2\/3\)/);
  assert.equal(existsSync(output), false);
  assert.deepEqual(readdirSync(work).filter((name) => name.startsWith(".")), [], "no staging folder left behind");
});

test("a shard resumes as itself: only its missing units run, and --shard cannot be given again", { skip: SKIP }, async () => {
  const folder = join(work, "resumed");
  cpSync(shards[1]!, folder, { recursive: true });
  const before = readRecords(folder);
  writeFileSync(join(folder, "samples.jsonl"), before.slice(0, -3).map((record) => `${JSON.stringify(record)}\n`).join(""));
  assertOneLineError(await cli(["passkey", "--resume", folder, "--shard", "2/3", ...QUIET]), /drop --shard/);
  const resumed = await cli(["passkey", "--resume", folder, ...QUIET]);
  assertSucceeded(resumed);
  assert.match(resumed.stderr, /^4 of 4 samples in /m);
  assert.deepEqual(readRecords(folder).map(outcome), before.map(outcome));
});

test("--shard auto/N without a job array's index, or out of its range, is one line before any model loads", async () => {
  const none = { SLURM_ARRAY_TASK_ID: "", JOB_COMPLETION_INDEX: "" };
  assertOneLineError(await cliWith(none, ["passkey", "--shard", "auto/3", ...QUIET]), /neither is set; give --shard K\/3/);
  assertOneLineError(await cliWith({ ...none, SLURM_ARRAY_TASK_ID: "4" }, ["passkey", "--shard", "auto/3", ...QUIET]), /SLURM_ARRAY_TASK_ID=4 .*out of range: shards are 1 to 3/);
  const bench = await cli(["bench", "--shard", "1/2", ...QUIET]);
  assert.equal(bench.code, 2, explain(bench));
  assert.match(bench.stderr, /unknown option '--shard'/, "bench takes no --shard");
});
