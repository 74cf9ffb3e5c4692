/**
 * The one runner with a toy task on the embedded model: records saved as units finish, resume skipping what a
 * folder holds, units side by side, interrupts and failures. Everything it checks is read back from the run folder.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_MODEL } from "../../src/config.js";
import { createPolicy } from "../../src/policies/registry.js";
import { RunFolder } from "../../src/results/run-folder.js";
import { runTask, type RunSettings, type Task, type TaskOptions } from "../../src/tasks/runner.js";
import type { ProgressReporter } from "../../src/ui/progress.js";

interface ToyOptions extends TaskOptions {
  units: number;
  parallel: number;
  /** The unit that throws, if any. */
  failing?: number;
}
interface ToyRecord {
  unit: number;
  tokens: number;
  evicted: number;
}

const ran: number[] = [];

const toyTask: Task<ToyOptions, void, number, ToyRecord> = {
  name: "toy",
  recordsName: "units",
  async prepare() {},
  async plan(engine, _prepared, options) {
    return {
      units: Array.from({ length: options.units }, (_, unit) => unit),
      manifest: { planned: options.units },
      parallel: options.parallel,
      tables: (runId, records) => [{ title: `toy ${runId}`, head: ["unit", "evicted"], rows: [...records].sort((a, b) => a.unit - b.unit).map((record) => [record.unit, record.evicted]) }],
      runUnit: async (unit, context) => {
        ran.push(unit);
        if (unit === options.failing) throw new Error(`unit ${unit} failed`);
        const stream = await engine.openStream({ policy: createPolicy({ name: "sink-window", sinks: 4, window: 60, cascades: 1 }), stride: 32, totalTokens: 200 });
        try {
          if (!(await context.feed(stream, engine.sampleTokens(200, unit)))) return false;
          context.save({ unit, tokens: 200, evicted: stream.counters.evicted }, 200);
          return true;
        } finally {
          await engine.closeStream(stream);
        }
      },
    };
  },
  unitKey: (unit) => String(unit),
  recordKey: (record) => String(record.unit),
  unitTokens: () => 200,
  unitLabel: (unit) => `unit ${unit}`,
  savedTables: (folders) => folders.flatMap((folder) => [{ title: folder.id, head: ["units"], rows: [[folder.records<ToyRecord>().length]] }]),
};

const progressLines: string[] = [];
const reporter: ProgressReporter = { start() {}, progress: (update) => void progressLines.push(update.current), unitDone() {}, stop() {} };

function settings(results: string, signal = new AbortController().signal): RunSettings {
  return { gpu: "cpu", threads: 1, resultsDirectory: results, format: "csv", reporter, signal };
}

/** Runs the toy task with its stderr lines kept out of the test's output; returns the (only) run folder. */
async function run(options: Partial<ToyOptions>, results: string, resume?: RunFolder, signal?: AbortSignal): Promise<RunFolder> {
  ran.length = 0;
  const err = process.stderr.write;
  process.stderr.write = () => true;
  try {
    await runTask(toyTask, { model: DEFAULT_MODEL, units: 4, parallel: 1, ...options }, settings(results, signal), resume);
  } finally {
    process.stderr.write = err;
  }
  const folders = readdirSync(results).filter((name) => name.startsWith("toy-"));
  assert.equal(folders.length, 1, "one run folder");
  return RunFolder.open(folders[0]!, results);
}

const records = (folder: RunFolder) => folder.records<ToyRecord>().map((record) => record.unit).sort();

test("a run saves every unit's record, its options and the summary; a resume runs only what is missing", async () => {
  const results = mkdtempSync(join(tmpdir(), "cascade-eval-runner-"));
  try {
    const folder = await run({}, results);
    assert.deepEqual(records(folder), [0, 1, 2, 3]);
    const manifest = folder.manifest<{ task: string; options: ToyOptions; planned: number }>();
    assert.equal(manifest.task, "toy");
    assert.equal(manifest.options.units, 4);
    assert.equal(manifest.planned, 4);
    assert.match(readFileSync(join(folder.path, "summary.csv"), "utf8"), /unit,evicted/);
    // every unit streamed 200 tokens through 4 + 60 cells
    for (const record of folder.records<ToyRecord>()) assert.equal(record.evicted, 200 - 64);
    // drop two records: the resume runs those two units, no other
    const lines = readFileSync(join(folder.path, "samples.jsonl"), "utf8").trim().split("\n");
    writeFileSync(join(folder.path, "samples.jsonl"), `${lines.slice(0, 2).join("\n")}\n`);
    const kept = lines.slice(0, 2).map((line) => (JSON.parse(line) as ToyRecord).unit);
    await run({}, results, folder);
    assert.deepEqual(ran.sort(), [0, 1, 2, 3].filter((unit) => !kept.includes(unit)));
    assert.deepEqual(records(folder), [0, 1, 2, 3]);
  } finally {
    rmSync(results, { recursive: true, force: true });
  }
});

test("units side by side all finish, each once, with progress naming the units in flight", async () => {
  const results = mkdtempSync(join(tmpdir(), "cascade-eval-runner-"));
  try {
    progressLines.length = 0;
    const folder = await run({ units: 5, parallel: 3 }, results);
    assert.deepEqual(records(folder), [0, 1, 2, 3, 4]);
    assert.deepEqual([...ran].sort(), [0, 1, 2, 3, 4]);
    assert.ok(progressLines.some((line) => line.includes(", ")), "some progress line names several units at once");
  } finally {
    rmSync(results, { recursive: true, force: true });
  }
});

test("an interrupt stops after the current chunk and keeps the finished units; a failure is rethrown after the others stop", async () => {
  const results = mkdtempSync(join(tmpdir(), "cascade-eval-runner-"));
  try {
    const controller = new AbortController();
    const original = reporter.unitDone;
    reporter.unitDone = () => controller.abort();
    const folder = await run({}, results, undefined, controller.signal).finally(() => (reporter.unitDone = original));
    assert.deepEqual(records(folder), [0], "the first unit finished, the interrupt came after it");
    assert.deepEqual(ran, [0]);
    rmSync(results, { recursive: true, force: true });
    await assert.rejects(run({ units: 3, failing: 1 }, results), /unit 1 failed/);
  } finally {
    rmSync(results, { recursive: true, force: true });
  }
});
