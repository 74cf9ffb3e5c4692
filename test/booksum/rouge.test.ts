/** ROUGE as rouge_score computes it, on cases worked out by hand (fractions in the comments). */
import { test } from "node:test";
import assert from "node:assert/strict";

import { lcsLength, rougeScores, rougeTokens } from "../../src/tasks/booksum/rouge.js";

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} vs ${expected}`);

test("tokens: lower-cased, split on anything outside [a-z0-9], Porter-stemmed above 3 characters", () => {
  assert.deepEqual(rougeTokens("The Cat's RUNNING, quickly!"), ["the", "cat", "s", "run", "quickli"]);
  // Letters outside a-z are separators, as in rouge_score: "café" loses its é, "naïve" splits in two.
  assert.deepEqual(rougeTokens("café naïve"), ["caf", "na", "ve"]);
  // Words of 3 characters or fewer are never stemmed ("was", "ran"); longer ones are ("runs" → "run").
  assert.deepEqual(rougeTokens("was ran runs 1990s"), ["was", "ran", "run", "1990"]);
  assert.deepEqual(rougeTokens(" \n—…  "), []);
});

test("ROUGE-1, ROUGE-2 and ROUGE-L on one worked example", () => {
  // reference: the cat sat on the mat (6 tokens) · prediction: the cat lay on the mat quietli (7 tokens)
  const { rouge1, rouge2, rougeL } = rougeScores("The cat sat on the mat.", "The cat lay on the mat quietly.");
  // unigrams in common: the ×2, cat, on, mat = 5 → P 5/7, R 5/6, F 10/13
  close(rouge1.precision, 5 / 7, "R1 P");
  close(rouge1.recall, 5 / 6, "R1 R");
  close(rouge1.fmeasure, 10 / 13, "R1 F");
  // bigrams in common: "the cat", "on the", "the mat" = 3 of 6 predicted, 5 reference → F 6/11
  close(rouge2.precision, 3 / 6, "R2 P");
  close(rouge2.recall, 3 / 5, "R2 R");
  close(rouge2.fmeasure, 6 / 11, "R2 F");
  // longest common subsequence: the cat on the mat = 5 → same fractions as ROUGE-1 here
  close(rougeL.fmeasure, 10 / 13, "RL F");
});

test("n-gram matches are clipped to the reference's count", () => {
  // reference a a b, prediction a a a a: "a" matches min(4, 2) = 2 → P 2/4, R 2/3, F 4/7
  const { rouge1 } = rougeScores("a a b", "a a a a");
  close(rouge1.fmeasure, 4 / 7, "R1 F");
});

test("stemming makes inflections match", () => {
  // reference he was run(ning) · prediction he run(s): 2 matches → P 1, R 2/3, F 0.8
  const { rouge1 } = rougeScores("He was running", "he runs");
  close(rouge1.precision, 1, "P");
  close(rouge1.fmeasure, 0.8, "F");
});

test("ROUGE-L follows order: a reversed text shares only one token in sequence", () => {
  assert.equal(lcsLength(["a", "b", "c", "d", "e"], ["e", "d", "c", "b", "a"]), 1);
  assert.equal(lcsLength(["a", "b", "c", "b", "d", "a", "b"], ["b", "d", "c", "a", "b", "a"]), 4);
  const { rougeL, rouge1 } = rougeScores("alpha beta gamma delta", "delta gamma beta alpha");
  close(rouge1.fmeasure, 1, "R1 F");
  close(rougeL.fmeasure, 1 / 4, "RL F");
});

test("an empty prediction or reference scores 0, not NaN", () => {
  for (const [reference, prediction] of [["the cat", ""], ["", "the cat"], ["", ""]] as const) {
    const scores = rougeScores(reference, prediction);
    for (const score of Object.values(scores)) assert.deepEqual(score, { precision: 0, recall: 0, fmeasure: 0 });
  }
});
