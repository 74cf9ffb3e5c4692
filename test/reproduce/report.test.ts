/**
 * The reproduction report's checks on hand-made run folders: each check passes on records that satisfy it and
 * fails on records that do not, and an unfinished step fails the report.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { DEFAULT_MODEL } from "../../src/config.js";
import { getKv, readGgufHeader } from "../../src/gguf/reader.js";
import { writeReport } from "../../src/reproduce/report.js";
import { parseLengths } from "../../src/util/lengths.js";
import { planSteps, type ReproductionManifest, type ReproduceOptions } from "../../src/reproduce/run.js";

const roots: string[] = [];
after(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

function reproduction(presets: ReproduceOptions["presets"]): { work: string; manifest: ReproductionManifest } {
  const work = mkdtempSync(join(tmpdir(), "cascade-eval-report-"));
  roots.push(work);
  const options: ReproduceOptions = { presets, scale: "ci", gpu: "cpu", progress: false };
  return { work, manifest: { options, createdAt: "2026-11-23T00:00:00.000Z", steps: planSteps(options, work) } };
}

/** A run folder of `task` holding `records`, claimed by the step with `id`. */
function addRun(work: string, manifest: ReproductionManifest, id: string, task: string, records: object[]): void {
  const folder = join(work, "runs", `${task}-${id}`);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "run.json"), JSON.stringify({ task, options: {}, model: { name: "m" } }));
  writeFileSync(join(folder, "samples.jsonl"), records.map((record) => `${JSON.stringify(record)}\n`).join(""));
  const step = manifest.steps.find((each) => each.id === id)!;
  step.run = join("runs", `${task}-${id}`);
  step.status = "done";
}

function passkeyRecord(policy: string, window: number, sampleId: string, keyPosition: number, score: number) {
  const [length, depthBin] = sampleId.split("-").map(Number) as [number, number];
  // a key takes 1 s + 0.1 s under the full cache, twice that under a bounded one
  const prefillMs = policy === "full" ? 1000 : 2000;
  return { sampleId, length, depthBin, keyPosition, promptTokens: length, score, policy: { name: policy, sinks: 64, window, cascades: 4, stride: window / 2, scores: false }, timings: { prefillMs, generateMs: prefillMs / 10 } };
}

/** Two samples at 2K: one key early (outside every window), one at the end (inside). */
function passkeyRuns(work: string, manifest: ReproductionManifest, windowScoreOutside: number): void {
  const samples = [["2048-0.2-0", 100], ["2048-1-0", 1900]] as const;
  addRun(work, manifest, "cache-65K", "passkey", [
    ...samples.map(([id, key]) => passkeyRecord("full", 512, id, key, 1)),
    ...samples.map(([id, key]) => passkeyRecord("sink-window", 512, id, key, key < 1000 ? windowScoreOutside : 1)),
    ...samples.map(([id, key]) => passkeyRecord("cascading", 512, id, key, 0.6)),
  ]);
  addRun(work, manifest, "cache-32K", "passkey", [
    ...samples.map(([id, key]) => passkeyRecord("sink-window", 256, id, key, key < 1000 ? 0 : 1)),
    ...samples.map(([id, key]) => passkeyRecord("cascading", 256, id, key, 0.4)),
  ]);
}

const verdicts = (checks: { name: string; passed: boolean }[]) => Object.fromEntries(checks.map((check) => [check.name, check.passed]));

test("passkey: the paper's table with deltas, a heat map, and full ≥ sink-window where keys left the window", async () => {
  const { work, manifest } = reproduction(["passkey"]);
  passkeyRuns(work, manifest, 0.2);
  const { checks, report } = await writeReport(work, manifest);
  assert.deepEqual(verdicts(checks), {
    "passkey accuracy (%) by length, averaged over depths: every cell a number": true,
    "passkey cache 512: full ≥ sink-window where the key left the window": true,
    "passkey cache 256: full ≥ sink-window where the key left the window": true,
  });
  assert.match(report, /\| 512 \| Δ cascading − sink-window \| 0 \| 0 \|/, "cascading 60% against sink-window (20% + 100%) / 2");
  assert.match(report, /^### passkey seconds per key \(prefill \+ answer\) by length, averaged over depths$/m);
  assert.match(report, /^\| all \| full \| 1\.1 \| 2 \| 2\.2 \|$/m, "the full cache: 1.1 s a key, 2 keys, 2.2 s in all");
  assert.match(report, /^\| 256 \| cascading \| 2\.2 \| 2 \| 4\.4 \|$/m);
  const svg = readFileSync(join(work, "passkey-accuracy.svg"), "utf8");
  assert.match(svg, /^<svg/);
  for (const panel of ["full cache", "sink-window · cache 512", "cascading · cache 256"]) assert.ok(svg.includes(panel), panel);

  const broken = reproduction(["passkey"]);
  passkeyRuns(broken.work, broken.manifest, 1);
  // sink-window better than full where the key was evicted cannot happen: make full miss it
  const fullFile = join(broken.work, broken.manifest.steps[0]!.run!, "samples.jsonl");
  writeFileSync(fullFile, readFileSync(fullFile, "utf8").replace('"score":1,"policy":{"name":"full"', '"score":0,"policy":{"name":"full"'));
  const failed = verdicts((await writeReport(broken.work, broken.manifest)).checks);
  assert.equal(failed["passkey cache 512: full ≥ sink-window where the key left the window"], false);
});

function pg19Record(policy: string, window: number, cascades: number, bookId: string, nll: number) {
  return { task: "pg19", bookId, title: "t", chunking: "stream", policy: { name: policy, sinks: 64, window, cascades, stride: 256, scores: false }, tokens: 4096, predicted: 4000, nll, curve: { bin: 256, nll: [nll / 2, nll / 2], count: [2000, 2000] } };
}

test("pg19: cascading with one cascade must equal sink-window exactly; an unfinished step fails the report", async () => {
  const build = (single: number) => {
    const { work, manifest } = reproduction(["pg19"]);
    for (const window of [1024, 2048]) {
      const k = window === 1024 ? "32K" : "65K";
      addRun(work, manifest, `window-${k}-cascades-4`, "pg19", [
        ...(window === 1024 ? [pg19Record("full", window, 4, "b1", 16000)] : []),
        pg19Record("sink-window", window, 4, "b1", 16100),
        pg19Record("cascading", window, 4, "b1", 16050),
      ]);
      addRun(work, manifest, `window-${k}-cascades-1`, "pg19", [pg19Record("cascading", window, 1, "b1", window === 1024 ? single : 16100)]);
    }
    return { work, manifest };
  };
  const equal = build(16100);
  const { checks, report } = await writeReport(equal.work, equal.manifest);
  assert.ok(checks.every((check) => check.passed), JSON.stringify(checks));
  assert.match(report, /\| 1K \| 1 \| 54\.60 \| 55\.98 \| 55\.98 \| 0 \|/);
  assert.match(readFileSync(join(equal.work, "pg19-perplexity.svg"), "utf8"), /cascading · 2K × 4/);

  const differing = build(16100.000001);
  assert.equal(verdicts((await writeReport(differing.work, differing.manifest)).checks)["pg19 window 1K: cascading with 1 cascade equals sink-window exactly"], false);

  const unfinished = build(16100);
  unfinished.manifest.steps[3]!.status = "pending";
  const result = await writeReport(unfinished.work, unfinished.manifest);
  assert.equal(verdicts(result.checks)["pg19: every step finished"], false);
  assert.doesNotMatch(result.report, /^### PG19 perplexity/m, "an unfinished preset makes no table");
  // the report so far (`reproduce --resume F --report`) shows every step's records, the unfinished one's too
  const sofar = await writeReport(unfinished.work, unfinished.manifest, true);
  assert.equal(verdicts(sofar.checks)["pg19: every step finished"], false);
  assert.match(sofar.report, /^Not finished: window-65K-cascades-1\. The tables hold the records so far/m);
  assert.match(sofar.report, /^\| 1K \| 1 \| 54\.60 \| 55\.98 \| 55\.98 \| 0 \|/m);
});

test("--samples replaces or adds the sample count of passkey, LongBench and BookSum steps, leaves PG19's, and the report says so", async () => {
  const work = mkdtempSync(join(tmpdir(), "cascade-eval-report-"));
  roots.push(work);
  const options: ReproduceOptions = { presets: ["passkey", "pg19", "longbench", "booksum"], scale: "paper", gpu: "cuda", progress: false, samples: 3 };
  const steps = planSteps(options, work);
  const samplesOf = (step: { args: string[] }) => {
    const at = step.args.indexOf("--samples");
    return at < 0 ? undefined : [step.args[at + 1], step.args.lastIndexOf("--samples") === at];
  };
  for (const step of steps) assert.deepEqual(samplesOf(step), step.preset === "pg19" ? undefined : ["3", true], `${step.preset} ${step.id}: ${step.args.join(" ")}`);
  const ci = planSteps({ ...options, scale: "ci", presets: ["passkey"] }, work);
  assert.deepEqual(ci.map(samplesOf), [["3", true], ["3", true]], "the ci preset's own --samples 1 is replaced, not repeated");

  const manifest: ReproductionManifest = { options, createdAt: "2026-11-23T00:00:00.000Z", steps: [] };
  const { report } = await writeReport(work, manifest);
  assert.match(report, /^> Fewer samples than the preset: --samples 3 \(passkey keys per length × depth, LongBench items per dataset, BookSum rows; PG19 unchanged\)/m);
});

test("the paper's passkey grid runs the full cache only where the default model's trained context holds it, and every bounded step runs both cascades", async () => {
  const header = await readGgufHeader(DEFAULT_MODEL);
  const trained = Number(getKv(header.metadata, "llama.context_length")?.value);
  assert.ok(trained > 0, "the default model names its trained context");
  const steps = planSteps({ presets: ["passkey"], scale: "paper", gpu: "cuda", progress: false }, mkdtempSync(join(tmpdir(), "cascade-eval-report-")));
  const argument = (step: { args: string[] }, flag: string) => step.args[step.args.indexOf(flag) + 1]!;
  const full = steps.filter((step) => argument(step, "--policy").split(",").includes("full"));
  assert.equal(full.length, 1);
  for (const length of parseLengths(argument(full[0]!, "--len"))) assert.ok(length + 64 <= trained, `full cache at ${length} tokens exceeds the model's ${trained}`);
  const covered = new Set(parseLengths(argument(full[0]!, "--len")));
  for (const step of steps.filter((each) => each !== full[0])) {
    assert.deepEqual(argument(step, "--policy").split(","), ["sink-window", "cascading-strided", "cascading"], step.id);
    // a haystack the cache holds whole would be refused (nothing evicted): the full cache stands for it
    const cache = 64 + Number(argument(step, "--window"));
    const lengths = parseLengths(argument(step, "--len"));
    for (const length of lengths) assert.ok(length > cache, `${step.id}: ${length} tokens fit its ${cache}-token cache`);
    for (const length of [32768, 65536, 131072, 262144, 524288, 1048576]) assert.ok(lengths.includes(length) || (length <= cache && covered.has(length)), `${step.id}: the paper's ${length} is neither run nor covered by the full cache`);
  }
});

test("paper-scale passkey: the full cache's own step leaves the lengths it was not asked for empty; the window check only where it read the same haystacks", async () => {
  const work = mkdtempSync(join(tmpdir(), "cascade-eval-report-"));
  roots.push(work);
  const options: ReproduceOptions = { presets: ["passkey"], scale: "paper", gpu: "cuda", progress: false };
  const manifest: ReproductionManifest = { options, createdAt: "2026-12-04T00:00:00.000Z", steps: planSteps(options, work) };
  const run = (id: string, lengths: number[], records: object[]) => {
    addRun(work, manifest, id, "passkey", records);
    const step = manifest.steps.find((each) => each.id === id)!;
    writeFileSync(join(work, step.run!, "run.json"), JSON.stringify({ task: "passkey", options: { lengths }, model: { name: "m" } }));
  };
  run("full", [32768, 65536], [passkeyRecord("full", 0, "32768-1-0", 100, 1), passkeyRecord("full", 0, "65536-1-0", 100, 1)]);
  const bounded = (window: number, length: number) => ["sink-window", "cascading", "cascading-strided"].map((policy) => passkeyRecord(policy, window, `${length}-1-0`, 100, 0.5));
  run("cache-32K", [65536], bounded(32768, 65536));
  run("cache-65K", [131072], bounded(65536, 131072));
  const { checks } = await writeReport(work, manifest);
  assert.deepEqual(verdicts(checks), {
    "passkey accuracy (%) by length, averaged over depths: every cell a number": true,
    "passkey cache 32K: full ≥ sink-window where the key left the window": true,
  });
  // a length a step was asked for and has no record of is still a hole
  run("cache-65K", [131072, 262144], bounded(65536, 131072));
  const holed = verdicts((await writeReport(work, manifest)).checks);
  assert.equal(holed["passkey accuracy (%) by length, averaged over depths: every cell a number"], false);
});
