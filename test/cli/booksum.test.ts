/**
 * `cascade-eval booksum` through the real CLI on the default model: a local JSONL in Long-Data-Collections' BookSum
 * schema, ROUGE per policy recomputable from the records, the held-out split, and bad inputs.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { readDocuments } from "../../src/datasets/local.js";
import { rougeScores } from "../../src/tasks/booksum/rouge.js";
import { heldOutRows } from "../../src/tasks/booksum/split.js";
import type { BooksumRecord } from "../../src/tasks/booksum/summary.js";
import { assertRefused, assertResumesCut, assertSucceeded, BAD_BUDGETS, cli, explain, onlyRunFolder, QUIET, removeTemporaryFolders, tempFolder, type CliResult } from "./helpers.js";
import { fixture, needs } from "../fixtures.js";

/** Every test here runs on rows cut from these books. */
const TEST_BOOKS = "data/pg19/pg19-test-approx.jsonl.xz";
const SKIP = needs(TEST_BOOKS);
const TRAILER = "\n\nQ: Can you write an appropriate summary of the above paragraphs?\nA:";

let fixtures: string;
/** Rows as the hub file has them: `prompt` (passage + question), `completion` (summary), `text` (both). */
let rows: { prompt: string; completion: string; text: string }[];
let books: string;
let run: { result: CliResult; folder: string };

const recordsOf = (folder: string): BooksumRecord[] =>
  readFileSync(join(folder, "samples.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line) as BooksumRecord);

function writeRows(name: string, lines: readonly unknown[]): string {
  const path = join(fixtures, name);
  writeFileSync(path, `${lines.map((line) => JSON.stringify(line)).join("\n")}\n`);
  return path;
}

before(async () => {
  if (SKIP) return;
  fixtures = tempFolder();
  const documents = await readDocuments(fixture(TEST_BOOKS));
  rows = documents.slice(0, 3).map((document) => {
    const prompt = `${document.text.slice(20_000, 23_000)}${TRAILER}`;
    const completion = ` The chapter tells of ${document.title}, of the people in it and of what they did.`;
    return { prompt, completion, text: prompt + completion };
  });
  books = writeRows("booksum.jsonl", rows);
  const results = tempFolder();
  const result = await cli(["booksum", "--data", books, "--split", "all", "--samples", "2", "--results", results, ...QUIET]);
  assertSucceeded(result);
  run = { result, folder: onlyRunFolder(results) };
});

after(removeTemporaryFolders);

test("booksum prints ROUGE-1/2/L per policy, and every record's scores are its own texts' ROUGE", { skip: SKIP }, () => {
  const { result, folder } = run;
  assert.match(result.stdout, /ROUGE-1\s+ROUGE-2\s+ROUGE-L/, explain(result));
  for (const policy of ["full", "sink-window", "cascading"]) assert.match(result.stdout, new RegExp(`^${policy}\\s`, "m"));
  const records = recordsOf(folder);
  assert.equal(records.length, 6);
  for (const record of records) {
    assert.deepEqual(record.rouge, rougeScores(record.reference, record.summary));
    assert.equal(record.reference, rows[record.row - 1]!.completion.trim());
    assert.ok(record.generatedTokens > 0 && record.generatedTokens <= 512);
    assert.ok(record.summary.length > 0, "the model wrote something");
  }
  // The trailing question of the source rows is not part of the book: the prompt ends in the plain answer cue.
  assert.match(readFileSync(join(folder, "run.json"), "utf8"), /"promptFormat": "plain"/);
});

test("bounded policies get the paper's budget 2^floor(log2(n/2)), sinks included, and evict down to it", { skip: SKIP }, () => {
  for (const record of recordsOf(run.folder).filter((r) => r.policy.name !== "full")) {
    const budget = 2 ** Math.floor(Math.log2(record.promptTokens / 2));
    assert.equal(record.policy.sinks + record.policy.window, budget, `row ${record.row} ${record.policy.name}`);
    assert.ok(record.evictedTokens > 0);
    assert.ok(record.cachedTokens <= budget + record.policy.stride);
  }
});

test("the table averages the records' F-measures (×100)", { skip: SKIP }, async () => {
  const result = await cli(["table", run.folder, "--format", "json"]);
  assertSucceeded(result);
  const [table] = JSON.parse(result.stdout) as { rows: Record<string, number | string>[] }[];
  const records = recordsOf(run.folder);
  for (const row of table!.rows) {
    const group = records.filter((r) => r.policy.name === row.policy);
    const mean = (100 * group.reduce((sum, r) => sum + r.rouge.rougeL.fmeasure, 0)) / group.length;
    assert.ok(Math.abs((row["ROUGE-L"] as number) - mean) <= 0.005, `${String(row.policy)}: ${String(row["ROUGE-L"])} vs ${mean}`);
  }
});

test("cascading with one cascade is sink-window exactly", { skip: SKIP }, async () => {
  const results = tempFolder();
  const result = await cli(["booksum", "--data", books, "--split", "all", "--samples", "1", "--policy", "sink-window,cascading", "--cascades", "1", "--results", results, ...QUIET]);
  assertSucceeded(result);
  const [windowed, cascaded] = recordsOf(onlyRunFolder(results));
  assert.equal(cascaded!.summary, windowed!.summary);
});

test("the default split is the seeded held-out 5%", { skip: SKIP }, async () => {
  const many = writeRows("forty.jsonl", Array.from({ length: 40 }, (_, index) => ({ ...rows[index % 3]!, completion: `Summary of row ${index + 1}.` })));
  const results = tempFolder();
  const result = await cli(["booksum", "--data", many, "--policy", "sink-window", "--results", results, ...QUIET]);
  assertSucceeded(result);
  const records = recordsOf(onlyRunFolder(results));
  assert.deepEqual(records.map((record) => record.row), heldOutRows(40, 0.05, 0).map((row) => row + 1));
  assert.deepEqual(records.map((record) => record.reference), records.map((record) => `Summary of row ${record.row}.`));
});

test("bad booksum inputs are one-line errors with exit code 2", { skip: SKIP }, async () => {
  const garbage = join(fixtures, "broken.jsonl.zst");
  writeFileSync(garbage, "this is not zstd");
  const cases: [string[], RegExp][] = [
    [["--data", join(fixtures, "missing.jsonl")], /no such file or folder/],
    [["--data", writeRows("pg19-schema.jsonl", [{ text: "a book" }])], /no string field "prompt"/],
    [["--data", writeRows("no-summary.jsonl", [{ prompt: "a book" }]), "--split", "all"], /row 1: no summary in field "completion"/],
    [["--data", writeRows("empty-book.jsonl", [{ prompt: "  ", completion: "x" }])], /document 1 is empty/],
    [["--data", garbage], /--data .*broken\.jsonl\.zst: the name says zstd but the file is not zstd data; rename or recompress it/],
    [["--datasets-dir", tempFolder()], /dataset booksum is not cached; run `cascade-eval data fetch booksum` with network access, or pass --data PATH/],
    [["--data", books, "--split", "some"], /--split must be one of held-out, all/],
  ];
  for (const [args, message] of cases) {
    const result = await cli(["booksum", ...args, "--results", tempFolder(), ...QUIET]);
    assert.equal(result.code, 2, explain(result));
    assert.match(result.stderr, message);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  }
});

test("--budget runs each bounded policy once per budget (a share of each book's prompt, or tokens, sinks included), the full cache once; a resume skips the finished units", { skip: SKIP }, async () => {
  // two books of different lengths, so that a share gives each its own window
  const data = writeRows("budget.jsonl", [rows[0], { ...rows[1]!, prompt: `${rows[1]!.prompt.slice(0, 1500)}${TRAILER}` }]);
  const results = tempFolder();
  const args = ["booksum", "--data", data, "--split", "all", "--policy", "full,sink-window", "--budget", "0.25,384"];
  const result = await cli([...args, "--results", results, "--format", "markdown", ...QUIET]);
  assertSucceeded(result);
  const folder = onlyRunFolder(results);
  const records = recordsOf(folder);
  const keyOf = (record: BooksumRecord) => `${record.row} ${record.policy.name}@${String(record.policy.budget)}`;
  assert.deepEqual(records.map(keyOf), ["1 full@undefined", "1 sink-window@25%", "1 sink-window@384", "2 full@undefined", "2 sink-window@25%", "2 sink-window@384"]);
  assert.notEqual(records[0]!.promptTokens, records[3]!.promptTokens, "the books differ in length");
  for (const record of records.filter((each) => each.policy.name !== "full")) {
    const tokens = record.policy.budget === "25%" ? Math.floor(0.25 * record.promptTokens) : 384;
    assert.equal(record.policy.sinks + record.policy.window, tokens, keyOf(record));
    assert.ok(record.evictedTokens > 0 && record.cachedTokens <= tokens + record.policy.stride, keyOf(record));
  }
  const options = (JSON.parse(readFileSync(join(folder, "run.json"), "utf8")) as { options: { budgets: string[] } }).options;
  assert.deepEqual(options.budgets, ["25%", "384"]);
  const tableRows = result.stdout.split("\n").filter((line) => /^\| (full|sink-window)/.test(line));
  assert.equal(tableRows.length, 3, "one row per policy and budget");
  assert.match(result.stdout, /^\| full \| full cache \| 2 \|/m);
  assert.match(result.stdout, /^\| sink-window · budget 25% \| budget 25% of each book incl\. 64 sinks \| 2 \|/m);
  assert.match(result.stdout, /^\| sink-window · budget 384 \| 64 sinks \+ 320 window, stride 160 \| 2 \|/m);

  // a sweep cut short: a resume runs only the units whose records are missing, and writes the same summaries
  await assertResumesCut("booksum", folder, 2, 6);
  assert.deepEqual(recordsOf(folder).map((record) => [keyOf(record), record.summary]), records.map((record) => [keyOf(record), record.summary]));

  await assertRefused(args.slice(0, -2), [...BAD_BUDGETS, [["--budget", "64"], /^cascade-eval: --budget 64 is 64 tokens at \d+: no room after 64 sinks$/]]);
});
