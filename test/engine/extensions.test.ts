import assert from "node:assert/strict";
import { test } from "node:test";
import { attentionScoresLine, attentionScoresRemedy } from "../../src/engine/extension-runtime.js";

test("a run says whether cascading gets measured attention, and why not when it does not", () => {
  assert.match(attentionScoresLine(true, true), /^attention scores: measured by llama\.cpp .* for the policies that rank by them \(cascading, h2o, tova, snapkv\)$/);
  assert.match(attentionScoresLine(false, true), /not used \(CASCADE_EVAL_EXTENSIONS=off\), so cascading runs as the strided cascade$/);
  assert.match(attentionScoresLine(false, false), /none in these binaries, .*\(cascade-eval extensions build adds them\)$/);
  for (const line of [attentionScoresLine(true, true), attentionScoresLine(false, true), attentionScoresLine(false, false)]) assert.ok(!line.includes("\n"));
});

test("a policy that needs attention scores, on binaries without them, is told how to get them", () => {
  assert.equal(attentionScoresRemedy(false), "`cascade-eval extensions build` adds the measurement to these binaries");
  assert.equal(attentionScoresRemedy(true), "CASCADE_EVAL_EXTENSIONS=off turns the extension off");
});
