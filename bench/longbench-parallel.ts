/**
 * LongBench items one at a time against several at once (issue 5's throughput), side by side in one process: the
 * same items, policies and model through the LongBench task with each --parallel value, wall time per run, and a check
 * that every run wrote the very same predictions. Usage: node dist/bench/longbench-parallel.js [--model PATH]
 * [--data FILE] [--samples N] [--policy LIST] [--parallel 1,2,4] [--threads N] [--gpu auto|cuda|cpu]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_MODEL } from "../src/config.js";
import type { GpuChoice } from "../src/engine/llama.js";
import { parsePolicyNames } from "../src/policies/registry.js";
import { renderTerminal } from "../src/printers/terminal.js";
import { datasetOfFile } from "../src/tasks/longbench/data.js";
import type { LongBenchRecord } from "../src/tasks/longbench/record.js";
import { longBenchTask, type LongBenchOptions } from "../src/tasks/longbench/run.js";
import { runTask } from "../src/tasks/runner.js";
import type { ProgressReporter } from "../src/ui/progress.js";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: DEFAULT_MODEL },
    data: { type: "string", default: "../shared/data/longbench/multi_news.jsonl.xz" },
    samples: { type: "string", default: "8" },
    policy: { type: "string", default: "cascading" },
    parallel: { type: "string", default: "1,2,4" },
    threads: { type: "string" },
    gpu: { type: "string", default: "auto" },
  },
});
const levels = values.parallel!.split(",").map(Number);
const silent: ProgressReporter = { start() {}, progress() {}, unitDone() {}, stop() {} };

/** One run into a fresh results folder; its table goes nowhere (the bench prints its own). */
async function timedRun(parallel: number, samples: number) {
  const results = mkdtempSync(join(tmpdir(), "cascade-eval-bench-"));
  const options: LongBenchOptions = {
    source: resolve(values.data!),
    datasets: [datasetOfFile(values.data!).dataset],
    e: false,
    samples,
    policies: parsePolicyNames(values.policy!),
    sinks: 64,
    cascades: 4,
    parallel,
    model: values.model!,
  };
  const settings = {
    gpu: values.gpu as GpuChoice,
    threads: values.threads === undefined ? undefined : Number(values.threads),
    resultsDirectory: results,
    format: "csv" as const,
    reporter: silent,
    signal: new AbortController().signal,
  };
  const write = process.stdout.write;
  process.stdout.write = () => true;
  const started = performance.now();
  try {
    await runTask(longBenchTask, options, settings);
  } finally {
    process.stdout.write = write;
  }
  const seconds = (performance.now() - started) / 1000;
  const [run] = readdirSync(results);
  const records = readFileSync(join(results, run!, "samples.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line) as LongBenchRecord);
  rmSync(results, { recursive: true, force: true });
  const predictions = records.sort((a, b) => a.item - b.item || a.policy.name.localeCompare(b.policy.name)).map((record) => record.pred);
  return { seconds, records, predictions };
}

await timedRun(1, 1); // warm-up: model file cache, CUDA initialization
const runs: ({ parallel: number } & Awaited<ReturnType<typeof timedRun>>)[] = [];
for (const parallel of levels) runs.push({ parallel, ...(await timedRun(parallel, Number(values.samples))) });
const base = runs[0]!;
const same = runs.every((run) => JSON.stringify(run.predictions) === JSON.stringify(base.predictions));
const promptTokens = base.records.reduce((total, record) => total + record.promptTokens, 0);
const generated = (run: (typeof runs)[number]) => run.records.reduce((total, record) => total + record.generatedTokens, 0);
process.stdout.write(
  renderTerminal([
    {
      title: `LongBench ${base.records[0]?.dataset}, ${base.records.length} predictions (${values.policy}), ${promptTokens} prompt tokens — ${base.records[0]?.hardware.gpu || "cpu"}`,
      head: ["parallel", "threads each", "seconds", "predictions/s", "generated tok/s", "speedup"],
      rows: runs.map((run) => [run.parallel, run.records[0]!.hardware.threads, run.seconds, run.records.length / run.seconds, generated(run) / run.seconds, base.seconds / run.seconds]),
      notes: [same ? "every run wrote the same predictions" : "PREDICTIONS DIFFER between runs"],
      decimals: [0, 0, 1, 2, 0, 2],
    },
  ]),
);
if (!same) process.exitCode = 1;
