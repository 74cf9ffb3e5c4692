/**
 * pred.py's prompt on real tokenizers: the template filled, middle truncation decoded without special tokens and
 * tokenized again, and the chat template applied after truncation only where the dataset takes it.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Engine } from "../../src/engine/engine.js";
import { buildTinyLlama, TINY_LLAMA_DEFAULT, withDefaultVocab } from "../../src/gguf/tiny-model.js";
import { readTokenizerMetadata } from "../../src/gguf/tokenizer.js";
import { gguf, kv } from "../../src/gguf/types.js";
import { writeGguf } from "../../src/gguf/writer.js";
import { loadLongBenchDatasets } from "../../src/tasks/longbench/config.js";
import { readLongBenchItems, type LongBenchItem } from "../../src/tasks/longbench/data.js";
import { buildPrompt } from "../../src/tasks/longbench/run.js";
import { DEFAULT_MODEL } from "../../src/config.js";
import { fixture, needs } from "../fixtures.js";

/** A Llama-2-style chat template written for this test: user turns in [INST] … [/INST]. */
const CHAT_TEMPLATE =
  "{% for message in messages %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}" +
  "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + ' ' + eos_token }}{% endif %}{% endfor %}";

/** Every test here builds prompts from the first item of the official multi_news file. */
const MULTI_NEWS = "data/longbench/multi_news.jsonl.xz";
const SKIP = needs(MULTI_NEWS);
const datasets = loadLongBenchDatasets();
let folder: string;
let plain: Engine;
let chat: Engine;
let item: LongBenchItem;

before(async () => {
  if (SKIP) return;
  folder = mkdtempSync(join(tmpdir(), "cascade-eval-chat-model-"));
  const path = join(folder, "chat.gguf");
  await withDefaultVocab(async (vocab) => {
    const tokenizer = [...(await readTokenizerMetadata(vocab)), kv("tokenizer.chat_template", gguf.str(CHAT_TEMPLATE))];
    const { metadata, tensors } = buildTinyLlama({ ...TINY_LLAMA_DEFAULT, name: "chat template test" }, tokenizer);
    await writeGguf(path, metadata, tensors);
  });
  plain = await Engine.open({ model: DEFAULT_MODEL, gpu: "cpu", threads: 1 });
  chat = await Engine.open({ model: path, gpu: "cpu", threads: 1 });
  [item] = await readLongBenchItems(fixture(MULTI_NEWS), "multi_news", false);
});

after(async () => {
  if (SKIP) return;
  await plain.close();
  await chat.close();
  rmSync(folder, { recursive: true, force: true });
});

test("a prompt within max length is the filled template as the tokenizer reads it (BOS first), untouched", { skip: SKIP }, () => {
  const text = datasets.multi_news!.prompt.replace("{context}", item!.fields.context as string);
  const prompt = buildPrompt(plain, datasets.multi_news!, item!, 100_000);
  assert.equal(prompt.truncatedFrom, null);
  assert.deepEqual(prompt.tokens, plain.tokenizeDocument(text));
  assert.equal(prompt.tokens[0], plain.llamaModel.tokens.bos);
  assert.equal(prompt.format, "plain");
});

test("a longer prompt keeps int(max/2) tokens of each end, each decoded without BOS, joined and tokenized again", { skip: SKIP }, () => {
  const whole = buildPrompt(plain, datasets.multi_news!, item!, 100_000).tokens;
  for (const maxLength of [1000, 1001]) {
    const prompt = buildPrompt(plain, datasets.multi_news!, item!, maxLength);
    assert.equal(prompt.truncatedFrom, whole.length);
    const half = Math.trunc(maxLength / 2);
    const head = plain.detokenize(whole.slice(1, half)); // the BOS is a special token: dropped
    const tail = plain.detokenize(whole.slice(-half));
    assert.deepEqual(prompt.tokens, plain.tokenizeDocument(head + tail));
    assert.ok(head.startsWith("You are given several news passages."), head.slice(0, 60));
    assert.ok(tail.endsWith("Now, write a one-page summary of all the news.\n\nSummary:"), tail.slice(-60));
    // Decoding drops the leading space of the tail's first piece, as sentencepiece's decode does in pred.py.
    assert.ok(Math.abs(prompt.tokens.length - maxLength) <= 3, `${prompt.tokens.length} tokens for max ${maxLength}`);
  }
});

test("the chat template frames the truncated prompt for chat datasets, and not for the six raw ones", { skip: SKIP }, () => {
  const maxLength = 600;
  const framed = buildPrompt(chat, datasets.multi_news!, item!, maxLength);
  const raw = buildPrompt(chat, { ...datasets.samsum!, prompt: datasets.multi_news!.prompt }, item!, maxLength);
  assert.notEqual(framed.format, "plain");
  assert.equal(raw.format, "plain");
  assert.equal(framed.truncatedFrom, raw.truncatedFrom);
  const framedText = chat.detokenizeText(framed.tokens);
  const rawText = chat.detokenizeText(raw.tokens);
  assert.ok(framedText.startsWith("[INST]") && framedText.trimEnd().endsWith("[/INST]"), framedText.slice(0, 40) + " … " + framedText.slice(-40));
  assert.ok(framedText.includes(rawText.trim()), "the chat turn holds the truncated prompt as it is");
  assert.equal(raw.tokens[0], chat.llamaModel.tokens.bos);
});
