/**
 * The embedded default model (the trained probe model, models/README.md) reads the key from its context: with the
 * full cache it retrieves every key, and with a small sink-window cache it keeps retrieving the keys inside the
 * window while those evicted long before the question are lost.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";

import { assertSucceeded, cli, DEFAULT_MODEL_PATH, onlyRunFolder, QUIET, readRecords, removeTemporaryFolders, tempFolder } from "./helpers.js";

after(removeTemporaryFolders);

const WINDOW = 512;

test("the default model retrieves keys from the full cache and from the window, not from evicted text", async () => {
  const results = tempFolder();
  const args = ["passkey", "--len", "2K", "--samples", "3", "--depths", "0.4,1.0", "--policy", "full,sink-window"];
  const result = await cli([...args, "--sinks", "4", "--window", String(WINDOW), "--results", results, ...QUIET]);
  assertSucceeded(result);
  const records = readRecords(onlyRunFolder(results));
  assert.equal(records.length, 12);
  for (const record of records) assert.equal(record.model.path, DEFAULT_MODEL_PATH);

  for (const record of records.filter((r) => r.policy.name === "full")) assert.equal(record.score, 1, `full cache, key at ${record.keyPosition}: "${record.answer}"`);

  const windowed = records.filter((r) => r.policy.name === "sink-window");
  // Depth bin 1.0 puts the key block in the last 20% of the prompt: inside the last 512 tokens kept.
  const inside = windowed.filter((r) => r.keyPosition >= r.promptTokens - WINDOW);
  const evicted = windowed.filter((r) => r.keyPosition + 100 < r.promptTokens - WINDOW - 256);
  assert.equal(inside.length, 3);
  assert.equal(evicted.length, 3);
  for (const record of inside) assert.equal(record.score, 1, `key inside the window at ${record.keyPosition}: "${record.answer}"`);
  const evictedMean = evicted.reduce((sum, r) => sum + r.score, 0) / evicted.length;
  assert.ok(evictedMean <= 0.5, `keys evicted long before the question still scored ${evictedMean}: ${evicted.map((r) => r.answer).join(" | ")}`);
});
