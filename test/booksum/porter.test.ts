/** The Porter stemmer against NLTK's own output (the stemmer rouge_score uses), word for word. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { porterStem } from "../../src/tasks/booksum/porter.js";
import { projectPath } from "../../src/util/paths.js";

test("every word of the NLTK fixture gets NLTK's stem", () => {
  const lines = readFileSync(projectPath("test", "booksum", "nltk-porter.tsv"), "utf8").split("\n").filter((line) => line !== "" && !line.startsWith("#"));
  assert.ok(lines.length > 7000);
  const wrong = lines.map((line) => line.split("\t") as [string, string]).filter(([word, stem]) => porterStem(word) !== stem);
  assert.deepEqual(wrong.slice(0, 10).map(([word, stem]) => `${word}: ${porterStem(word)} ≠ ${stem}`), []);
});

test("NLTK's departures from the 1980 paper, each checked by hand", () => {
  const cases: [string, string][] = [
    ["they", "they"], // y → i only after a consonant
    ["days", "day"],
    ["happy", "happi"],
    ["dies", "die"], // four-letter -ies / -ied keep "ie"
    ["tied", "tie"],
    ["cried", "cri"],
    ["dying", "die"], // irregular forms
    ["news", "news"],
    ["skies", "sky"],
    ["generically", "gener"], // -alli first, then step 2 again
    ["geology", "geolog"], // -logi with the "l" counted in the measure
    ["running", "run"],
    ["relational", "relat"],
    ["hopefully", "hope"],
    ["at", "at"], // two letters: untouched
    ["constructor", "constructor"], // not looked up as an object property
  ];
  for (const [word, stem] of cases) assert.equal(porterStem(word), stem, word);
});
