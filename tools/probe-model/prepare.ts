/**
 * Probe model, step 1 of 3: tokenizes the training books and every piece the synthetic long-range tasks are
 * composed from, with the tokenizer the model will ship (llama.cpp's Llama SentencePiece 32k vocabulary), so
 * that train.py (step 2, on the GPU machine) needs no tokenizer of its own.
 *
 *     node dist/tools/probe-model/prepare.js [--books PATH.jsonl.xz] [--test-books PATH.jsonl.xz] [--out DIR]
 *
 * Writes to DIR (default `.probe/data`): `train.u16` and `val.u16` (little-endian uint16 token ids, each book
 * starting with BOS) and `pieces.json` (book offsets, the passkey prompt frame exactly as cascade-eval builds
 * it, the key block and answer as templates with digit slots, filler units, key-value recall pieces). Every
 * template is checked against the tokenizer on random keys: a composition that differs from tokenizing the
 * whole text stops the step.
 */

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { LlamaModel } from "node-llama-cpp";

import { openLlama } from "../../src/engine/llama.js";
import { framePrompt, tokenizeContinuation } from "../../src/engine/prompt.js";
import { withDefaultVocab } from "../../src/gguf/tiny-model.js";
import { loadPasskeyConfig } from "../../src/tasks/passkey/config.js";
import { loadDictionaryWords } from "../../src/tasks/passkey/words.js";
import { writeFileAtomic } from "../../src/util/files.js";
import { Random } from "../../src/util/random.js";
import { DIGIT_SLOT, KV_TEXT, VALIDATION_BOOKS, compose, readJsonLinesXz, writeTokens, type Book } from "./pieces.js";

const { values } = parseArgs({
  options: {
    books: { type: "string", default: "../shared/data/pg19/pg19-standin-100.jsonl.xz" },
    "test-books": { type: "string", default: "../shared/data/pg19/pg19-test-approx.jsonl.xz" },
    out: { type: "string", default: ".probe/data" },
  },
});

/**
 * A text with `{key}` slots as tokens, each key digit replaced by DIGIT_SLOT - i (i = digit index). Checked on
 * random keys: the composition must equal the tokenizer's output for the whole text.
 */
function slotTemplate(tokenize: (text: string) => number[], text: string, digitTokens: number[], rng: Random): number[] {
  const probe = "13579";
  const tokens = tokenize(text.replaceAll("{key}", probe));
  const template: number[] = [];
  let digit = 0;
  for (const token of tokens) {
    const value = digitTokens.indexOf(token);
    if (value < 0) {
      template.push(token);
      continue;
    }
    if (String(value) !== probe[digit]) throw new Error(`"${text}": digits are not single tokens in key order`);
    template.push(DIGIT_SLOT - digit);
    digit = (digit + 1) % probe.length;
  }
  for (let trial = 0; trial < 300; trial++) {
    const key = String(rng.int(10000, 99999));
    const expected = tokenize(text.replaceAll("{key}", key));
    const composed = compose(template, key, digitTokens);
    if (expected.join() !== composed.join()) throw new Error(`"${text}" with key ${key}: the template does not compose`);
  }
  return template;
}

async function main(): Promise<void> {
  const out = resolve(values.out!);
  mkdirSync(out, { recursive: true });
  const testIds = new Set<string>();
  for await (const book of readJsonLinesXz(values["test-books"]!)) testIds.add(book.book_id);

  await withDefaultVocab(async (vocabPath) => {
    const llama = await openLlama("cpu");
    const model: LlamaModel = await llama.loadModel({ modelPath: vocabPath, vocabOnly: true });
    const vocabSha256 = createHash("sha256").update(readFileSync(vocabPath)).digest("hex");
    const continuation = (text: string): number[] => tokenizeContinuation(model, text);
    const bos = model.tokens.bos!;
    const eos = model.tokens.eos!;

    const books: { id: string; title: string; split: "train" | "val"; offset: number; tokens: number }[] = [];
    const all: Book[] = [];
    for await (const book of readJsonLinesXz(values.books!)) {
      if (testIds.has(book.book_id)) throw new Error(`book ${book.book_id} is a PG19 test book: it must not be trained on`);
      all.push(book);
    }
    all.sort((a, b) => Number(a.book_id) - Number(b.book_id));
    const streams = { train: [] as number[][], val: [] as number[][] };
    const offsets = { train: 0, val: 0 };
    for (const [index, book] of all.entries()) {
      const split = index >= all.length - VALIDATION_BOOKS ? "val" : "train";
      const tokens = [bos, ...model.tokenize(book.text)];
      streams[split].push(tokens);
      books.push({ id: book.book_id, title: book.short_book_title, split, offset: offsets[split], tokens: tokens.length });
      offsets[split] += tokens.length;
      process.stderr.write(`\r${index + 1}/${all.length} books, ${offsets.train + offsets.val} tokens`);
    }
    process.stderr.write("\n");
    writeTokens(join(out, "train.u16"), streams.train);
    writeTokens(join(out, "val.u16"), streams.val);

    const config = loadPasskeyConfig();
    const rng = new Random(20261123);
    const digitTokens = continuation("0123456789");
    if (digitTokens.length !== 10) throw new Error("the tokenizer does not split digits into single tokens");
    const frame = framePrompt(model, { system: config.system, question: config.question, answerPrefix: config.answerPrefix });
    const words = loadDictionaryWords(config.wordTiers);
    // The answer as it continues its question (" is" then " 13579." is "▁is ▁ 1 3 5 7 9 ."): tokenized together
    // with the question's end, which is then cut off again.
    const answerTemplate = (questionEnd: string): number[] => {
      const head = continuation(questionEnd);
      const whole = slotTemplate(continuation, `${questionEnd} {key}.`, digitTokens, rng);
      if (whole.slice(0, head.length).join() !== head.join()) throw new Error(`"${questionEnd}" is tokenized differently before an answer`);
      return whole.slice(head.length);
    };
    const pieces = {
      vocab: { file: "ggml-vocab-llama-spm.gguf (llama.cpp, from node-llama-cpp 3.22.1's source bundle)", sha256: vocabSha256, size: model.fileInfo.metadata.tokenizer.ggml.tokens.length },
      special: { bos, eos },
      books,
      digits: digitTokens,
      passkey: {
        format: frame.format,
        prefix: frame.prefix,
        suffix: frame.suffix,
        keyBlock: slotTemplate(continuation, ` ${config.keyBlock}`, digitTokens, rng),
        answer: [...answerTemplate(` ${config.answerPrefix}`), eos],
        grass: config.grassFiller.map((sentence) => continuation(` ${sentence}`)),
        words: words.map((word) => continuation(` ${word}`)),
      },
      kv: {
        intro: [bos, ...model.tokenize(KV_TEXT.intro)],
        record: slotTemplate(continuation, KV_TEXT.record, digitTokens, rng),
        question: KV_TEXT.question.map((part) => continuation(part)),
        answer: [...answerTemplate(KV_TEXT.question[2]), eos],
      },
    };
    // Records and questions are composed around a word (with its leading space): check those compositions too.
    for (let trial = 0; trial < 300; trial++) {
      const index = rng.int(0, words.length - 1);
      const word = pieces.passkey.words[index]!;
      const key = String(rng.int(10000, 99999));
      const record = [...word, ...compose(pieces.kv.record, key, digitTokens)];
      const [before, middle, after] = pieces.kv.question as [number[], number[], number[]];
      const question = [...before, ...word, ...middle, ...word, ...after];
      const text = KV_TEXT.question;
      if (record.join() !== continuation(` ${words[index]}${KV_TEXT.record.replace("{key}", key)}`).join() ||
        question.join() !== continuation(`${text[0]} ${words[index]}${text[1]} ${words[index]}${text[2]}`).join()) {
        throw new Error(`a key-value record or question around "${words[index]}" does not compose`);
      }
    }
    writeFileAtomic(join(out, "pieces.json"), `${JSON.stringify(pieces)}\n`);
    process.stderr.write(`train ${offsets.train} tokens, val ${offsets.val} tokens (${VALIDATION_BOOKS} books), ${words.length} words -> ${out}\n`);
    await model.dispose();
    await llama.dispose();
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`prepare: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
