/**
 * `cascade-eval reproduce` end to end on the default model at ci scale: a preset's runs, the report with its
 * checks, an interrupted reproduction continued with --resume, and one-line errors. (CI runs `reproduce all`.)
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { assertSucceeded, cli, explain, removeTemporaryFolders, startCli, tempFolder } from "./helpers.js";
import { needs } from "../fixtures.js";

after(removeTemporaryFolders);

/** The local files the presets' ci steps read ({fixtures} in tasks/reproduce.json). */
const LONGBENCH_CI = "data/longbench/multi_news.jsonl.xz";
const BOOKSUM_CI = "data/pg19/pg19-standin-100.jsonl.xz";

const manifestOf = (work: string) => JSON.parse(readFileSync(join(work, "reproduce.json"), "utf8")) as { steps: { id: string; status: string; run?: string }[] };

test("reproduce longbench --scale ci: the run, the report on stdout and in report.md, every check passing", { skip: needs(LONGBENCH_CI) }, async () => {
  const results = tempFolder();
  const result = await cli(["reproduce", "longbench", "--scale", "ci", "--threads", "1", "--no-progress", "--results", results]);
  assertSucceeded(result);
  const [name] = readdirSync(results);
  const work = join(results, name!);
  const report = readFileSync(join(work, "report.md"), "utf8");
  assert.equal(result.stdout, report);
  assert.match(report, /^# Reproduction \(ci scale\): longbench$/m);
  assert.match(report, /^### LongBench scores \(×100\) with cascading − sink-window$/m);
  const row = report.split("\n").find((line) => line.startsWith("| multi_news | rouge | 4 |"))!;
  const [full, window, cascading, delta] = row.split("|").slice(4, 8).map(Number) as [number, number, number, number];
  assert.ok([full, window, cascading].every(Number.isFinite), row);
  assert.ok(Math.abs(delta - (cascading - window)) < 0.011, `Δ is cascading − sink-window: ${row}`);
  assert.match(report, /\| LongBench scores \(×100\) with cascading − sink-window: every cell a number \| pass \|/);
  assert.match(result.stderr, /report\.md: 1 of 1 checks pass/);
  assert.deepEqual(manifestOf(work).steps.map((step) => [step.id, step.status]), [["paper-datasets", "done"]]);
});

test("an interrupted reproduction keeps its finished steps; --resume runs the rest and writes the report", { skip: needs(BOOKSUM_CI) }, async () => {
  const results = tempFolder();
  const running = startCli(["reproduce", "booksum", "--scale", "ci", "--threads", "1", "--no-progress", "--results", results]);
  let exited = false;
  void running.done.then(() => (exited = true));
  const work = await (async () => {
    for (;;) {
      const [name] = existsSync(results) ? readdirSync(results) : [];
      if (name && existsSync(join(results, name, "runs")) && readdirSync(join(results, name, "runs")).length > 0) return join(results, name);
      if (exited) assert.fail(`the reproduction exited before its first run started\n${explain(await running.done)}`);
      await new Promise((wake) => setTimeout(wake, 50));
    }
  })();
  running.child.kill("SIGTERM");
  const stopped = await running.done;
  assert.equal(stopped.code, 130, explain(stopped));
  assert.match(stopped.stderr, new RegExp(`continue with: cascade-eval reproduce --resume ${work}`));
  assert.equal(existsSync(join(work, "report.md")), false);
  assert.deepEqual(manifestOf(work).steps.map((step) => step.status), ["pending", "pending"], "the first step was stopped inside its run");

  // the report so far runs nothing: the checks fail (a step is unfinished), the manifest stays as it was
  const sofar = await cli(["reproduce", "--resume", work, "--report", "--no-progress"]);
  assert.equal(sofar.code, 1, explain(sofar));
  assert.match(sofar.stderr, /^check failed: booksum: every step finished/m, explain(sofar));
  assert.match(readFileSync(join(work, "report.md"), "utf8"), /^Not finished: /m);
  assert.deepEqual(manifestOf(work).steps.map((step) => step.status), ["pending", "pending"]);

  const resumed = await cli(["reproduce", "--resume", work, "--no-progress"]);
  assertSucceeded(resumed);
  const steps = manifestOf(work).steps;
  assert.deepEqual(steps.map((step) => step.status), ["done", "done"]);
  assert.equal(readdirSync(join(work, "runs")).length, 2, "the interrupted run was resumed, not started again");
  assert.match(resumed.stdout, /\| booksum: cascading with 1 cascade writes sink-window's summaries exactly \| pass \|/);
  assert.match(resumed.stdout, /BookSum is not available offline/);
});

test("reproduce errors are one line with exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["reproduce"], /name a preset: passkey, pg19, longbench, booksum or all/],
    [["reproduce", "ruler"], /unknown preset 'ruler' \(known: passkey, pg19, longbench, booksum, all\)/],
    [["reproduce", "pg19", "--resume", "x"], /--resume continues the reproduction's own presets; drop the preset/],
    [["reproduce", "--resume", "/nonexistent"], /no reproduction at \/nonexistent/],
    [["reproduce", "all", "--scale", "tiny"], /--scale must be one of paper, ci/],
    [["reproduce", "--resume", "x", "--samples", "2"], /--resume keeps the reproduction's own --samples; drop it/],
    [["reproduce", "passkey", "--samples", "0"], /--samples/],
    [["reproduce", "passkey", "--report"], /--report writes the report of a reproduction so far: give its folder with --resume/],
    [["reproduce", "passkey", "--parallel", "0"], /--parallel must be a whole number >= 1/],
    [["reproduce", "--resume", "x", "--shard", "1/2"], /--resume keeps the reproduction's own --shard; drop it/],
    [["reproduce", "passkey", "--shard", "3/2"], /--shard 3\/2 is out of range: shards are 1 to 2/],
  ];
  for (const [args, message] of cases) {
    const result = await cli(args);
    assert.equal(result.code, 2, explain(result));
    assert.match(result.stderr, message);
    assert.equal(result.stderr.trim().split("\n").length, 1, explain(result));
  }
});
