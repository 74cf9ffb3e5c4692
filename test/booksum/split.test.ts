/** The seeded held-out split and the paper's cache budget rule. */
import { test } from "node:test";
import assert from "node:assert/strict";

import { heldOutRows } from "../../src/tasks/booksum/split.js";
import { halfPowerOfTwoBudget } from "../../src/tasks/cache-fit.js";

test("the held-out split takes ceil(5%) distinct rows, in file order, the same every time", () => {
  const rows = heldOutRows(1000, 0.05, 0);
  assert.equal(rows.length, 50);
  assert.equal(new Set(rows).size, 50);
  assert.deepEqual(rows, [...rows].sort((a, b) => a - b));
  assert.ok(rows.every((row) => Number.isInteger(row) && row >= 0 && row < 1000));
  assert.deepEqual(heldOutRows(1000, 0.05, 0), rows);
  assert.notDeepEqual(heldOutRows(1000, 0.05, 1), rows);
  assert.equal(heldOutRows(7, 0.05, 0).length, 1);
  assert.deepEqual(heldOutRows(20, 1, 3), Array.from({ length: 20 }, (_, i) => i));
});

test("the split is pinned: changing it changes which books every published BookSum figure used", () => {
  assert.deepEqual(heldOutRows(100, 0.05, 0), PINNED_100_ROWS);
});

test("budget 2^floor(log2(n/2))", () => {
  assert.equal(halfPowerOfTwoBudget(600), 256);
  assert.equal(halfPowerOfTwoBudget(512), 256);
  assert.equal(halfPowerOfTwoBudget(511), 128);
  assert.equal(halfPowerOfTwoBudget(131072), 65536);
  assert.equal(halfPowerOfTwoBudget(131071), 32768);
});

const PINNED_100_ROWS = [60, 77, 92, 93, 98];
