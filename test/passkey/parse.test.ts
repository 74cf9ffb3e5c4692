import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDepths } from "../../src/cli/parse.js";
import { formatLength, parseLength, parseLengths } from "../../src/util/lengths.js";
import { cacheShape, type PasskeyOptions } from "../../src/tasks/passkey/run.js";
import { loadPasskeyConfig } from "../../src/tasks/passkey/config.js";

test("lengths take K/M suffixes (binary), plain numbers and comma lists", () => {
  assert.equal(parseLength("4K"), 4096);
  assert.equal(parseLength("32k"), 32768);
  assert.equal(parseLength("1M"), 1048576);
  assert.equal(parseLength("1048576"), 1048576);
  assert.equal(parseLength("1.5K"), 1536);
  assert.deepEqual(parseLengths("4K,32K,4K"), [4096, 32768]);
  for (const bad of ["4Q", "0", "", "-2K", "1.3", "K", "2KB"]) assert.throws(() => parseLength(bad), /malformed length/, bad);
  assert.equal(formatLength(1048576), "1M");
  assert.equal(formatLength(2048), "2K");
  assert.equal(formatLength(1000), "1000");
});

test("depths are numbers in (0, 1]", () => {
  assert.deepEqual(parseDepths("0.2,0.4,1.0"), [0.2, 0.4, 1]);
  for (const bad of ["0", "1.2", "x", "0.2,,0.4"]) assert.throws(() => parseDepths(bad), /malformed depth/, bad);
});

test("the default cache shape is the paper's at 1M and shrinks to a quarter of short haystacks", () => {
  const config = loadPasskeyConfig();
  const base: PasskeyOptions = { lengths: [], depths: [], samples: 1, seed: 1, policies: [], cascades: 4, filler: "words", model: "" };
  assert.deepEqual(cacheShape(1048576, base, config), { sinks: 64, window: 32768, stride: 4096, shrunk: false });
  assert.deepEqual(cacheShape(4096, base, config), { sinks: 64, window: 1024, stride: 512, shrunk: false });
  assert.deepEqual(cacheShape(4096, { ...base, policies: [], window: 2048, stride: 100, sinks: 4 }, config), { sinks: 4, window: 2048, stride: 100, shrunk: false });
});

test("a default window is halved until it fits the model's trained context; a given one is kept", () => {
  const config = loadPasskeyConfig();
  const base: PasskeyOptions = { lengths: [], depths: [], samples: 1, seed: 1, policies: [], cascades: 4, filler: "words", model: "" };
  // 8K context: 64 + 8192 + 4096 does not fit, 64 + 4096 + 2048 does
  assert.deepEqual(cacheShape(1048576, base, config, 8192), { sinks: 64, window: 4096, stride: 2048, shrunk: true });
  assert.deepEqual(cacheShape(1048576, base, config, 131072), { sinks: 64, window: 32768, stride: 4096, shrunk: false });
  assert.deepEqual(cacheShape(4096, base, config, 8192), { sinks: 64, window: 1024, stride: 512, shrunk: false });
  assert.deepEqual(cacheShape(1048576, { ...base, window: 32768 }, config, 8192), { sinks: 64, window: 32768, stride: 4096, shrunk: false });
});
