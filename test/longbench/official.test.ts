/**
 * The official scores: every run of the fixture data/longbench-scoring/predictions.tar.xz that carries the result.json
 * of the unmodified official eval.py is scored again, and all 63 numbers must be equal. Then the CLI on one run.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { defaultMaxLength, loadLongBenchConfig, loadLongBenchDatasets } from "../../src/tasks/longbench/config.js";
import { scoreFolder } from "../../src/tasks/longbench/score.js";
import { cli, explain } from "../cli/helpers.js";
import { fixture, needs } from "../fixtures.js";

const ARCHIVE = "data/longbench-scoring/predictions.tar.xz";
/** The scored runs of the official archive: the first two tests. */
const SKIP_ARCHIVE = needs(ARCHIVE);
let runs: string;

before(() => {
  if (SKIP_ARCHIVE) return;
  runs = mkdtempSync(join(tmpdir(), "cascade-eval-longbench-"));
  execFileSync("tar", ["-xJf", fixture(ARCHIVE), "-C", runs]);
});
after(() => {
  if (!SKIP_ARCHIVE) rmSync(runs, { recursive: true, force: true });
});

const officialRuns = () => readdirSync(runs).filter((run) => existsSync(join(runs, run, "result.json")));

test("our scorer reproduces all 63 official numbers of the three scored runs exactly", { skip: SKIP_ARCHIVE }, () => {
  assert.deepEqual(officialRuns().sort(), ["llama2-7b-chat-4k", "llama3-8b-instruct", "qwen3-8b"]);
  let compared = 0;
  for (const run of officialRuns()) {
    const official = JSON.parse(readFileSync(join(runs, run, "result.json"), "utf8")) as Record<string, number>;
    const ours = scoreFolder(join(runs, run));
    assert.equal(Object.keys(official).length, 21, run);
    for (const [dataset, score] of Object.entries(official)) {
      assert.equal(ours[dataset], score, `${run} ${dataset}`);
      compared++;
    }
  }
  assert.equal(compared, 63);
});

test("longbench score writes result.json as eval.py does and prints the table; bad folders are one-line errors", { skip: SKIP_ARCHIVE }, async () => {
  const run = join(runs, "llama3-8b-instruct");
  const official = readFileSync(join(run, "result.json"), "utf8");
  rmSync(join(run, "result.json"));
  const result = await cli(["longbench", "score", run]);
  assert.equal(result.code, 0, explain(result));
  assert.match(result.stdout, /^narrativeqa\s+qa_f1\s+\S+$/m);
  assert.deepEqual(JSON.parse(readFileSync(join(run, "result.json"), "utf8")), JSON.parse(official));
  assert.match(readFileSync(join(run, "result.json"), "utf8"), /^ {4}"\w[\w-]*": \d+\.\d+,?$/m, "Python's float formatting");

  writeFileSync(join(runs, "unknown.jsonl"), "{}\n");
  for (const [args, message] of [
    [["longbench", "score", join(runs, "missing")], /not a readable folder/],
    [["longbench", "score", runs], /'unknown' is not a LongBench dataset/],
  ] as const) {
    const bad = await cli(args);
    assert.equal(bad.code, 2, explain(bad));
    assert.match(bad.stderr, message);
    assert.equal(bad.stderr.trim().split("\n").length, 1);
  }
});

test("tasks/longbench/datasets.json: the 21 datasets in official order, with the official max new tokens", { skip: needs("data/longbench/dataset2maxlen.json") }, () => {
  const official = JSON.parse(readFileSync(fixture("data/longbench/dataset2maxlen.json"), "utf8")) as Record<string, number>;
  const ours = loadLongBenchDatasets();
  assert.deepEqual(Object.keys(ours), Object.keys(official));
  for (const [dataset, tokens] of Object.entries(official)) assert.equal(ours[dataset]!.maxNewTokens, tokens, dataset);
  const raw = Object.keys(ours).filter((dataset) => !ours[dataset]!.chat);
  assert.deepEqual(raw, ["trec", "triviaqa", "samsum", "lsht", "lcc", "repobench-p"], "docs/protocols.md §4: no chat template for these six");
});

test("tasks/longbench/datasets.json: the prompt templates are the official dataset2prompt.json, character for character", { skip: needs("data/longbench/dataset2prompt.json") }, () => {
  const official = JSON.parse(readFileSync(fixture("data/longbench/dataset2prompt.json"), "utf8")) as Record<string, string>;
  const ours = loadLongBenchDatasets();
  assert.deepEqual(Object.keys(ours), Object.keys(official));
  for (const [dataset, prompt] of Object.entries(official)) assert.equal(ours[dataset]!.prompt, prompt, dataset);
});

test("the default max length (trained context - generationReserve) is the rule behind every entry of model2maxlen.json", { skip: needs("data/longbench/model2maxlen.json") }, () => {
  const official = JSON.parse(readFileSync(fixture("data/longbench/model2maxlen.json"), "utf8")) as Record<string, number>;
  const trained: Record<string, number> = { "4k": 4096, "8k": 8192, "16k": 16384, "32k": 32768, "chatglm2-6b": 32768 };
  const { generationReserve } = loadLongBenchConfig().defaults;
  for (const [model, maxLength] of Object.entries(official)) {
    const size = Object.keys(trained).find((suffix) => model.endsWith(suffix))!;
    assert.ok(size, model);
    assert.equal(defaultMaxLength(trained[size]!), maxLength, model);
  }
  assert.equal(generationReserve, 500);
});
