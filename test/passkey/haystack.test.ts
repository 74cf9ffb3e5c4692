import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Engine } from "../../src/engine/engine.js";
import { framePrompt, tokenizeContinuation } from "../../src/engine/prompt.js";
import { DEFAULT_MODEL } from "../../src/config.js";
import { loadPasskeyConfig } from "../../src/tasks/passkey/config.js";
import { HaystackBuilder, scoreAnswer, type Filler } from "../../src/tasks/passkey/haystack.js";
import { loadDictionaryWords } from "../../src/tasks/passkey/words.js";

const config = loadPasskeyConfig();
let engine: Engine;
let builder: HaystackBuilder;
let frameLengths: { prefix: number; suffix: number };
const words = loadDictionaryWords(config.wordTiers);

before(async () => {
  engine = await Engine.open({ model: DEFAULT_MODEL, gpu: "cpu" });
  const frame = framePrompt(engine.llamaModel, config);
  frameLengths = { prefix: frame.prefix.length, suffix: frame.suffix.length };
  builder = new HaystackBuilder(config, { ...frame, continuation: (text) => tokenizeContinuation(engine.llamaModel, text) }, words);
});
after(async () => {
  await engine.close();
});

test("the dictionary holds common lower-case English words only", () => {
  assert.ok(words.length > 20_000, `${words.length} words`);
  assert.ok(words.every((word) => /^[a-z]+$/.test(word)));
  for (const word of ["house", "water", "green"]) assert.ok(words.includes(word), word);
});

test("prompts have exactly the asked length, with the key block whole inside the haystack", () => {
  for (const filler of ["words", "grass"] as Filler[])
    for (const length of [400, 1000, 4096])
      for (const depthBin of config.depths) {
        const sample = builder.build({ length, depthBin, index: 0, seed: 1, filler });
        assert.equal(sample.tokens.length, length, `${filler} ${length} ${depthBin}`);
        const keyText = engine.detokenize(sample.tokens.slice(sample.keyPosition, sample.keyPosition + 60));
        assert.match(keyText, new RegExp(`^ ?HERE IS THE PASSKEY! The pass key is ${sample.key}\\. ${sample.key} is the pass key\\.`));
        assert.ok(sample.keyPosition >= frameLengths.prefix);
        assert.match(engine.detokenize(sample.tokens.slice(-frameLengths.suffix)), /What is the pass key\? The pass key is$/);
        assert.match(sample.key, /^[1-9]\d{4}$/);
      }
});

test("key depths fall in their bin [d - 0.2, d] up to one filler unit", () => {
  for (const depthBin of config.depths) {
    for (let index = 0; index < 20; index++) {
      const sample = builder.build({ length: 2000, depthBin, index, seed: 5, filler: "words" });
      const slack = 8 / 2000;
      const low = Math.max(depthBin - 0.2, frameLengths.prefix / 2000);
      assert.ok(sample.depth >= low - slack && sample.depth <= depthBin + slack, `d=${depthBin}: depth ${sample.depth}`);
    }
  }
});

test("samples are deterministic per (seed, length, depth, index, filler) and differ otherwise", () => {
  const request = { length: 1500, depthBin: 0.6, index: 3, seed: 9, filler: "words" as const };
  assert.deepEqual(builder.build(request), builder.build({ ...request }));
  const keys = new Set(Array.from({ length: 10 }, (_, index) => builder.build({ ...request, index }).key));
  assert.ok(keys.size >= 9, "different indices give different keys");
  assert.notDeepEqual(builder.build(request).tokens, builder.build({ ...request, seed: 10 }).tokens);
});

test("the words filler reads as dictionary words, the grass filler as llama.cpp's sentences", () => {
  const wordSample = builder.build({ length: 600, depthBin: 1.0, index: 0, seed: 2, filler: "words" });
  const haystack = engine.detokenize(wordSample.tokens.slice(frameLengths.prefix, wordSample.keyPosition));
  const dictionary = new Set(words);
  const seen = haystack.trim().split(/\s+/);
  assert.ok(seen.length > 200);
  assert.ok(seen.every((word) => dictionary.has(word)), "every filler word is in the dictionary");
  const grass = builder.build({ length: 600, depthBin: 1.0, index: 0, seed: 2, filler: "grass" });
  assert.match(engine.detokenize(grass.tokens.slice(frameLengths.prefix, frameLengths.prefix + 40)), /^ ?The grass is green\. The sky is blue\. The sun is yellow\. Here we go\./);
});

test("too short a length is a clear error", () => {
  assert.throws(() => builder.build({ length: 60, depthBin: 1, index: 0, seed: 1, filler: "words" }), /--len 60 is too short for the passkey prompt/);
});

test("scoring is per-digit accuracy of the first five digits of the answer", () => {
  assert.equal(scoreAnswer(" 12345.", "12345"), 1);
  assert.equal(scoreAnswer("12355", "12345"), 0.8);
  assert.equal(scoreAnswer("1 2 3 4 5", "12345"), 1);
  assert.equal(scoreAnswer("the key is 9 12345", "12345"), 0, "a stray leading digit shifts every position");
  assert.equal(scoreAnswer("123", "12345"), 0.6, "missing digits count as wrong");
  assert.equal(scoreAnswer("no idea", "12345"), 0);
  assert.equal(scoreAnswer("1234567890", "12345"), 1, "digits after the fifth do not count");
});
