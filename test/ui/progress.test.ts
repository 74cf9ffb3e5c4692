/** The plain progress lines of logs and CI. */
import { test } from "node:test";
import assert from "node:assert/strict";

import { LineReporter, formatDuration } from "../../src/ui/progress.js";

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
