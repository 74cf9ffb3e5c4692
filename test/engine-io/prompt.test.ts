/**
 * framePrompt on real GGUF files: a generated model whose metadata has a ChatML `tokenizer.chat_template`, and
 * the embedded plain model (no template).
 *
 * Both use the Llama SentencePiece vocabulary, which has no <|im_start|>/<|im_end|> tokens: the ChatML markers are
 * tokenized as ordinary text ("<", "|", "im", "_", "start", …). Where node-llama-cpp tokenizes a special-token
 * piece on its own, SentencePiece puts its dummy-prefix space before it ("▁<"), so the detokenized frame reads
 * "SYS <|im_end|>" and "Q? <|im_end|>" with a space a real ChatML vocabulary (one token per marker) would not
 * have. The assertions below allow that space and nothing else.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { Engine } from "../../src/engine/engine.js";
import { framePrompt, tokenizeContinuation } from "../../src/engine/prompt.js";
import { gguf, kv } from "../../src/gguf/types.js";
import { DEFAULT_MODEL, removeDir, tempDir, writeSmallModel } from "./helpers.js";

const CHATML_TEMPLATE =
  "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}" +
  "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

const PARTS = { system: "SYS", question: "Q?", answerPrefix: "The pass key is" };
const BODY = "the grass is green.";

let dir: string;
let chatModel: string;

before(async () => {
  dir = await tempDir();
  chatModel = join(dir, "chatml.gguf");
  await writeSmallModel(chatModel, [kv("tokenizer.chat_template", gguf.str(CHATML_TEMPLATE))]);
});

after(() => removeDir(dir));

test("a model with a ChatML chat template gets ChatML turns around the body, the answer left open", async () => {
  const engine = await Engine.open({ model: chatModel, gpu: "cpu" });
  try {
    assert.equal(engine.modelInfo.hasChatTemplate, true);
    const frame = framePrompt(engine.llamaModel, PARTS);
    // node-llama-cpp recognises the template as ChatML and uses its ChatMLChatWrapper (not the Jinja wrapper)
    assert.notEqual(frame.format, "plain");
    assert.equal(frame.format, "ChatML");

    const prefix = engine.detokenize(frame.prefix);
    const suffix = engine.detokenize(frame.suffix);
    assert.equal(frame.prefix[0], engine.llamaModel.tokens.bos, "the wrapper starts with BOS");
    // Today: prefix " <|im_start|>system\nSYS <|im_end|>\n<|im_start|>user\n"
    assert.match(prefix, /^ ?<\|im_start\|>system\nSYS ?<\|im_end\|>\n<\|im_start\|>user\n$/, JSON.stringify(prefix));
    // Today: suffix "\n\nQ? <|im_end|>\n<|im_start|>assistant\nThe pass key is"
    assert.match(suffix, /^\n\nQ\? ?<\|im_end\|>\n<\|im_start\|>assistant\nThe pass key is$/, JSON.stringify(suffix));
    assert.ok(suffix.endsWith("The pass key is"), "the answer prefix is last: the model turn is not closed");

    // The frame around a body reads as one prompt: nothing between "user\n", the body and "\n\nQ?".
    const body = tokenizeContinuation(engine.llamaModel, BODY);
    const whole = engine.detokenize([...frame.prefix, ...body, ...frame.suffix]);
    assert.ok(whole.includes(`<|im_start|>user\n${BODY}\n\nQ?`), JSON.stringify(whole));
  } finally {
    await engine.close();
  }
});

test("a model without a chat template gets the plain frame: BOS, system, body, question, answer prefix", async () => {
  const engine = await Engine.open({ model: DEFAULT_MODEL, gpu: "cpu" });
  try {
    assert.equal(engine.modelInfo.hasChatTemplate, false);
    const frame = framePrompt(engine.llamaModel, PARTS);
    assert.equal(frame.format, "plain");
    assert.equal(frame.prefix[0], engine.llamaModel.tokens.bos);
    assert.equal(engine.llamaModel.tokens.bos, 1);
    // The prefix starts a sequence: "SYS" gets SentencePiece's dummy-prefix space ("▁S"), as llama.cpp gives any
    // prompt's first word, which detokenize drops again at the start of the text.
    assert.deepEqual(frame.prefix.slice(1), engine.tokenize("SYS\n\n"));
    assert.equal(engine.detokenize(frame.prefix.slice(1)), "SYS\n\n");

    // The suffix continues a sequence: the tokens that "\n\nQ? The pass key is" has in the middle of a text
    // ("x\n\nQ? …" tokenized at once, minus "▁x"): newline byte tokens, no lone "▁" before them.
    const inContext = engine.tokenize("x\n\nQ? The pass key is");
    assert.equal(engine.detokenize(inContext.slice(0, 1)), "x");
    assert.deepEqual(frame.suffix, inContext.slice(1));
    assert.equal(engine.detokenize(frame.suffix), "\n\nQ? The pass key is");

    // Framed, the body sits between "SYS\n\n" and "\n\nQ?" with no space added on either side. (The leading " "
    // is the dummy-prefix space of "▁S", kept after BOS.)
    const body = tokenizeContinuation(engine.llamaModel, BODY);
    assert.equal(engine.detokenize([...frame.prefix, ...body, ...frame.suffix]), ` SYS\n\n${BODY}\n\nQ? The pass key is`);
  } finally {
    await engine.close();
  }
});

test("an instruction before the body and no question (BookSum): ChatML user turn is lead + body, the answer turn open", async () => {
  const engine = await Engine.open({ model: chatModel, gpu: "cpu" });
  try {
    const frame = framePrompt(engine.llamaModel, { system: "SYS", lead: "Summarize this:\n", question: "", answerPrefix: "", plainAnswerPrefix: "Summary:" });
    const body = tokenizeContinuation(engine.llamaModel, BODY);
    const whole = engine.detokenize([...frame.prefix, ...body, ...frame.suffix]);
    // Today: " <|im_start|>system\nSYS <|im_end|>\n<|im_start|>user\nSummarize this:\n{BODY} <|im_end|>\n<|im_start|>assistant\n"
    assert.match(whole, new RegExp(`<\\|im_start\\|>user\\nSummarize this:\\n${BODY} ?<\\|im_end\\|>\\n<\\|im_start\\|>assistant\\n$`), JSON.stringify(whole));
    assert.ok(!whole.includes("Summary:"), "the plain answer cue is for models without a template only");
  } finally {
    await engine.close();
  }
});

test("the same parts on a model without a template: lead after the system line, then the plain answer cue", async () => {
  const engine = await Engine.open({ model: DEFAULT_MODEL, gpu: "cpu" });
  try {
    const frame = framePrompt(engine.llamaModel, { system: "SYS", lead: "Summarize this:\n", question: "", answerPrefix: "", plainAnswerPrefix: "Summary:" });
    const body = tokenizeContinuation(engine.llamaModel, BODY);
    assert.equal(engine.detokenize([...frame.prefix, ...body, ...frame.suffix]), ` SYS\n\nSummarize this:\n${BODY}\n\nSummary:`);
  } finally {
    await engine.close();
  }
});
