/** pred.py's prompt rules: str.format filling, middle truncation, the paper's LongBench budget. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { readDocuments } from "../../src/datasets/local.js";
import { UsageError } from "../../src/errors.js";
import { fillTemplate, truncateMiddle } from "../../src/tasks/longbench/prompt.js";
import { quarterPowerOfTwoBudget } from "../../src/tasks/cache-fit.js";
import { fixture, needs } from "../fixtures.js";

test("templates fill like Python's str.format: fields, doubled braces, values not parsed again", () => {
  assert.equal(fillTemplate("A {context} B {input}", { context: "c{x}", input: 7 }), "A c{x} B 7");
  assert.equal(fillTemplate("{{literal}} {input}", { input: "q" }), "{literal} q");
  assert.throws(() => fillTemplate("{missing}", {}), UsageError);
  assert.throws(() => fillTemplate("a } b", {}), UsageError);
  assert.throws(() => fillTemplate("{0}", {}), UsageError);
});

const TEMPLATES = "data/longbench/dataset2prompt.json";
const MULTI_NEWS = "data/longbench/multi_news.jsonl.xz";

test("every official template fills from a record of the shared multi_news file's schema", { skip: needs(TEMPLATES, MULTI_NEWS) }, async () => {
  const templates = JSON.parse(readFileSync(fixture(TEMPLATES), "utf8")) as Record<string, string>;
  assert.equal(Object.keys(templates).length, 21);
  const [record] = await readDocuments(fixture(MULTI_NEWS), { textField: "context" });
  for (const [dataset, template] of Object.entries(templates)) {
    const prompt = fillTemplate(template, record!.fields);
    assert.ok(prompt.includes(record!.text), dataset);
    assert.ok(!/\{context\}|\{input\}/.test(prompt), dataset);
  }
});

test("middle truncation keeps int(max/2) tokens from each end, only when the prompt is longer than max", () => {
  const tokens = Array.from({ length: 10 }, (_, i) => i);
  assert.deepEqual(truncateMiddle(tokens, 10), [tokens, []]);
  assert.deepEqual(truncateMiddle(tokens, 6), [[0, 1, 2], [7, 8, 9]]);
  assert.deepEqual(truncateMiddle(tokens, 5), [[0, 1], [8, 9]], "int(5/2) = 2: one token fewer than max");
});

test("budget min(2^floor(log2(n/4)), max_length)", () => {
  assert.equal(quarterPowerOfTwoBudget(16384, 1 << 20), 4096);
  assert.equal(quarterPowerOfTwoBudget(16383, 1 << 20), 2048);
  assert.equal(quarterPowerOfTwoBudget(1 << 20, 3500), 3500);
});
