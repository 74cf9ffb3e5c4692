import { test } from "node:test";
import assert from "node:assert/strict";
import { budgetLabel, budgetWindow, parseBudget, parseBudgets } from "../../src/tasks/budget.js";

test("a budget is a share of the prompt or a number of tokens, sinks included, as users write it", () => {
  assert.deepEqual(parseBudget("0.25"), { kind: "share", share: 0.25 });
  assert.deepEqual(parseBudget(".5"), { kind: "share", share: 0.5 });
  assert.deepEqual(parseBudget("25%"), { kind: "share", share: 0.25 });
  assert.deepEqual(parseBudget("8K"), { kind: "tokens", tokens: 8192 });
  assert.deepEqual(parseBudget("1000"), { kind: "tokens", tokens: 1000 });
  assert.equal(budgetLabel(parseBudget("0.125")), "12.5%");
  assert.equal(budgetLabel(parseBudget("64K")), "64K");
  for (const bad of ["0", "1.5", "100%", "-1", "abc", "0.25x"]) assert.throws(() => parseBudget(bad), /--budget '.*' is neither a share of the prompt \(0 < x < 1, e\.g\. 0\.25\) nor a number of tokens \(e\.g\. 8K\)/, bad);
  assert.deepEqual(parseBudgets("1K, 0.25,25%,1024").map(budgetLabel), ["1K", "25%"], "duplicates dropped, in given order");
  assert.throws(() => parseBudgets(" , "), /--budget needs at least one budget/);
});

test("a budget leaves budget − sinks for the window, rounded down to the cascades' multiple", () => {
  assert.equal(budgetWindow(parseBudget("0.25"), 4096, 64, 1), 960);
  assert.equal(budgetWindow(parseBudget("0.25"), 4000, 64, 4), 936);
  assert.equal(budgetWindow(parseBudget("1K"), 1_000_000, 64, 4), 960);
  assert.equal(budgetWindow(parseBudget("1K"), 1_000_000, 62, 4), 960, "(1024 − 62) rounded down to a multiple of 4");
  assert.throws(() => budgetWindow(parseBudget("64"), 4096, 64, 1), /--budget 64 is 64 tokens at 4096: no room after 64 sinks$/);
  assert.throws(() => budgetWindow(parseBudget("0.01"), 4096, 38, 4), /--budget 1% is 40 tokens at 4096: no room after 38 sinks for 4 cascades/);
});
