import { test } from "node:test";
import assert from "node:assert/strict";
import { UsageError } from "../../src/errors.js";
import { CascadingPolicy } from "../../src/policies/cascading.js";
import { FullPolicy } from "../../src/policies/full.js";
import { createPolicy, groupByPolicy, parsePolicyNames, policyKey, policyLabel } from "../../src/policies/registry.js";
import type { PolicyConfig } from "../../src/policies/policy.js";
import { SinkWindowPolicy } from "../../src/policies/sink-window.js";

function usageError(message: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof UsageError, `not a UsageError: ${String(error)}`);
    assert.equal(error.message, message);
    return true;
  };
}

const valid: PolicyConfig = { name: "cascading", sinks: 64, window: 1024, cascades: 4 };

test("parsePolicyNames trims, skips empty entries and drops duplicates in given order", () => {
  assert.deepEqual(parsePolicyNames("cascading, full ,cascading,sink-window,"), ["cascading", "full", "sink-window"]);
  assert.deepEqual(parsePolicyNames("full"), ["full"]);
});

test("parsePolicyNames rejects unknown names and empty lists", () => {
  assert.throws(
    () => parsePolicyNames("full,xyz"),
    usageError("unknown policy 'xyz' (known: full, sink-window, cascading-strided, cascading, h2o, tova, snapkv, bigbird, random)"),
  );
  assert.throws(
    () => parsePolicyNames("Full"),
    usageError("unknown policy 'Full' (known: full, sink-window, cascading-strided, cascading, h2o, tova, snapkv, bigbird, random)"),
  );
  assert.throws(() => parsePolicyNames(" , "), usageError("no policy given (known: full, sink-window, cascading-strided, cascading, h2o, tova, snapkv, bigbird, random)"));
});

test("createPolicy builds each policy with its capacity and attention decay", () => {
  const full = createPolicy({ ...valid, name: "full" });
  assert.ok(full instanceof FullPolicy);
  assert.equal(full.capacity, Infinity);
  assert.equal(full.attentionDecay, undefined);
  const sinkWindow = createPolicy({ ...valid, name: "sink-window" });
  assert.ok(sinkWindow instanceof SinkWindowPolicy);
  assert.equal(sinkWindow.capacity, 1088);
  assert.equal(sinkWindow.attentionDecay, undefined);
  const cascading = createPolicy(valid);
  assert.ok(cascading instanceof CascadingPolicy);
  assert.equal(cascading.capacity, 1088);
  assert.equal(cascading.attentionDecay, 0.9999);
  assert.deepEqual(cascading.config, valid);
  assert.equal(new CascadingPolicy(valid, { useScores: false }).attentionDecay, undefined);
  // the strided cascade asks for no scores, so the engine measures none for it; its layout checks are cascading's
  const strided = createPolicy({ ...valid, name: "cascading-strided" });
  assert.ok(strided instanceof CascadingPolicy);
  assert.equal(strided.capacity, 1088);
  assert.equal(strided.attentionDecay, undefined);
  assert.throws(() => createPolicy({ ...valid, name: "cascading-strided", window: 1000, cascades: 3 }), usageError("--window 1000 is not divisible by --cascades 3"));
});

test("createPolicy rejects bad flags with one-line messages naming them", () => {
  const cases: [Partial<PolicyConfig>, string][] = [
    [{ sinks: -1 }, "--sinks must be an integer >= 0 (got -1)"],
    [{ sinks: 1.5 }, "--sinks must be an integer >= 0 (got 1.5)"],
    [{ window: 0 }, "--window must be an integer >= 1 (got 0)"],
    [{ window: Number.NaN }, "--window must be an integer >= 1 (got NaN)"],
    [{ cascades: 0 }, "--cascades must be an integer >= 1 (got 0)"],
    [{ cascades: 2.5 }, "--cascades must be an integer >= 1 (got 2.5)"],
    [{ window: 1000, cascades: 3 }, "--window 1000 is not divisible by --cascades 3"],
    [{ window: 2, cascades: 4 }, "--window 2 is not divisible by --cascades 4"],
    [{ schedule: "pow5" }, "--schedule must be one of pow2, pow3, pow4, linear (got pow5)"],
  ];
  for (const [change, message] of cases) {
    assert.throws(() => createPolicy({ ...valid, ...change }), usageError(message));
    assert.ok(!message.includes("\n"));
  }
  // sink-window has no sub-caches and full ignores every bound.
  assert.doesNotThrow(() => createPolicy({ ...valid, name: "sink-window", window: 1000, cascades: 3 }));
  assert.throws(
    () => createPolicy({ ...valid, name: "sink-window", window: 0 }),
    usageError("--window must be an integer >= 1 (got 0)"),
  );
  assert.doesNotThrow(() => createPolicy({ name: "full", sinks: -1, window: 0, cascades: 0 }));
});

test("groupByPolicy: registry order, one group per policy and budget, the budget read by `budgetOf` where a task keeps other values there", () => {
  const record = (name: string, budget?: string) => ({ policy: { name, sinks: 64, window: 960, cascades: 4, ...(budget === undefined ? {} : { budget }) } });
  const records = [record("sink-window", "25%"), record("full"), record("sink-window", "1K"), record("sink-window", "25%")];
  assert.deepEqual(
    groupByPolicy(records).map(({ label, key, budget, records: group }) => [label, key, budget, group.length]),
    [["full", "full", undefined, 1], ["sink-window · budget 25%", "sink-window@25%", "25%", 2], ["sink-window · budget 1K", "sink-window@1K", "1K", 1]],
  );
  const ruled = [record("full", "fixed"), record("sink-window", "fixed")];
  assert.deepEqual(groupByPolicy(ruled, () => undefined).map((group) => group.label), ["full", "sink-window"]);
  assert.equal(policyLabel("cascading", undefined), "cascading");
  assert.equal(policyKey("cascading", "12.5%"), "cascading@12.5%");
});
