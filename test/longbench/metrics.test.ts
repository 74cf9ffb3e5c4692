/**
 * LongBench's metrics on hand-made cases, each built so that a plausible re-implementation slip (JavaScript's
 * ASCII \b or \d, a clean list removal, Math.round, counting repeated words) gives a different number.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { jiebaCut, METRICS, normalizeAnswer, normalizeZhAnswer } from "../../src/tasks/longbench/metrics.js";
import { numpyPairwiseSum, numpyRound2, pythonRound, scoreDataset, type ScoringConfig } from "../../src/tasks/longbench/score.js";
import { projectPath } from "../../src/util/paths.js";

const NONE: string[] = [];

test("qa_f1: lower-case, ASCII punctuation and whole-word articles removed, bag-of-words F1", () => {
  // [eiffel, tower, paris] vs [eiffel, tower]: 2 shared → P 2/3, R 1, F 0.8
  assert.equal(METRICS.qa_f1("The Eiffel Tower, Paris!", "eiffel tower", NONE), (2 * (2 / 3) * 1) / (2 / 3 + 1));
  // Python's \b is Unicode-aware: the "a" of "éa" is inside a word and stays; "theater" is no article.
  assert.equal(normalizeAnswer("éa b café a the theater"), "éa b café theater");
  assert.equal(METRICS.qa_f1("nothing shared", "at all", NONE), 0);
});

test("qa_f1_zh: jieba words, Chinese and ASCII punctuation dropped per word, empty words gone", () => {
  // Python jieba: 北京 是 中国 的 首都 。 / 中国 的 首都 → 3 shared of 5 and 3: P 3/5, R 1
  assert.deepEqual(jiebaCut("北京是中国的首都。"), ["北京", "是", "中国", "的", "首都", "。"]);
  assert.equal(METRICS.qa_f1_zh("北京是中国的首都。", "中国的首都", NONE), (2 * (3 / 5) * 1) / (3 / 5 + 1));
  assert.equal(normalizeZhAnswer("《你好》， 世界！"), "《你好世界", "the official list has 》 but not 《");
  // jieba splits ASCII runs on -: "1-1.5克" is 1 - 1.5 克 in Python jieba (jieba-rs alone keeps "1-1" together).
  assert.deepEqual(jiebaCut("1-1.5克"), ["1", "-", "1.5", "克"]);
});

test("rouge: sentences split on '.', LCS words as sets, distinct-word counts, F = 2PR/(P+R+1e-8)", () => {
  // ref words {the, cat, sat, on, mat} (5), prediction words {the, cat, sat, ran} (4); union of LCS words with
  // "the cat sat" and "the cat ran" = {the, cat, sat} → R 3/5, P 3/4
  assert.equal(METRICS.rouge("the cat sat. the cat ran", "the cat sat on the mat", NONE), 2 * (((3 / 5) * (3 / 4)) / (3 / 5 + 3 / 4 + 1e-8)));
  // A repeated word counts once on both sides.
  assert.equal(METRICS.rouge("cat cat cat", "cat", NONE), 2 * ((1 * 1) / (1 + 1 + 1e-8)));
  // No sentence at all raises inside the package, and LongBench scores the exception as 0.
  assert.equal(METRICS.rouge("", "the cat", NONE), 0);
  assert.equal(METRICS.rouge("...", "the cat", NONE), 0);
  // "3.5" is two sentences to the package: "3" and "5 million".
  assert.equal(METRICS.rouge("3.5 million", "5 million", NONE), 2 * (((2 / 2) * (2 / 3)) / (2 / 2 + 2 / 3 + 1e-8)));
});

test("classification keeps the official list.remove-while-iterating quirk", () => {
  // Found: x, xy, xyz. Removing "x" (inside the answer, not the answer) shifts the list and the loop skips "xy",
  // which stays: 2 candidates → 1/2. A clean filter would give 1.
  assert.equal(METRICS.classification("xyz", "xyz", ["x", "xy", "xyz"]), 0.5);
  assert.equal(METRICS.classification("it is xy", "xyz", ["x", "xy", "xyz"]), 0);
});

test("retrieval, retrieval_zh and count: share of the prediction's numbers equal to the answer; Unicode digits count", () => {
  assert.equal(METRICS.retrieval("Paragraph 12, not 3", "Paragraph 12", NONE), 0.5);
  // Python's \d also matches full-width digits: "１" is a second number.
  assert.equal(METRICS.retrieval_zh("段落12 和 段落１", "段落12", NONE), 0.5);
  assert.equal(METRICS.count("There are 5 unique paragraphs among 30.", "5", NONE), 0.5);
  assert.equal(METRICS.count("no digits", "5", NONE), 0);
});

test("code_sim: the first line without `, # or //, fuzz.ratio / 100", () => {
  assert.equal(METRICS.code_sim("```python\n# comment\nx = 1\n", "x = 1", NONE), 1);
  assert.equal(METRICS.code_sim("\n\n// c\nint y;", "int y;", NONE), 1);
  assert.equal(METRICS.code_sim("# only comments", "x = 1", NONE), 0, "no eligible line: the empty string");
  // difflib: "abcd" vs "bcde" → 0.75 → 75
  assert.equal(METRICS.code_sim("abcd", "bcde", NONE), 0.75);
});

test("a dataset: first-line rule where the config says so, max over answers, round(100·mean, 2)", () => {
  const trec: ScoringConfig = { metric: "classification", firstLine: true };
  const classes = ["Location", "Person"];
  const records = [
    { pred: "\n\nLocation\nPerson", answers: ["Location"], all_classes: classes }, // first line only: 1
    { pred: "Person", answers: ["Location", "Person"], all_classes: classes }, // max over answers: 1
    { pred: "unknown", answers: ["Person"], all_classes: classes }, // 0
  ];
  assert.equal(scoreDataset("trec", records, trec), 66.67);
  assert.equal(scoreDataset("trec", records, { ...trec, firstLine: false }), 50, "without the rule the first item finds both classes");
});

test("Python's round(x, 2): exact binary value, ties to even", () => {
  assert.equal(pythonRound(12.125, 2), 12.12); // exactly representable tie → even; toFixed gives 12.13
  assert.equal(pythonRound(0.125, 2), 0.12);
  assert.equal(pythonRound(0.375, 2), 0.38);
  assert.equal(pythonRound(2.675, 2), 2.67); // 2.67499999… in binary
  assert.equal(pythonRound(66.66666666666667, 2), 66.67);
});

test("LongBench-E means: numpy's pairwise sum and numpy's rounding, against numpy's own output", () => {
  const cases = JSON.parse(readFileSync(projectPath("test", "longbench", "numpy-mean-cases.json"), "utf8")) as { values: number[]; mean: number; score: number }[];
  assert.ok(cases.length > 40);
  for (const { values, mean, score } of cases) {
    const ours = numpyPairwiseSum(values, 0, values.length) / values.length;
    assert.equal(ours, mean, `n=${values.length}`);
    assert.equal(numpyRound2(100 * ours), score, `n=${values.length}`);
  }
});
