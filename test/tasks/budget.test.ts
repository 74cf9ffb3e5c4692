import { test } from "node:test";
import assert from "node:assert/strict";
import { budgetCaches, budgetLabel, budgetRule, budgetWindow, givenBudget, parseBudget, parseBudgets, requireWindow } from "../../src/tasks/budget.js";

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
  assert.equal(requireWindow({ window: budgetWindow(parseBudget("0.25"), 4096, 64, 1) }), 960);
  assert.equal(requireWindow({ window: budgetWindow(parseBudget("0.25"), 4000, 64, 4) }), 936);
  assert.equal(requireWindow({ window: budgetWindow(parseBudget("1K"), 1_000_000, 64, 4) }), 960);
  assert.equal(requireWindow({ window: budgetWindow(parseBudget("1K"), 1_000_000, 62, 4) }), 960, "(1024 − 62) rounded down to a multiple of 4");
  assert.throws(() => requireWindow({ window: budgetWindow(parseBudget("64"), 4096, 64, 1) }), /--budget 64 is 64 tokens at 4096: no room after 64 sinks$/);
  assert.throws(() => requireWindow({ window: budgetWindow(parseBudget("0.01"), 4096, 38, 4) }), /--budget 1% is 40 tokens at 4096: no room after 38 sinks for 4 cascades/);
});

test("a run's budget caches: one per budget for each unit, the same window for every policy, the full cache with the first only", () => {
  const run = { budgets: ["25%", "1K"], policies: ["full", "sink-window", "cascading"], cascades: 4 };
  assert.deepEqual(budgetCaches(run, 4000, 64), [
    { budget: "25%", policies: ["full", "sink-window", "cascading"], window: 936 },
    { budget: "1K", policies: ["sink-window", "cascading"], window: 960 },
  ]);
  assert.deepEqual(budgetCaches({ ...run, policies: ["full", "sink-window"] }, 4000, 64).map((cache) => cache.window), [936, 960], "no cascade in the run: any window");
  assert.deepEqual(budgetCaches({ ...run, policies: ["sink-window"] }, 4001, 63).map((cache) => cache.window), [937, 961]);
  const [short] = budgetCaches(run, 200, 64);
  assert.equal(short!.window, "--budget 25% is 50 tokens at 200: no room after 64 sinks for 4 cascades", "a unit the budget leaves no room says why");
  assert.throws(() => requireWindow(short!), /--budget 25% is 50 tokens at 200: no room after 64 sinks for 4 cascades$/);
  assert.equal(requireWindow({ window: 936 }), 936);
  assert.throws(() => budgetCaches({ ...run, budgets: ["25%", "64"] }, 4000, 64), /--budget 64 is 64 tokens at 4000: no room after 64 sinks for 4 cascades/, "tokens leave no room in any unit");
});

test("a record's --budget is told apart from the per-sample rules kept in the same field, and names its cache's rule", () => {
  assert.equal(givenBudget({ budget: "25%" }), "25%");
  assert.equal(givenBudget({ budget: "8K" }), "8K");
  for (const rule of ["quarter-pow2", "half-pow2", "fixed", undefined, 3]) assert.equal(givenBudget({ budget: rule }), undefined, String(rule));
  assert.equal(budgetRule({ budget: "12.5%" }, "2^⌊log2(n/2)⌋", "each book"), "12.5% of each book");
  assert.equal(budgetRule({ budget: "8K" }, "2^⌊log2(n/2)⌋", "each book"), undefined, "tokens: one window, described as it ran");
  assert.equal(budgetRule({ budget: "fixed" }, "2^⌊log2(n/2)⌋", "each book"), undefined);
  assert.equal(budgetRule({ budget: "half-pow2" }, "2^⌊log2(n/2)⌋", "each book"), "2^⌊log2(n/2)⌋");
});
