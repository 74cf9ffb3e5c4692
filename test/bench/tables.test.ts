import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { benchTables, fullScaling, type BenchRecord, type BenchSystem } from "../../src/tasks/bench/tables.js";

// The H100 records of docs/PERFORMANCE.md (Llama-3.1-8B shape): the full cache at 128K and 256K from one run, the
// bounded policies to 1M from another, on the same binaries.
const perf = new URL("../../../docs/perf/h100-2026-11-23-batched/", import.meta.url);
const load = (run: string) => JSON.parse(readFileSync(new URL(`${run}/bench.json`, perf), "utf8")) as { system: BenchSystem; records: BenchRecord[] };
const fullRun = load("bench-20261123-182756");
const boundedRun = load("bench-20261123-181540");

test("the full cache's scaling: a power law and a·n + b·n² through its two longest measured lengths", () => {
  const scaling = fullScaling(fullRun.records)!;
  assert.deepEqual([scaling.from.length, scaling.to.length], [131072, 262144]);
  assert.equal(scaling.exponent.toFixed(2), "1.89");
  const million = 1048576;
  assert.equal(Math.round(scaling.powerLaw(million) / 1000), 1494);
  assert.equal(Math.round(scaling.twoTerm!(million) / 1000), 1639);
  // both forms pass through the measured points
  for (const record of [scaling.from, scaling.to]) {
    assert.ok(Math.abs(scaling.powerLaw(record.length) - record.wallMs!) < 1e-6);
    assert.ok(Math.abs(scaling.twoTerm!(record.length) - record.wallMs!) < 1e-6);
  }
});

test("a full cache that grows faster than quadratically has no two-term form with non-negative terms", () => {
  const record = (length: number, wallMs: number) => ({ ...fullRun.records[0]!, length, wallMs });
  assert.equal(fullScaling([record(1000, 10), record(2000, 50)])!.twoTerm, undefined);
  assert.equal(fullScaling([record(1000, 10)]), undefined);
});

test("the prefill notes label the full cache at 1M as extrapolated, with both estimates and the speedups", () => {
  const records = [...fullRun.records, ...boundedRun.records.filter((record) => record.kind === "stream")];
  const prefill = benchTables("combined", boundedRun.system, "llama-3.1-8b", records)[1]!;
  const notes = prefill.notes!.join("\n");
  assert.match(notes, /full cache time grows as length\^1\.89 between 128K and 256K \(measured\)/);
  assert.match(notes, /EXTRAPOLATED, not measured: full cache at 1M ≈ 1494–1639 s \(length\^1\.89, and a·n \+ b·n² through 128K and 256K\) → sink-window ≈ 6\.3–6\.9× faster/);
  assert.match(notes, /full cache at 1M ≈ 1494–1639 s .* → cascading ≈ 6\.1–6\.7× faster/);
  // 128K and 256K are compared with the measured full cache, not extrapolated
  assert.doesNotMatch(notes, /EXTRAPOLATED, not measured: full cache at (128K|256K)/);
});

test("decode phases: a table of ms per steady chunk by phase, with the rest of the evaluation outside llama_decode", () => {
  const stream = boundedRun.records.find((record) => record.kind === "stream" && record.steady)!;
  const steady = { ...stream.steady!, chunks: 2, evaluateMs: 100, decodePhasesMs: [10, 2, 4, 6, 20, 30, 24] };
  const tables = benchTables("phases", boundedRun.system, "llama-3.1-8b", [{ ...stream, steady }]);
  const phases = tables.find((table) => table.title.startsWith("inside llama.cpp's evaluation"))!;
  assert.deepEqual(phases.head.slice(3), ["evaluate ms", "K-shift", "plan", "place", "graph", "inputs", "launch", "evict", "wait", "outside decode"]);
  // a record from before the eviction inside the decode: none there
  assert.deepEqual(phases.rows[0]!.slice(2), [2, 50, 5, 1, 2, 3, 10, 15, 0, 12, 2]);
  // records without the extension's phases (all before it) get no such table
  assert.equal(benchTables("old", boundedRun.system, "llama-3.1-8b", boundedRun.records).some((table) => table.title.startsWith("inside llama.cpp")), false);
});

test("the eviction inside the decode: counted in maintenance, apart in the share outside the decode and in the phases", () => {
  const stream = boundedRun.records.find((record) => record.kind === "stream" && record.steady)!;
  const totals = { chunks: 2, tokens: 8192, wallMs: 200, evaluateMs: 110, policyMs: 2, eraseMs: 4, evictInDecodeMs: 10 };
  const steady = { ...totals, decodePhasesMs: [10, 2, 4, 6, 20, 30, 24] };
  const tables = benchTables("in-decode", { ...boundedRun.system, eviction: "in-decode" }, "llama-3.1-8b", [{ ...stream, ...totals, steady }]);
  const [system, prefill, perChunk] = tables;
  assert.deepEqual(system!.rows.find((row) => row[0] === "cache eviction"), ["cache eviction", "batched, inside the decode while the GPU computes (cascade-eval extensions)"]);
  const column = (table: typeof prefill, name: string) => table!.rows[0]![table!.head.indexOf(name)];
  // maintenance: (2 + 4 + 10) / 200; outside the decode: (2 + 4) / 200
  assert.equal(column(prefill, "maintenance %"), 8);
  assert.equal(column(prefill, "outside decode %"), 3);
  assert.equal(column(perChunk, "evict in decode ms"), 5);
  assert.equal(column(perChunk, "maintenance %"), 8);
  assert.equal(column(perChunk, "outside decode %"), 3);
  const phases = tables.find((table) => table.title.startsWith("inside llama.cpp's evaluation"))!;
  // 55 ms evaluate a chunk = 48 in the timed phases + 5 evicting + 2 outside llama_decode
  assert.deepEqual(phases.rows[0]!.slice(2), [2, 55, 5, 1, 2, 3, 10, 15, 5, 12, 2]);
});
