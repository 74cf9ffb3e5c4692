/**
 * Interrupted runs: stopped with SIGTERM (graceful: finish the chunk, write the summary, exit 130), killed with
 * SIGKILL, or left with a torn last line; `--resume` must end with exactly the records an uninterrupted run makes.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import {
  assertNoDuplicateUnits,
  assertSucceeded,
  cli,
  completeLines,
  explain,
  onlyRunFolder,
  parseCsv,
  QUIET,
  readRecords,
  removeTemporaryFolders,
  runFolders,
  samplesFile,
  startCli,
  STORIES,
  STORIES_FIXTURE,
  tempFolder,
  unitOf,
  waitForRecords,
  type CliResult,
  type PasskeyRecord,
} from "./helpers.js";
import { needs } from "../fixtures.js";

/** 1 length × 2 depths × 3 samples × 2 policies = 12 units, about a second each with one thread. */
const FLAGS = ["passkey", "--model", STORIES, "--len", "2K", "--samples", "3", "--depths", "0.5,1.0", "--policy", "sink-window,cascading"];
const UNITS = 12;
/** Every run here is on stories260K. */
const SKIP = needs(STORIES_FIXTURE);

let baseline: Map<string, PasskeyRecord>;
let baselineFolder: string;

before(async () => {
  if (SKIP) return;
  const results = tempFolder();
  const result = await cli([...FLAGS, "--results", results, ...QUIET]);
  assertSucceeded(result);
  baselineFolder = onlyRunFolder(results);
  const records = readRecords(baselineFolder);
  assert.equal(records.length, UNITS, "the uninterrupted run");
  assertNoDuplicateUnits(records);
  baseline = new Map(records.map((record) => [unitOf(record), record]));
});

after(removeTemporaryFolders);

/** What must not depend on whether the run was interrupted: the sample, and the model's greedy answer to it. */
const outcome = (record: PasskeyRecord) => ({
  key: record.key,
  keyPosition: record.keyPosition,
  promptTokens: record.promptTokens,
  answer: record.answer,
  score: record.score,
  policy: record.policy,
});

/** A finished run folder must equal the uninterrupted run, unit for unit. */
function assertSameAsBaseline(folder: string): PasskeyRecord[] {
  const records = readRecords(folder);
  assertNoDuplicateUnits(records);
  assert.equal(records.length, UNITS);
  assert.deepEqual(records.map(unitOf).sort(), [...baseline.keys()].sort());
  for (const record of records) {
    assert.deepEqual(outcome(record), outcome(baseline.get(unitOf(record))!), `${unitOf(record)} differs from the uninterrupted run`);
    assert.equal(record.runId, basename(folder));
  }
  return records;
}

/** The per-policy `n` columns of summary.csv, summed: how many records the summary was built from. */
function summarizedRecords(folder: string): number {
  const rows = parseCsv(readFileSync(join(folder, "summary.csv"), "utf8"));
  // each table's header row (first cell "table") says which column is n
  let n = -1;
  let sum = 0;
  for (const row of rows) {
    if (row[0] === "table") n = row.indexOf("n");
    else if (row[0]!.startsWith("passkey accuracy (%) — ")) sum += Number(row[n]);
  }
  return sum;
}

async function interrupt(signal: NodeJS.Signals): Promise<{ first: CliResult; folder: string; results: string; linesBefore: string[] }> {
  const results = tempFolder();
  const running = startCli([...FLAGS, "--results", results, ...QUIET]);
  const folder = await waitForRecords(() => runFolders(results)[0], 2, running);
  running.child.kill(signal);
  const first = await running.done;
  const linesBefore = completeLines(folder);
  assert.ok(linesBefore.length >= 2 && linesBefore.length < UNITS, `${linesBefore.length} records after ${signal}: the run was not interrupted\n${explain(first)}`);
  return { first, folder, results, linesBefore };
}

/** Resumes `run` (a folder or a run id under `results`) whose folder is `folder`, and checks it finished. */
async function resume(folder: string, results: string, doneBefore: number, run = folder): Promise<CliResult> {
  const result = await cli(["passkey", "--resume", run, "--results", results, ...QUIET]);
  assertSucceeded(result);
  assert.match(result.stderr, new RegExp(`^resuming: ${doneBefore} of ${UNITS} already done$`, "m"), explain(result));
  assert.ok(result.stderr.trimEnd().endsWith(`${UNITS} of ${UNITS} samples in ${folder}`), explain(result));
  assert.doesNotMatch(result.stderr, /interrupted|continue with/);
  assert.match(result.stdout, /^passkey accuracy \(%\) — sink-window$/m);
  assert.match(result.stdout, /^passkey accuracy \(%\) — cascading$/m);
  assert.equal(summarizedRecords(folder), UNITS);
  return result;
}

test("SIGTERM stops after the current chunk, writes the summary, exits 130; --resume completes the run", { skip: SKIP, timeout: 240_000 }, async () => {
  const { first, folder, results, linesBefore } = await interrupt("SIGTERM");
  assert.equal(first.signal, null, `died of the signal instead of stopping\n${explain(first)}`);
  assert.equal(first.code, 130, explain(first));
  assert.match(first.stderr, /stopping after the current chunk/);
  assert.match(first.stderr, new RegExp(`^interrupted: ${linesBefore.length} of ${UNITS} samples in ${folder}$`, "m"), explain(first));
  assert.match(first.stderr, new RegExp(`^continue with: cascade-eval passkey --resume ${folder}$`, "m"));
  assert.doesNotMatch(first.stderr, /^\s+at /m);
  // Whatever finished is on disk, whole, and summarized.
  assert.ok(readFileSync(samplesFile(folder), "utf8").endsWith("\n"), "samples.jsonl left with a torn line");
  assert.ok(existsSync(join(folder, "summary.md")));
  assert.equal(summarizedRecords(folder), linesBefore.length);
  assert.match(first.stdout, /^passkey accuracy \(%\) — /m);
  // every table of an unfinished run says it is partial, in the run's output and in `table`
  const partial = new RegExp(`partial: ${basename(folder)} has ${linesBefore.length} of ${UNITS} records \\(continue with: cascade-eval passkey --resume ${folder}\\)`);
  assert.match(first.stdout, partial);
  assert.match(readFileSync(join(folder, "summary.md"), "utf8"), partial);
  const table = await cli(["table", folder]);
  assert.match(table.stdout, partial, explain(table));

  const resumed = await resume(folder, results, linesBefore.length);
  assert.doesNotMatch(resumed.stdout, /partial:/);
  assertSameAsBaseline(folder);
  assert.deepEqual(completeLines(folder).slice(0, linesBefore.length), linesBefore, "--resume rewrote records it had");
});

test("SIGKILL mid-run loses nothing that was written; --resume completes the run", { skip: SKIP, timeout: 240_000 }, async () => {
  const { first, folder, results, linesBefore } = await interrupt("SIGKILL");
  assert.equal(first.signal, "SIGKILL");
  assert.ok(existsSync(join(folder, "run.lock")), "the killed process left its lock");
  const resumed = await resume(folder, results, linesBefore.length);
  assert.match(resumed.stderr, /^note: process \d+, which held .* is gone; taking the run over$/m, explain(resumed));
  assert.ok(!existsSync(join(folder, "run.lock")), "the finished resume gave the folder back");
  assertSameAsBaseline(folder);
  assert.deepEqual(completeLines(folder).slice(0, linesBefore.length), linesBefore, "--resume rewrote records it had");
});

test("--resume (by run id) drops a torn last line and redoes that unit", { skip: SKIP, timeout: 240_000 }, async () => {
  const results = tempFolder();
  const folder = join(results, basename(baselineFolder));
  cpSync(baselineFolder, folder, { recursive: true });
  const lines = completeLines(folder);
  const kept = 5;
  const torn = lines[kept]!.slice(0, Math.floor(lines[kept]!.length / 2));
  writeFileSync(samplesFile(folder), `${lines.slice(0, kept).join("\n")}\n`);
  appendFileSync(samplesFile(folder), torn);

  await resume(folder, results, kept, basename(folder));
  assertSameAsBaseline(folder);
  assert.deepEqual(completeLines(folder).slice(0, kept), lines.slice(0, kept));
  assert.ok(!readFileSync(samplesFile(folder), "utf8").includes(torn + "{"), "the torn line was kept in front of a new record");
});

test("--resume of a finished run changes nothing and prints its table", { skip: SKIP, timeout: 120_000 }, async () => {
  const results = tempFolder();
  const folder = join(results, basename(baselineFolder));
  cpSync(baselineFolder, folder, { recursive: true });
  const before = readFileSync(samplesFile(folder), "utf8");
  const result = await cli(["passkey", "--resume", folder, "--results", results, "--format", "json", ...QUIET]);
  assertSucceeded(result);
  assert.equal(readFileSync(samplesFile(folder), "utf8"), before);
  assert.match(result.stderr, new RegExp(`^resuming: ${UNITS} of ${UNITS} already done$`, "m"));
  const tables = JSON.parse(result.stdout) as { title: string }[];
  assert.deepEqual(
    tables.map((table) => table.title),
    ["passkey accuracy (%) — sink-window", "passkey accuracy (%) — cascading", "passkey accuracy (%) by length", "passkey key retention — sink-window", "passkey key retention — cascading"],
  );
});

test("a second run of a folder in use refuses in one line, and the first run's records stay whole", { skip: SKIP, timeout: 240_000 }, async () => {
  const results = tempFolder();
  const running = startCli([...FLAGS, "--results", results, ...QUIET]);
  const folder = await waitForRecords(() => runFolders(results)[0], 1, running);
  const second = await cli(["passkey", "--resume", folder, "--results", results, ...QUIET]);
  assert.equal(second.code, 2, explain(second));
  assert.match(second.stderr, /^cascade-eval: .* is in use by process \d+ \(since [^)]+\); wait for it to finish or stop it, then resume$/m, explain(second));
  assert.doesNotMatch(second.stderr, /^\s+at /m);
  assertSucceeded(await running.done);
  assertSameAsBaseline(folder);
});

test("key by key: every cell's first key before any second, so a run cut short covers the grid", { skip: SKIP }, () => {
  const order = readRecords(baselineFolder).map((record) => record.index);
  assert.deepEqual(order, [...order].sort((a, b) => a - b), `keys out of order: ${order.join(",")}`);
});

test("--parallel 2 streams two samples at once with the very records of one at a time; a resume may change --parallel", { skip: SKIP, timeout: 240_000 }, async () => {
  const results = tempFolder();
  const running = startCli([...FLAGS, "--parallel", "2", "--results", results, ...QUIET]);
  const folder = await waitForRecords(() => runFolders(results)[0], 2, running);
  running.child.kill("SIGTERM");
  const first = await running.done;
  assert.equal(first.code, 130, explain(first));
  assert.match(first.stderr, /· 2 at once ·/, explain(first));
  const before = completeLines(folder).length;
  assert.ok(before < UNITS, `${before} records: not interrupted`);
  const resumed = await cli(["passkey", "--resume", folder, "--parallel", "1", "--results", results, ...QUIET]);
  assertSucceeded(resumed);
  assert.doesNotMatch(resumed.stderr, /2 at once/, explain(resumed));
  assertSameAsBaseline(folder);
  const refused = await cli(["passkey", "--resume", folder, "--samples", "2", "--results", results, ...QUIET]);
  assert.equal(refused.code, 2, explain(refused));
});
