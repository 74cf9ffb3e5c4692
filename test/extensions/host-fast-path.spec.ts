// Runs after `cascade-eval extensions build` (npm run test:extensions): llama.cpp with the host-fast-path extension
// must compute exactly what its own host code gives (the same mask, the same slots), for every policy.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import type { PolicyConfig } from "../../src/policies/policy.js";
import { needs } from "../fixtures.js";

interface Outcome {
  hostFastPath: boolean;
  logProbabilities: number[];
  generated: number[];
  evicted: number;
}

function probe(policy: PolicyConfig, flashAttention: boolean, stock: boolean): Outcome {
  const env = { ...process.env };
  delete env.CASCADE_EVAL_STOCK_HOST_PATH;
  if (stock) env.CASCADE_EVAL_STOCK_HOST_PATH = "1";
  const child = spawnSync(process.execPath, [new URL("host-path-probe.js", import.meta.url).pathname, JSON.stringify({ policy, flashAttention })], { env, encoding: "utf8" });
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout.trim().split("\n").at(-1)!) as Outcome;
}

for (const policy of [
  { name: "full", sinks: 0, window: 0, cascades: 1 },
  { name: "sink-window", sinks: 4, window: 380, cascades: 1 },
  { name: "cascading-strided", sinks: 4, window: 380, cascades: 4 },
] satisfies PolicyConfig[]) {
  for (const flashAttention of [false, true]) {
    test(`host fast path gives llama.cpp's own results exactly: ${policy.name}, flash attention ${flashAttention ? "on" : "off"}`, { skip: needs("models/stories260K.gguf") }, () => {
      const fast = probe(policy, flashAttention, false);
      const stock = probe(policy, flashAttention, true);
      assert.equal(fast.hostFastPath, true, "the loaded binaries carry host-fast-path (run `cascade-eval extensions build`)");
      assert.equal(stock.hostFastPath, false);
      assert.equal(fast.evicted, stock.evicted);
      if (policy.name !== "full") assert.ok(fast.evicted > 700, `${fast.evicted} evicted`);
      assert.equal(fast.logProbabilities.length, 1199);
      // the same mask and slots make the same arithmetic: identical, not merely close
      assert.deepEqual(fast.logProbabilities, stock.logProbabilities);
      assert.deepEqual(fast.generated, stock.generated);
    });
  }
}
