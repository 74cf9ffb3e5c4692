/**
 * `cascade-eval pg19` through the real CLI on the default model: streaming perplexity per policy with its records,
 * curve and tables; llama-perplexity chunking against the figure llama.cpp's own tool gave (docs/llama-perplexity.md);
 * bad inputs.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { readDocuments } from "../../src/datasets/local.js";
import type { Pg19Record } from "../../src/tasks/pg19/summary.js";
import { assertSucceeded, cli, explain, onlyRunFolder, QUIET, removeTemporaryFolders, tempFolder, type CliResult } from "./helpers.js";
import { fixture, needs } from "../fixtures.js";

/** Every test here runs on books cut from this file. */
const TEST_BOOKS = fixture("data/pg19/pg19-test-approx.jsonl.xz");
const SKIP = needs("data/pg19/pg19-test-approx.jsonl.xz");
/** llama-perplexity on book 10146 with -c 2048 --chunks 8 (docs/llama-perplexity.md). */
const LLAMA_PERPLEXITY_10146 = 56.1145;

let fixtures: string;
let books: string;
let streamed: { result: CliResult; folder: string };

const recordsOf = (folder: string): Pg19Record[] =>
  readFileSync(join(folder, "samples.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line) as Pg19Record);

before(async () => {
  if (SKIP) return;
  fixtures = tempFolder();
  // Two books cut to ~12k characters (about 3,000 tokens) and one too short for the cache.
  const documents = await readDocuments(TEST_BOOKS);
  const lines = documents.slice(0, 2).map((d) => JSON.stringify({ book_id: d.id, short_book_title: d.title, text: d.text.slice(0, 12_000) }));
  lines.push(JSON.stringify({ book_id: "short", short_book_title: "A short one", text: "Too short to evict anything." }));
  books = join(fixtures, "books.jsonl");
  writeFileSync(books, `${lines.join("\n")}\n`);
  const results = tempFolder();
  const args = ["pg19", "--data", books, "--policy", "full,sink-window,cascading", "--sinks", "4", "--window", "512", "--stride", "256", "--curve-bin", "512"];
  const result = await cli([...args, "--results", results, ...QUIET]);
  assertSucceeded(result);
  streamed = { result, folder: onlyRunFolder(results) };
});

after(removeTemporaryFolders);

test("pg19 streams every book through each policy and prints perplexity per policy", { skip: SKIP }, () => {
  const { result, folder } = streamed;
  assert.match(result.stdout, /^PG19 perplexity$/m, explain(result));
  for (const policy of ["full", "sink-window", "cascading"]) assert.match(result.stdout, new RegExp(`^${policy}\\s`, "m"));
  assert.match(result.stdout, /skipped \(shorter than the cache\): short \(\d+ tokens\)/);
  assert.match(result.stderr, /1 book\(s\) skipped/);
  assert.match(result.stdout, /^perplexity by position/m);
  for (const file of ["run.json", "samples.jsonl", "summary.md", "summary.csv", "curve.svg"]) assert.ok(existsSync(join(folder, file)), file);
  assert.match(readFileSync(join(folder, "curve.svg"), "utf8"), /<polyline[^>]*points="[\d.]+,[\d.]+ /);
});

test("records hold the sums the table is computed from, and each scores every token but the first", { skip: SKIP }, () => {
  const records = recordsOf(streamed.folder);
  assert.equal(records.length, 6);
  for (const record of records) {
    assert.equal(record.predicted, record.tokens - 1);
    assert.equal(record.curve.count.reduce((a, b) => a + b, 0), record.predicted);
    assert.ok(Math.abs(record.curve.nll.reduce((a, b) => a + b, 0) - record.nll) < 1e-6 * record.nll);
    assert.ok(record.nll / record.predicted > 1 && record.nll / record.predicted < 8, `${record.bookId} ${record.policy.name}: ${record.nll / record.predicted} nats`);
  }
  const full = records.filter((r) => r.policy.name === "full");
  const expected = Math.exp(full.reduce((a, r) => a + r.nll, 0) / full.reduce((a, r) => a + r.predicted, 0));
  const row = streamed.result.stdout.split("\n").find((line) => line.startsWith("full "))!;
  assert.match(row, new RegExp(`\\s${expected.toFixed(2).replace(".", "\\.")}\\s`), row);
  // Within the window the bounded caches see what the full cache sees: the first bin (512 tokens) agrees.
  const [first] = full;
  const windowed = records.find((r) => r.policy.name === "sink-window" && r.bookId === first!.bookId)!;
  assert.ok(Math.abs(windowed.curve.nll[0]! - first!.curve.nll[0]!) < 1e-3 * first!.curve.nll[0]!);
});

test("table rebuilds a pg19 run's perplexities from its records", { skip: SKIP }, async () => {
  const result = await cli(["table", streamed.folder, "--format", "json"]);
  assertSucceeded(result);
  const tables = JSON.parse(result.stdout) as { title: string; rows: Record<string, unknown>[] }[];
  const overall = tables.find((table) => table.title === "PG19 perplexity")!;
  const records = recordsOf(streamed.folder);
  for (const row of overall.rows) {
    const group = records.filter((r) => r.policy.name === row.policy);
    const expected = Math.exp(group.reduce((a, r) => a + r.nll, 0) / group.reduce((a, r) => a + r.predicted, 0));
    assert.ok(Math.abs((row.perplexity as number) - expected) <= 0.005, `${String(row.policy)}: ${String(row.perplexity)} vs ${expected}`);
  }
  assert.equal(overall.rows.length, 3);
});

test("--resume redoes only the missing book runs, and gets the same numbers", { skip: SKIP }, async () => {
  const folder = join(tempFolder(), "resumed");
  cpSync(streamed.folder, folder, { recursive: true });
  const lines = readFileSync(join(folder, "samples.jsonl"), "utf8").trim().split("\n");
  writeFileSync(join(folder, "samples.jsonl"), `${lines.slice(0, 4).join("\n")}\n${lines[4]!.slice(0, 30)}`); // one lost, one torn
  const result = await cli(["pg19", "--resume", folder, ...QUIET]);
  assertSucceeded(result);
  assert.match(result.stderr, /6 of 6 book runs/);
  const before = recordsOf(streamed.folder);
  const after = recordsOf(folder);
  assert.equal(after.length, 6);
  const key = (r: Pg19Record) => `${r.bookId}|${r.policy.name}`;
  for (const record of before) {
    const again = after.find((r) => key(r) === key(record))!;
    assert.ok(Math.abs(again.nll - record.nll) < 1e-6 * record.nll, key(record));
  }
  const refused = await cli(["pg19", "--resume", folder, "--window", "64", ...QUIET]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /drop --window/);
});

test("llama-perplexity chunking reproduces llama.cpp's figure on the same chunks within 0.1%", { skip: SKIP }, async () => {
  const documents = await readDocuments(TEST_BOOKS);
  const book = join(fixtures, "10146.jsonl");
  const first = documents.find((d) => d.id === "10146")!;
  writeFileSync(book, `${JSON.stringify({ book_id: first.id, short_book_title: first.title, text: first.text })}\n`);
  const results = tempFolder();
  const result = await cli(["pg19", "--data", book, "--chunking", "llama-perplexity", "--ctx", "2048", "--max-tokens", "16384", "--policy", "full", "--results", results, ...QUIET]);
  assertSucceeded(result);
  const [record] = recordsOf(onlyRunFolder(results));
  assert.equal(record!.predicted, 8 * 1023, "8 chunks, the second half of each scored");
  const perplexity = Math.exp(record!.nll / record!.predicted);
  assert.ok(Math.abs(perplexity / LLAMA_PERPLEXITY_10146 - 1) < 0.001, `${perplexity} vs llama-perplexity ${LLAMA_PERPLEXITY_10146}`);
});

test("bad pg19 inputs are one-line errors with exit code 2", { skip: SKIP }, async () => {
  const cases: [string[], RegExp][] = [
    [["--data", join(fixtures, "missing.jsonl")], /no such file or folder/],
    [["--data", books, "--chunking", "llama-perplexity", "--policy", "full,sink-window"], /use --policy full/],
    [["--data", books, "--window", "100000"], /no book has the \d+ tokens needed \(the longest has \d+; .*\); use --window \d+ or less$/m],
    [["--data", books, "--max-tokens", "1024"], /no book has the \d+ tokens needed \(the longest has 1024; .*\); use --max-tokens \d+ or more, or --window \d+ or less$/m],
    [["--data", books, "--chunking", "sideways"], /--chunking/],
    [["--datasets-dir", tempFolder()], /dataset pg19-test is not cached; run `cascade-eval data fetch pg19-test` with network access, or pass --data PATH/],
  ];
  for (const [args, message] of cases) {
    const result = await cli(["pg19", ...args, "--results", tempFolder(), ...QUIET]);
    assert.equal(result.code, 2, explain(result));
    assert.match(result.stderr, message);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  }
});

test("--budget gives every bounded policy one cache per budget (a share of each book, or tokens), the full cache once; a resume finds it done", { skip: SKIP }, async () => {
  const results = tempFolder();
  const args = ["pg19", "--data", TEST_BOOKS, "--max-tokens", "2K", "--stride", "128", "--curve-bin", "256", "--policy", "full,sink-window", "--budget", "0.25,384"];
  const result = await cli([...args, "--results", results, "--format", "markdown", ...QUIET]);
  assertSucceeded(result);
  const folder = onlyRunFolder(results);
  const records = recordsOf(folder);
  assert.equal(records.length, 4 * 3, "4 books × (full + sink-window at 2 budgets)");
  for (const record of records.filter((each) => each.policy.name === "sink-window")) {
    const tokens = record.policy.budget === "25%" ? Math.floor(0.25 * record.tokens) : 384;
    assert.equal(record.policy.window, tokens - 64, `${record.bookId} at ${String(record.policy.budget)}`);
  }
  assert.match(result.stdout, /^\| sink-window · budget 25% \| budget 25% of each book incl\. 64 sinks, stride 128 \| 4 \|/m);
  assert.match(result.stdout, /^\| sink-window · budget 384 \| 64 sinks \+ 320 window, stride 128 \| 4 \|/m);
  const resumed = await cli(["pg19", "--resume", folder, "--results", results, ...QUIET]);
  assertSucceeded(resumed);
  assert.match(resumed.stderr, /^resuming: 12 of 12 already done$/m, explain(resumed));
});
