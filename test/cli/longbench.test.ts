/**
 * `cascade-eval longbench` end to end on the default model: the shared official multi_news file, official-format
 * predictions scored as `longbench score` scores them, truncation, items side by side, samsum's newline stop,
 * the hub's data.zip (from a stand-in on 127.0.0.1) with LongBench-E, and one-line errors.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { strToU8, zipSync } from "fflate";

import { readDocuments } from "../../src/datasets/local.js";
import { DATASETS } from "../../src/datasets/registry.js";
import type { LongBenchRecord } from "../../src/tasks/longbench/record.js";
import { HubServer, resolvePath, sha256 } from "../datasets/hub-server.js";
import { assertRefused, assertResumesCut, assertSucceeded, BAD_BUDGETS, cli, completeLines, explain, onlyRunFolder, QUIET, removeTemporaryFolders, runFolders, startCli, tempFolder, waitForRecords } from "./helpers.js";
import { fixture, needs } from "../fixtures.js";

/** Every test here runs on items of the official multi_news file (or rows made from them). */
const MULTI_NEWS = fixture("data/longbench/multi_news.jsonl.xz");
const SKIP = needs("data/longbench/multi_news.jsonl.xz");
/** The official files of the --data folder test, in the official order. */
const LONGBENCH_FOLDER = ["multifieldqa_zh", "multi_news", "passage_retrieval_zh"].map((dataset) => `data/longbench/${dataset}.jsonl.xz`);
const OFFICIAL_KEYS = ["pred", "answers", "all_classes", "length"];

let hub: HubServer;
let source: Record<string, unknown>[];
const savedEndpoint = process.env.HF_ENDPOINT;

before(async () => {
  if (SKIP) return;
  source = (await readDocuments(MULTI_NEWS, { textField: "context" })).slice(0, 3).map((document) => document.fields);
  hub = await HubServer.start();
  process.env.HF_ENDPOINT = hub.endpoint;
});

after(async () => {
  if (savedEndpoint === undefined) delete process.env.HF_ENDPOINT;
  else process.env.HF_ENDPOINT = savedEndpoint;
  if (!SKIP) await hub.close();
  removeTemporaryFolders();
});

const lines = (path: string) => readFileSync(path, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
const records = (run: string) => lines(join(run, "samples.jsonl")) as unknown as LongBenchRecord[];

async function longbench(args: readonly string[]): Promise<{ run: string; stdout: string }> {
  const results = tempFolder();
  const result = await cli(["longbench", ...args, "--results", results, ...QUIET]);
  assertSucceeded(result);
  return { run: onlyRunFolder(results), stdout: result.stdout };
}

test("multi_news: official-format predictions per policy, result.json as `longbench score` writes it, the table from them", { skip: SKIP }, async () => {
  const { run, stdout } = await longbench(["--data", MULTI_NEWS, "--samples", "2", "--policy", "full,sink-window", "--format", "json"]);
  const table = JSON.parse(stdout) as { rows: Record<string, unknown>[] }[];
  for (const policy of ["full", "sink-window"]) {
    const folder = join(run, "pred", policy);
    const predictions = lines(join(folder, "multi_news.jsonl"));
    assert.equal(predictions.length, 2);
    predictions.forEach((prediction, index) => {
      assert.deepEqual(Object.keys(prediction), OFFICIAL_KEYS);
      for (const key of ["answers", "all_classes", "length"]) assert.deepEqual(prediction[key], source[index]![key], `${policy} item ${index}: ${key}`);
    });
    const written = readFileSync(join(folder, "result.json"), "utf8");
    const rescored = await cli(["longbench", "score", folder]);
    assertSucceeded(rescored);
    assert.equal(readFileSync(join(folder, "result.json"), "utf8"), written, "the run's result.json is the scorer's");
    const multiNews = table[0]!.rows.find((row) => row.dataset === "multi_news")!;
    assert.equal(multiNews[policy], (JSON.parse(written) as Record<string, number>).multi_news);
  }
  for (const record of records(run)) {
    assert.equal(record.truncatedFrom, null);
    const { name, sinks, window } = record.policy;
    if (name === "sink-window") assert.equal(sinks + window, 2 ** Math.floor(Math.log2(record.promptTokens / 4)), "the paper's budget, sinks included");
    else assert.equal(window, 0);
    assert.ok(record.generatedTokens <= 512);
  }
  const rebuilt = await cli(["table", run, "--format", "json"]);
  assertSucceeded(rebuilt);
  assert.deepEqual((JSON.parse(rebuilt.stdout) as { rows: unknown[] }[])[0]!.rows, table[0]!.rows);
});

test("--max-length truncates in the middle; items side by side, or interrupted and resumed, give the very predictions of one at a time", { skip: SKIP }, async () => {
  const args = ["longbench", "--data", MULTI_NEWS, "--samples", "3", "--policy", "full,cascading", "--max-length", "1000"];
  const one = await longbench([...args.slice(1), "--parallel", "1"]);
  const two = await longbench([...args.slice(1), "--parallel", "2"]);
  const results = tempFolder();
  const running = startCli([...args, "--parallel", "2", "--results", results, ...QUIET]);
  const folder = await waitForRecords(() => runFolders(results)[0], 1, running);
  running.child.kill("SIGTERM");
  const stopped = await running.done;
  assert.equal(stopped.code, 130, explain(stopped));
  const before = completeLines(folder).length;
  assert.ok(before < 6, `${before} of 6 predictions before the resume: not interrupted`);
  assert.match(stopped.stderr, new RegExp(`^continue with: cascade-eval longbench --resume ${folder}$`, "m"));
  const resumed = await cli(["longbench", "--resume", folder, "--results", results, ...QUIET]);
  assertSucceeded(resumed);
  assert.match(resumed.stderr, new RegExp(`^resuming: ${before} of 6 already done$`, "m"));
  for (const policy of ["full", "cascading"]) {
    const file = join("pred", policy, "multi_news.jsonl");
    const expected = readFileSync(join(one.run, file), "utf8");
    assert.equal(readFileSync(join(two.run, file), "utf8"), expected, `${policy}: two at once`);
    assert.equal(readFileSync(join(folder, file), "utf8"), expected, `${policy}: interrupted and resumed`);
  }
  for (const record of records(two.run)) {
    assert.ok(record.truncatedFrom! > 1000, `truncated from ${record.truncatedFrom}`);
    assert.ok(Math.abs(record.promptTokens - 1000) <= 3, `${record.promptTokens} prompt tokens`);
  }
});

test("samsum stops at the first newline and never starts with one", { skip: SKIP }, async () => {
  const folder = tempFolder();
  const rows = source.map((row) => ({ ...row, context: `Dialogue: ${(row.context as string).slice(0, 2000)}\nSummary: A summary.\n\n`, input: "Dialogue: Anna: hi\nBen: hello" }));
  writeFileSync(join(folder, "samsum.jsonl"), rows.map((row) => JSON.stringify(row)).join("\n") + "\n");
  const { run } = await longbench(["--data", join(folder, "samsum.jsonl"), "--policy", "full"]);
  for (const record of records(run)) {
    assert.equal(record.dataset, "samsum");
    assert.ok(!record.pred.startsWith("\n"), JSON.stringify(record.pred));
    assert.equal(record.pred.slice(0, -1).includes("\n"), false, JSON.stringify(record.pred));
    assert.ok(record.generatedTokens <= 128);
  }
});

test("a prompt too short for the bounded budget is skipped under that policy only, and the table shows each policy's count", { skip: SKIP }, async () => {
  const folder = tempFolder();
  const rows = [{ ...source[0], context: (source[0]!.context as string).slice(0, 3000) }, { ...source[1], context: "Short news." }];
  writeFileSync(join(folder, "multi_news.jsonl"), rows.map((row) => JSON.stringify(row)).join("\n") + "\n");
  const { run, stdout } = await longbench(["--data", join(folder, "multi_news.jsonl"), "--policy", "full,sink-window", "--format", "json"]);
  assert.equal(lines(join(run, "pred", "full", "multi_news.jsonl")).length, 2);
  assert.equal(lines(join(run, "pred", "sink-window", "multi_news.jsonl")).length, 1);
  const [table] = JSON.parse(stdout) as { rows: Record<string, unknown>[]; notes: string[] }[];
  assert.equal(table!.rows[0]!.items, "2 / 1");
  assert.ok(table!.notes.some((note) => /^skipped 1: multi_news item 1 \(\d+ tokens\) under sink-window: no window left after 64 sinks$/.test(note)), table!.notes.join("\n"));
});

test("the hub's data.zip: fetched once, then read per dataset; --e reads DATASET_e and scores by length bucket", { skip: SKIP }, async () => {
  const jsonl = (rows: Record<string, unknown>[]) => strToU8(rows.map((row) => JSON.stringify(row)).join("\n") + "\n");
  const short: Record<string, unknown>[] = source.map((row) => ({ ...row, context: (row.context as string).slice(0, 3000) }));
  const zip = Buffer.from(
    zipSync({
      "data/multi_news.jsonl": jsonl(short.slice(0, 1)),
      "data/multi_news_e.jsonl": jsonl(short.slice(0, 2).map((row, index) => ({ ...row, length: [1500, 6000][index] }))),
    }),
  );
  const spec = DATASETS.longbench;
  hub.file(resolvePath(spec.repo, spec.revision, spec.files[0]), { body: zip, headers: { "x-linked-size": String(zip.length), "x-linked-etag": `"${sha256(zip)}"` } });
  const cache = tempFolder();
  const missing = await cli(["longbench", "--datasets", "multi_news", "--datasets-dir", cache, ...QUIET]);
  assert.equal(missing.code, 2, explain(missing));
  assert.match(missing.stderr, /^cascade-eval: dataset longbench is not cached; run `cascade-eval data fetch longbench`/);
  assertSucceeded(await cli(["data", "fetch", "longbench", "--datasets-dir", cache]));

  const plain = await longbench(["--datasets", "multi_news", "--datasets-dir", cache, "--policy", "sink-window"]);
  assert.deepEqual(records(plain.run).map((record) => record.id), [short[0]!._id]);
  const e = await longbench(["--e", "--datasets", "multi_news", "--datasets-dir", cache, "--policy", "sink-window", "--format", "json"]);
  assert.deepEqual(records(e.run).map((record) => record.length), [1500, 6000]);
  const result = readFileSync(join(e.run, "pred_e", "sink-window", "result.json"), "utf8");
  assert.match(result, /^{\n {4}"multi_news": {\n {8}"0-4k": [\d.]+,\n {8}"4-8k": [\d.]+,\n {8}"8k\+": NaN\n {4}}\n}$/);
  assert.equal(existsSync(join(e.run, "pred")), false);
  const [table] = JSON.parse(e.stdout) as { rows: Record<string, unknown>[] }[];
  assert.deepEqual(Object.keys(table!.rows[0]!), ["dataset", "metric", "items", "0-4k", "4-8k", "8k+"]);
  assert.equal(table!.rows[0]!["8k+"], null, "an empty bucket has no score");
});

test("a --data folder runs the LongBench files it holds, Chinese ones scored with jieba", { skip: needs(...LONGBENCH_FOLDER) }, async () => {
  const { run, stdout } = await longbench(["--data", fixture("data/longbench"), "--samples", "1", "--policy", "sink-window", "--format", "json"]);
  assert.deepEqual(records(run).map((record) => record.dataset), ["multifieldqa_zh", "multi_news", "passage_retrieval_zh"], "the official order");
  const [table] = JSON.parse(stdout) as { rows: Record<string, unknown>[] }[];
  assert.deepEqual(table!.rows.map((row) => row.dataset).slice(0, 3), ["multifieldqa_zh", "multi_news", "passage_retrieval_zh"]);
  const result = JSON.parse(readFileSync(join(run, "pred", "sink-window", "result.json"), "utf8")) as Record<string, number>;
  for (const row of table!.rows.slice(0, 3)) assert.equal(row["sink-window"], result[row.dataset as string]);
});

test("bad input: one line naming the problem, exit 2", { skip: SKIP }, async () => {
  const folder = tempFolder();
  writeFileSync(join(folder, "mine.jsonl"), `${JSON.stringify(source[0])}\n`);
  writeFileSync(join(folder, "hotpotqa.jsonl"), `${JSON.stringify({ ...source[0], answers: "x" })}\n`);
  for (const [args, message] of [
    [["--datasets", "nope"], /--datasets: unknown dataset 'nope'/],
    [["--e", "--datasets", "multifieldqa_zh"], /--e: LongBench-E has no multifieldqa_zh/],
    [["--data", join(folder, "mine.jsonl")], /is one file: name its dataset with --datasets/],
    [["--data", folder, "--datasets", "qasper"], /no qasper\.jsonl \(or \.jsonl\.xz, \.jsonl\.zst\) in the folder/],
    [["--data", folder, "--datasets", "hotpotqa"], /"answers" is not a list of strings/],
    [["--data", MULTI_NEWS, "--parallel", "0"], /--parallel must be a whole number >= 1/],
  ] as const) {
    const result = await cli(["longbench", ...args, "--results", folder, ...QUIET]);
    assert.equal(result.code, 2, explain(result));
    assert.match(result.stderr, message);
    assert.equal(result.stderr.trim().split("\n").length, 1, explain(result));
  }
});

test("--budget runs each bounded policy once per budget (a share of each item's prompt, or tokens, sinks included), the full cache once; a resume skips the finished units", { skip: SKIP }, async () => {
  const folder = tempFolder();
  // three prompt lengths: a share gives each its own window, and leaves none in the shortest
  const rows = [3000, 6000, 20].map((chars, index) => ({ ...source[index], context: (source[index]!.context as string).slice(0, chars) }));
  const data = join(folder, "multi_news.jsonl");
  writeFileSync(data, rows.map((row) => JSON.stringify(row)).join("\n") + "\n");
  const results = tempFolder();
  const args = ["longbench", "--data", data, "--policy", "full,sink-window,cascading", "--budget", "0.25,512"];
  const result = await cli([...args, "--results", results, "--format", "json", ...QUIET]);
  assertSucceeded(result);
  const run = onlyRunFolder(results);
  const saved = records(run);
  const keyOf = (record: LongBenchRecord) => `${record.item} ${record.policy.name}@${String(record.policy.budget)}`;
  const bounded = ["sink-window@25%", "cascading@25%", "sink-window@512", "cascading@512"];
  assert.deepEqual(saved.map(keyOf), [
    ...["full@undefined", ...bounded].map((key) => `0 ${key}`),
    ...["full@undefined", ...bounded].map((key) => `1 ${key}`),
    ...["full@undefined", "sink-window@512", "cascading@512"].map((key) => `2 ${key}`),
  ]);
  const [short] = saved.filter((record) => record.item === 2);
  assert.ok(Math.floor(0.25 * short!.promptTokens) < 64, `${short!.promptTokens} tokens: 25% leaves no room after the sinks`);
  assert.notEqual(saved[1]!.promptTokens, saved[6]!.promptTokens, "the items' prompts differ in length");
  for (const record of saved.filter((each) => each.policy.name !== "full")) {
    const tokens = record.policy.budget === "25%" ? Math.floor(0.25 * record.promptTokens) : 512;
    // cascading is in the run: every policy gets budget − sinks rounded down to a multiple of its 4 cascades
    assert.equal(record.policy.sinks + record.policy.window, 64 + Math.floor((tokens - 64) / 4) * 4, keyOf(record));
    if (record.promptTokens > tokens) assert.ok(record.evictedTokens > 0 && record.cachedTokens <= tokens + record.policy.stride, keyOf(record));
  }
  const options = (JSON.parse(readFileSync(join(run, "run.json"), "utf8")) as { options: { budgets: string[] } }).options;
  assert.deepEqual(options.budgets, ["25%", "512"]);
  const [table] = JSON.parse(result.stdout) as { rows: Record<string, unknown>[]; notes: string[] }[];
  const columns = ["full", "sink-window · budget 25%", "sink-window · budget 512", "cascading · budget 25%", "cascading · budget 512"];
  assert.deepEqual(Object.keys(table!.rows[0]!), ["dataset", "metric", "items", ...columns], "one column per policy and budget");
  assert.equal(table!.rows[0]!.items, "3 / 2 / 3 / 2 / 3");
  assert.ok(table!.notes.includes("sink-window · budget 25%: budget 25% of each prompt incl. 64 sinks"), table!.notes.join("\n"));
  assert.ok(table!.notes.includes("sink-window · budget 512: 64 sinks + 448 window, stride 224"), table!.notes.join("\n"));
  assert.ok(table!.notes.some((note) => /^skipped 2: multi_news item 2 \(\d+ tokens\) under sink-window: --budget 25% is \d+ tokens at \d+: no room after 64 sinks for 4 cascades; /.test(note)), table!.notes.join("\n"));
  for (const [column, key] of columns.map((column) => [column, column.replace(" · budget ", "@")] as const)) {
    const scores = JSON.parse(readFileSync(join(run, "pred", key, "result.json"), "utf8")) as Record<string, number>;
    assert.equal(table!.rows[0]![column], scores.multi_news, `${column}: the score of pred/${key}`);
  }

  // a sweep cut short: a resume runs only the units whose records are missing, and writes the same predictions
  await assertResumesCut("longbench", run, 4, 13);
  assert.deepEqual(records(run).map((record) => [keyOf(record), record.pred]), saved.map((record) => [keyOf(record), record.pred]));

  await assertRefused(args.slice(0, -2), [...BAD_BUDGETS, [["--budget", "64"], /^cascade-eval: --budget 64 is 64 tokens at \d+: no room after 64 sinks for 4 cascades$/]]);
});
