/** The plain progress lines of logs and CI. */
import { test } from "node:test";
import assert from "node:assert/strict";

import { attentionWork, LineReporter, formatDuration, liveView, ProgressState } from "../../src/ui/progress.js";
import { renderTerminal } from "../../src/printers/terminal.js";

function capture(run: () => void): string {
  const write = process.stderr.write;
  let text = "";
  process.stderr.write = ((chunk: string) => {
    text += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    run();
  } finally {
    process.stderr.write = write;
  }
  return text;
}

const RUN = { title: "pg19 · test", totalUnits: 2, doneUnits: 0, totalTokens: 2000, tables: () => [] };

test("a line per finished unit; within a unit, a heartbeat line once the interval has passed", () => {
  const quiet = new LineReporter(60_000);
  const lines = capture(() => {
    quiet.start(RUN);
    quiet.progress({ unitTokensDone: 500, current: "book · full" });
    quiet.unitDone({ promptTokens: 1000 });
  }).split("\n");
  assert.equal(lines[0], "pg19 · test");
  assert.match(lines[1]!, /^\[1\/2\] book · full · \d+ tok\/s · ETA /);
  assert.equal(lines.length, 3, "no heartbeat inside the interval");

  const chatty = new LineReporter(0);
  const heartbeat = capture(() => {
    chatty.start(RUN);
    chatty.progress({ unitTokensDone: 500, current: "book · full" });
  });
  assert.match(heartbeat, /^ {2}… book · full: 500 tokens in · \d+ tok\/s · ETA /m);
});

test("durations read as hours and minutes, minutes and seconds, or seconds", () => {
  assert.equal(formatDuration(3725), "1h02m");
  assert.equal(formatDuration(125), "2m05s");
  assert.equal(formatDuration(9.6), "10s");
  assert.equal(formatDuration(null), "–");
});

test("the live view fits 80×24: at most 23 lines of at most 80 columns, the progress line last", () => {
  const wide = {
    title: "passkey accuracy (%) — cascading",
    head: ["length", "cache", "d≤0.2", "d≤0.4", "d≤0.6", "d≤0.8", "d≤1", "avg", "n"],
    rows: Array.from({ length: 12 }, (_, index) => [`${4 << index}K`, "64 sinks + 65536 window in 4 cascades (strided), stride 4096", 40, 40, 35, 65, 70, 50, 20]),
  };
  const state = new ProgressState({
    title: "passkey · cascade-eval probe (llama, 4 layers, 256 wide) · cuda · prompt format plain · run passkey-20261204-015627",
    totalUnits: 60,
    doneUnits: 0,
    totalTokens: 60 * 4096,
    tables: () => [wide, wide, wide],
    unitsName: "records (keys × policies)",
  });
  state.chunk({ unitTokensDone: 1024, current: "4K · depth ≤0.2 · key 3/4 · cascading" });
  const view = liveView(state, renderTerminal(state.run.tables()), 80, 24);
  const lines = [...view.lines, view.status];
  assert.ok(lines.length <= 23, `${lines.length} lines`);
  for (const line of view.lines) assert.ok(line.length <= 80, `${line.length} columns: ${line}`);
  assert.ok(view.status.length + (view.barWidth > 0 ? view.barWidth + 1 : 0) <= 80);
  assert.match(view.status, /^0\/60 records \(keys × policies\) · [\d,]+ tok\/s · ETA /);
  assert.equal(view.lines.at(-1), "4K · depth ≤0.2 · key 3/4 · cascading");
  assert.match(view.lines.at(-2)!, /^… \d+ more lines; the whole tables are printed at the end$/);
  assert.ok(view.barWidth > 0, "the bar is there");
});

test("the ETA weighs the full cache's quadratic attention: after a few units it is the true time left", () => {
  // a run of 4K units that alternate full cache and a 1,024-token cache; true time α·tokens + β·attention
  const alpha = 1e-4;
  const beta = 2e-7;
  const units = Array.from({ length: 12 }, (_, index) => ({ tokens: 4096, capacity: index % 2 === 0 ? Infinity : 1024 }));
  const cost = (unit: { tokens: number; capacity: number }) => alpha * unit.tokens + beta * attentionWork(unit.tokens, unit.capacity);
  let clock = 0;
  const state = new ProgressState({ title: "t", totalUnits: units.length, doneUnits: 0, totalTokens: 12 * 4096, tables: () => [], pending: units }, () => clock);
  for (const unit of units.slice(0, 5)) {
    clock += cost(unit) * 1000;
    state.unitDone(unit.tokens);
  }
  const left = units.slice(5).reduce((sum, unit) => sum + cost(unit), 0);
  assert.ok(Math.abs(state.etaSeconds! / left - 1) < 0.01, `ETA ${state.etaSeconds} s, true ${left} s`);
  // what the token rate alone would say (the old ETA) is off, since the next unit is a full cache's
  const tokenRate = (5 * 4096) / (clock / 1000);
  assert.ok(Math.abs((7 * 4096) / tokenRate / left - 1) > 0.05, "the token-rate ETA would have been as good: the case does not test the model");
});

test("attention work: the square for a full cache, linear past a bounded cache's capacity, none when unknown", () => {
  assert.equal(attentionWork(4, Infinity), 10);
  assert.equal(attentionWork(6, 3), 6 + 3 * 3);
  assert.equal(attentionWork(6, undefined), 0);
});
