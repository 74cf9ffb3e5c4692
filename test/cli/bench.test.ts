/**
 * `cascade-eval model synth` and `cascade-eval bench` end to end on the CPU: a synthetic tiny model written by the
 * CLI, measured under every policy against the raw llama.cpp baseline; a full cache that does not fit; the table
 * rebuilt from the records; one-line errors.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import type { BenchRecord } from "../../src/tasks/bench/tables.js";
import { assertSucceeded, cli, completeLines, explain, onlyRunFolder, QUIET, removeTemporaryFolders, runFolders, startCli, tempFolder, waitForRecords } from "./helpers.js";

const work = tempFolder();
const MODEL = join(work, "tiny-q8.gguf");
// 64 sinks + 512 window = 576 cells, chunks of 128: the cache is full from the fifth chunk on.
const CACHE = ["--sinks", "64", "--window", "512", "--cascades", "4", "--stride", "128"];

let run: string;
let printed: string;
const records = (folder: string) =>
  readFileSync(join(folder, "samples.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line) as BenchRecord);

before(async () => {
  const synth = await cli(["model", "synth", "--shape", "tiny", "--type", "q8_0", "-o", MODEL]);
  assertSucceeded(synth);
  assert.match(synth.stdout, /tiny q8_0, 20 tensors/);
  const results = join(work, "results");
  const bench = await cli(["bench", "--model", MODEL, "--len", "512,1K,2K,4K", ...CACHE, "--raw-chunks", "4", "--max-full-length", "2K", "--format", "json", "--results", results, ...QUIET]);
  assertSucceeded(bench);
  assert.match(bench.stderr, /^note: --len 512 within the cache of 64 \+ 512: the bounded policies evict nothing yet there$/m);
  run = onlyRunFolder(results);
  printed = bench.stdout;
});
after(removeTemporaryFolders);

test("bench measures every policy at every length, the raw baseline, and the full cache up to --max-full-length", () => {
  const all = records(run);
  assert.equal(all.length, 13, "raw + 4 lengths × 3 policies");
  const find = (kind: string, policy: string, length: number) => all.find((r) => r.kind === kind && r.policy.name === policy && r.length === length)!;

  const raw = find("raw", "sink-window", 576 + 4 * 128);
  assert.equal(raw.status, "measured");
  assert.deepEqual([raw.steady?.chunks, raw.steady?.tokens, raw.evicted], [4, 512, 512], "4 steady chunks, each dropped again");

  for (const length of [1024, 2048, 4096]) {
    const window = find("stream", "sink-window", length);
    const cascading = find("stream", "cascading", length);
    for (const record of [window, cascading]) {
      assert.equal(record.status, "measured");
      assert.equal(record.evicted, length - 576, `${record.policy.name} ${length}: the cache ends at 576 tokens`);
      // chunk 5 ([512, 640)) is the first to overflow; every later chunk starts with the cache full
      assert.equal(record.steady?.chunks, length / 128 - 5, `${record.policy.name} ${length}: steady chunks`);
      assert.equal(record.chunks, length / 128);
      const parts = record.evaluateMs! + record.policyMs! + record.eraseMs!;
      assert.ok(parts <= record.wallMs! + 1e-6 && parts > 0.5 * record.wallMs!, `evaluation and maintenance make up the wall time (${parts} of ${record.wallMs})`);
      assert.ok(record.memory!.hostRssPeakBytes > 0 && record.memory!.vramPeakBytes === null, "host memory sampled; no GPU");
    }
  }
  // a length within the cache is measured while it fills: nothing evicted, no steady chunk
  for (const policy of ["sink-window", "cascading"]) assert.deepEqual([find("stream", policy, 512).status, find("stream", policy, 512).evicted], ["measured", 0]);
  const full = find("stream", "full", 2048);
  assert.deepEqual([full.status, full.evicted, full.steady], ["measured", 0, null]);
  assert.equal(full.contextCells, 2049);
  const notRun = find("stream", "full", 4096);
  assert.equal(notRun.status, "not run");
  assert.match(notRun.reason!, /--max-full-length 2048/);
});

test("bench writes the system, model shape and build with the figures, and table rebuilds the same tables", async () => {
  const saved = JSON.parse(readFileSync(join(run, "bench.json"), "utf8")) as { system: { build: { nodeLlamaCppVersion: string; kvCacheTypes: unknown }; shape: Record<string, unknown>; flashAttention: boolean; decodeTimings: boolean }; records: unknown[] };
  assert.equal(saved.system.build.nodeLlamaCppVersion, "3.22.1");
  assert.deepEqual(saved.system.build.kvCacheTypes, { key: "F16", value: "F16" });
  assert.deepEqual([saved.system.shape.layers, saved.system.shape.kvHeads, saved.system.shape.embedding], [2, 2, 64]);
  assert.equal(saved.system.flashAttention, false, "CPU default");
  assert.equal(saved.records.length, 13);

  const tables = JSON.parse(printed) as { title: string; rows: unknown[]; notes?: string[] }[];
  assert.deepEqual(tables.map((table) => table.title.split(" · ")[0]), [
    "system",
    "prefill",
    "per chunk with the cache full (steady state), against raw llama.cpp evaluation at the same occupancy",
    // binaries built with `cascade-eval extensions build` time llama.cpp's decode by phase; stock ones cannot
    ...(saved.system.decodeTimings ? ["inside llama.cpp's evaluation: ms per steady chunk by phase of its decode (decode-timings extension)"] : []),
    "raw llama.cpp evaluation: the same tokens at the same KV occupancy, no policy (each chunk dropped again from the tail)",
  ]);
  const prefill = tables[1]!;
  assert.equal(prefill.rows.length, 12);
  const notes = prefill.notes!.join("\n");
  assert.match(notes, /full cache time grows as length\^[\d.]+ between 1K and 2K \(measured\)/);
  assert.match(notes, /EXTRAPOLATED, not measured: full cache at 4K/);
  assert.match(notes, /full cache from 4K on: not run/);
  const csv = readFileSync(join(run, "summary.csv"), "utf8");
  assert.match(csv, /node-llama-cpp,3\.22\.1/);
  assert.match(csv, /cache eviction,("batched, inside the decode while the GPU computes \(cascade-eval extensions\)"|batched \(cascade-eval extension\)|stock \(eraseContextTokenRanges\))/);
  assert.match(csv, /attention scores,(measured for cascading \(cascade-eval extension\)|none \(cascading runs strided\))/);

  const rebuilt = await cli(["table", run, "--format", "json"]);
  assertSucceeded(rebuilt);
  assert.equal(rebuilt.stdout, printed, "the table rebuilt from the records equals the run's own");
});

test("a full cache too large for memory is recorded as not fitting, and the next shorter length is tried", async () => {
  const results = join(work, "results-full");
  // The tiny model's F16 cache takes 256 bytes per token: 96M tokens need 24 GiB, more than this machine has.
  const result = await cli(["bench", "--model", MODEL, "--policy", "full", "--len", "1K,2K,96M,128M", "--stride", "128", "--results", results, ...QUIET]);
  assertSucceeded(result);
  const all = records(onlyRunFolder(results)).sort((a, b) => a.length - b.length);
  assert.deepEqual(all.map((r) => [r.length, r.status, r.contextCells]), [
    [1024, "measured", 2049],
    [2048, "measured", 2049],
    [96 * 2 ** 20, "does not fit", 96 * 2 ** 20 + 1],
    [128 * 2 ** 20, "does not fit", 128 * 2 ** 20 + 1],
  ]);
  assert.match(all[2]!.reason!, /cannot create a context of 100663297 tokens: .*too large/);
  assert.match(result.stdout, /full cache from 96M on: does not fit/);
});

test("an interrupted bench keeps every finished length and --resume measures only the rest", async () => {
  const results = join(work, "results-resume");
  const args = ["bench", "--model", MODEL, "--len", "1K,48K", "--policy", "sink-window,cascading", ...CACHE, "--raw-chunks", "2"];
  const running = startCli([...args, "--results", results, ...QUIET]);
  const folder = await waitForRecords(() => runFolders(results)[0], 2, running);
  running.child.kill("SIGTERM");
  const stopped = await running.done;
  assert.equal(stopped.code, 130, explain(stopped));
  const before = completeLines(folder).length;
  assert.ok(before >= 2 && before < 5, `${before} of 5 measurements before the resume: not interrupted`);
  assert.match(stopped.stderr, new RegExp(`^continue with: cascade-eval bench --resume ${folder}$`, "m"));
  const refused = await cli(["bench", "--resume", folder, "--len", "2K", "--results", results, ...QUIET]);
  assert.equal(refused.code, 2, explain(refused));
  assert.match(refused.stderr, /--resume repeats the run's own settings; drop --len/);
  const resumed = await cli(["bench", "--resume", folder, "--results", results, ...QUIET]);
  assertSucceeded(resumed);
  const keys = records(folder).map((r) => `${r.kind} ${r.policy.name} ${r.length}`).sort();
  assert.deepEqual(keys, ["raw sink-window 832", "stream cascading 1024", "stream cascading 49152", "stream sink-window 1024", "stream sink-window 49152"]);
});

test("a SIGTERM repeated at once (timeout signals the process, then its group) still stops gracefully", async () => {
  const results = join(work, "results-double");
  const running = startCli(["bench", "--model", MODEL, "--len", "1K,48K", "--policy", "sink-window", ...CACHE, "--raw-chunks", "2", "--results", results, ...QUIET]);
  await waitForRecords(() => runFolders(results)[0], 2, running);
  running.child.kill("SIGTERM");
  // The repeat arrives once the first is handled (two signals sent together may merge into one delivery).
  while (!running.stderrSoFar().includes("stopping after the current chunk")) await new Promise((wake) => setTimeout(wake, 5));
  running.child.kill("SIGTERM");
  const stopped = await running.done;
  assert.equal(stopped.code, 130, explain(stopped));
  assert.match(stopped.stderr, /^interrupted: 2 of 3 measurements/m, "the closing report was written");
  assert.match(stopped.stdout, /^prefill · run /m);
});

test("model and bench errors are one line with a non-zero exit", async () => {
  const cases: [string[], RegExp][] = [
    [["model", "synth", "--shape", "llama-9b", "-o", join(work, "x.gguf")], /unknown --shape 'llama-9b' \(known: tiny, llama-3\.2-1b/],
    [["model", "synth", "--shape", "tiny", "--type", "q2_k", "-o", join(work, "x.gguf")], /--type must be one of f16, q8_0, q4_0/],
    [["bench", "--model", MODEL, "--len", "512", ...CACHE, ...QUIET], /--len 512 does not outgrow the cache of 64 \+ 512 tokens/],
    [["bench", "--model", MODEL, "--len", "4K", "--window", "510", ...QUIET], /--window 510 is not divisible by --cascades 4/],
  ];
  for (const [args, message] of cases) {
    const result = await cli(args);
    assert.equal(result.code, 2, explain(result));
    assert.match(result.stderr, message);
    assert.equal(result.stderr.trim().split("\n").length, 1, explain(result));
  }
  assert.equal(existsSync(join(work, "x.gguf")), false);
});

test("model shapes lists the real shapes with their parameter counts and KV bytes", async () => {
  const result = await cli(["model", "shapes", "--format", "json"]);
  assertSucceeded(result);
  const [table] = JSON.parse(result.stdout) as { rows: Record<string, string | number>[] }[];
  const row = table!.rows.find((each) => each.shape === "llama-3.1-8b")!;
  assert.equal(row["params (B)"], 8.030261248);
  assert.equal(row["KV KiB/token"], 128);
  assert.equal(row["KV GiB at 1M"], 128);
});
