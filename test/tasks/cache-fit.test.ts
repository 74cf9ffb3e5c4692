import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultStride, fitBudget, fitWindow, halveUntilFits, passkeyWindow } from "../../src/tasks/cache-fit.js";

test("the default stride is the task's, or half the window where that is smaller, and never 0", () => {
  assert.equal(defaultStride(65536, 4096), 4096);
  assert.equal(defaultStride(1024, 4096), 512);
  assert.equal(defaultStride(3, 4096), 1);
  assert.equal(defaultStride(1, 4096), 1);
  assert.equal(defaultStride(1024, 4096, 77), 77, "a given stride is kept");
});

test("a window is halved until sinks + window + its stride fit the trained context", () => {
  const stride = (window: number) => defaultStride(window, 4096);
  assert.deepEqual(fitWindow(32768, 64, stride, 131072), { window: 32768, shrunk: false });
  // 64 + 4096 + 2048 = 6208 <= 8192; 64 + 8192 + 4096 > 8192
  assert.deepEqual(fitWindow(32768, 64, stride, 8192), { window: 4096, shrunk: true });
  assert.deepEqual(fitWindow(32768, 64, () => 1024, 8192), { window: 4096, shrunk: true });
  assert.deepEqual(halveUntilFits(8, () => false), { size: 1, shrunk: true }, "stops at 1");
});

test("passkey's window is the paper's or the largest power of two <= length/4", () => {
  assert.equal(passkeyWindow(1 << 20, 32768), 32768);
  assert.equal(passkeyWindow(4096, 32768), 1024);
  assert.equal(passkeyWindow(5000, 32768), 1024);
  assert.equal(passkeyWindow(3, 32768), 1);
});

test("BookSum's budget shrinks until it and a chunk (its stride or half the budget) fit, and says what it was", () => {
  assert.deepEqual(fitBudget(4096, 1024, 8192), { budget: 4096 });
  // 8192 + 1024 > 8192, 4096 + 1024 fits
  assert.deepEqual(fitBudget(8192, 1024, 8192), { budget: 4096, uncapped: 8192 });
  // small budgets take half of themselves as the chunk: 512 + 256 fits in 800
  assert.deepEqual(fitBudget(1024, 4096, 800), { budget: 512, uncapped: 1024 });
});
