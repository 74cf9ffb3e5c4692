import assert from "node:assert/strict";
import { test } from "node:test";
import { passkeyTables, retentionOf } from "../../src/tasks/passkey/summary.js";
import type { PasskeyRecord } from "../../src/tasks/passkey/record.js";

function record(policy: string, length: number, depthBin: number, score: number, keyRetained: number[] | undefined): PasskeyRecord {
  return {
    task: "passkey",
    runId: "run",
    sampleId: `${length}-${depthBin}-0`,
    length,
    depthBin,
    index: 0,
    seed: 1,
    filler: "words",
    policy: { name: policy, sinks: 4, window: 64, cascades: policy === "cascading" ? 4 : 1, stride: 32, scores: false },
    model: { source: "m", path: "m", sha256: "0", name: "m" },
    promptTokens: length,
    keyPosition: 10,
    ...(keyRetained === undefined ? {} : { keyTokens: 4, keyRetained }),
    depth: depthBin,
    key: "12345",
    answer: score === 1 ? "12345" : "54321",
    score,
    cachedTokens: 68,
    evictedTokens: length - 68,
    timings: { prefillMs: 1, generateMs: 1, evaluateMs: 1, policyMs: 0, eraseMs: 0 },
    prefillTokensPerSecond: 1,
    hardware: { gpu: false, threads: 1 },
    finishedAt: "2026-12-04T00:00:00.000Z",
  };
}

test("retention is all, part or none of the key block, and unknown for records without it", () => {
  assert.equal(retentionOf(record("cascading", 1024, 0.5, 1, [0, 1, 2, 3])), "all");
  assert.equal(retentionOf(record("cascading", 1024, 0.5, 1, [1, 3])), "part");
  assert.equal(retentionOf(record("cascading", 1024, 0.5, 0, [])), "none");
  assert.equal(retentionOf(record("cascading", 1024, 0.5, 0, undefined)), undefined);
});

test("the retention table splits accuracy by what the policy kept, per bounded policy only", () => {
  const records = [
    record("full", 1024, 0.5, 1, [0, 1, 2, 3]),
    record("cascading", 1024, 0.5, 1, [0, 1, 2, 3]),
    record("cascading", 1024, 0.5, 1, [0, 1, 2, 3]),
    record("cascading", 1024, 0.5, 0, [2]),
    record("cascading", 1024, 1, 0, []),
    record("cascading", 2048, 1, 1, [0, 1, 2, 3]),
    record("sink-window", 1024, 0.5, 0, undefined),
  ];
  const tables = passkeyTables([{ runId: "run", records }]);
  const retention = tables.filter((table) => table.title.startsWith("passkey key retention"));
  assert.deepEqual(retention.map((table) => table.title.split(" — ")[1]), ["cascading"], "full keeps everything; sink-window's records predate retention");
  const [table] = retention;
  assert.deepEqual(table!.head, ["length", "kept d≤0.5", "kept d≤1", "kept avg", "n all", "acc all", "n part", "acc part", "n none", "acc none"]);
  assert.deepEqual(table!.rows, [
    ["1K", (2 / 3) * 100, 0, 50, 2, 100, 1, 0, 1, 0],
    ["2K", null, 100, 100, 1, 100, 0, null, 0, null],
  ]);
});
