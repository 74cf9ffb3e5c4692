/** difflib's SequenceMatcher.ratio() and fuzzywuzzy's fuzz.ratio against values Python computed. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { fuzzRatio, sequenceRatio } from "../../src/tasks/longbench/difflib.js";
import { projectPath } from "../../src/util/paths.js";

interface Case {
  kind: string;
  a: string;
  b: string;
  ratio: number;
  fuzz: number;
  autojunk: boolean;
}

test("cases checked by hand", () => {
  assert.equal(sequenceRatio("hello", "hello"), 1.0);
  assert.equal(fuzzRatio("hello", "hello"), 100);
  assert.equal(sequenceRatio("abc", "xyz"), 0.0);
  assert.equal(fuzzRatio("abc", "xyz"), 0);
  assert.equal(sequenceRatio("abcd", "bcde"), 0.75);
  assert.equal(fuzzRatio("abcd", "bcde"), 75);
  assert.equal(sequenceRatio("abxcd", "abcd"), 8 / 9);
  // Empty strings: ratio 1.0 for two of them (T = 0); fuzz.ratio checks equality before emptiness.
  assert.equal(sequenceRatio("", ""), 1.0);
  assert.equal(sequenceRatio("", "abc"), 0.0);
  assert.equal(sequenceRatio("abc", ""), 0.0);
  assert.equal(fuzzRatio("", ""), 100);
  assert.equal(fuzzRatio("", "abc"), 0);
  assert.equal(fuzzRatio("abc", ""), 0);
});

test("an emoji outside the BMP is one element, not two UTF-16 units", () => {
  assert.equal(sequenceRatio("a😀", "a😀b"), 0.8); // 2·2/5, not 2·3/7
  assert.equal(sequenceRatio("😀", "😃"), 0.0); // they share a high surrogate, not a code point
  assert.equal(sequenceRatio("你好😀", "你好😀"), 1.0);
});

test("autojunk: an element more frequent than len(b)//100 + 1 in a b of 200+ is left out of the index", () => {
  // b is 200 x's, all popular: the index is empty and nothing is found (autojunk=False would give 0.995).
  assert.equal(sequenceRatio("y" + "x".repeat(199), "x".repeat(200)), 0.0);
  // ...but a match found nothing through the index still widens over equal elements from the range's corner.
  assert.equal(sequenceRatio("x".repeat(200), "x".repeat(200) + "y"), 400 / 401);
  // Below 200 elements nothing is popular.
  assert.equal(sequenceRatio("y" + "x".repeat(198), "x".repeat(199)), (2 * 198) / 398);
});

test("exact .5 ties round to even, as Python's round() does", () => {
  assert.equal(fuzzRatio("abcdefgh", "aijklmno"), 12); // ratio 0.125: 12.5 → 12
  assert.equal(fuzzRatio("abcdefgh", "abcijklm"), 38); // 0.375: 37.5 → 38
  assert.equal(fuzzRatio("abcdefgh", "abcdeklm"), 62); // 0.625: 62.5 → 62
  assert.equal(fuzzRatio("abcdefgh", "abcdefgm"), 88); // 0.875: 87.5 → 88
  assert.equal(fuzzRatio("a" + "b".repeat(199), "a" + "z".repeat(199)), 0); // 2/400 → 0.5 → 0
  assert.equal(fuzzRatio("ab" + "c".repeat(198), "ab" + "z".repeat(198)), 1); // 4/400 → 1.0
  assert.equal(fuzzRatio("abc" + "d".repeat(197), "abc" + "z".repeat(197)), 2); // 6/400 → 1.5 → 2
});

test("every fixture case gets Python's ratio() and fuzz.ratio, to the last bit", () => {
  const cases = JSON.parse(readFileSync(projectPath("test", "longbench", "difflib-cases.json"), "utf8")) as Case[];
  assert.ok(cases.length > 500);
  // The fixture covers what it claims to.
  const kinds = new Set(cases.map((c) => c.kind));
  for (const kind of ["random", "code", "long", "unicode", "tie"]) assert.ok(kinds.has(kind), kind);
  assert.ok(cases.filter((c) => c.autojunk).length >= 20);
  assert.ok(cases.some((c) => /\p{Extended_Pictographic}/u.test(c.a + c.b)));
  assert.ok(cases.some((c) => c.kind === "tie" && Number.isInteger(100 * c.ratio - 0.5)));

  const wrong: string[] = [];
  for (const c of cases) {
    const ratio = sequenceRatio(c.a, c.b);
    const fuzz = fuzzRatio(c.a, c.b);
    if (ratio !== c.ratio || fuzz !== c.fuzz) {
      wrong.push(`${c.kind} ${JSON.stringify(c.a.slice(0, 40))} / ${JSON.stringify(c.b.slice(0, 40))}: ${ratio}, ${fuzz} ≠ ${c.ratio}, ${c.fuzz}`);
    }
  }
  assert.deepEqual(wrong.slice(0, 10), []);
  assert.equal(wrong.length, 0);
});
