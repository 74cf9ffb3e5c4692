import assert from "node:assert/strict";
import { test } from "node:test";
import { attentionScoresLine } from "../../src/engine/extension-runtime.js";

test("a run says whether cascading gets measured attention, and why not when it does not", () => {
  assert.match(attentionScoresLine(true, true), /^attention scores: measured by llama\.cpp .* for cascading/);
  assert.match(attentionScoresLine(false, true), /not used \(CASCADE_EVAL_EXTENSIONS=off\), so cascading runs as the strided cascade$/);
  assert.match(attentionScoresLine(false, false), /none in these binaries, .*\(cascade-eval extensions build adds them\)$/);
  for (const line of [attentionScoresLine(true, true), attentionScoresLine(false, true), attentionScoresLine(false, false)]) assert.ok(!line.includes("\n"));
});
