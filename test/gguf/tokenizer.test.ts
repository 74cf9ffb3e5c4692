import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";

import { readGgufHeader } from "../../src/gguf/reader.js";
import { readTokenizerMetadata } from "../../src/gguf/tokenizer.js";
import { GgufValueType, type GgufValue } from "../../src/gguf/types.js";
import { writeGguf } from "../../src/gguf/writer.js";
import { spmVocabFolder } from "./helpers.js";

const fixture = spmVocabFolder();

function typeOf(v: GgufValue): string {
  return v.type === GgufValueType.ARRAY ? `${GgufValueType[v.itemType]}[${v.value.length}]` : GgufValueType[v.type];
}

test("copies every tokenizer.* KV of llama.cpp's SPM vocabulary with its exact type", async () => {
  const kvs = await readTokenizerMetadata(fixture.vocab);
  assert.deepEqual(
    kvs.map((m) => [m.key, typeOf(m.value)]),
    [
      ["tokenizer.ggml.model", "STRING"],
      ["tokenizer.ggml.pre", "STRING"],
      ["tokenizer.ggml.tokens", "STRING[32000]"],
      ["tokenizer.ggml.scores", "FLOAT32[32000]"],
      ["tokenizer.ggml.token_type", "INT32[32000]"],
      ["tokenizer.ggml.bos_token_id", "UINT32"],
      ["tokenizer.ggml.eos_token_id", "UINT32"],
      ["tokenizer.ggml.unknown_token_id", "UINT32"],
      ["tokenizer.ggml.add_bos_token", "BOOL"],
      ["tokenizer.ggml.add_eos_token", "BOOL"],
    ],
  );
  const tokens = kvs.find((m) => m.key === "tokenizer.ggml.tokens")!.value.value as readonly string[];
  assert.deepEqual(tokens.slice(0, 3), ["<unk>", "<s>", "</s>"]);
  assert.equal(tokens[30143], "\uFEFF", "the BOM token survives decoding");
});

test("reader + writer reproduce llama.cpp's vocabulary file byte for byte", async () => {
  const original = await readFile(fixture.vocab);
  const info = await readGgufHeader(fixture.vocab);
  assert.equal(info.tensors.length, 0);
  const copy = join(fixture.dir, "copy.gguf");
  await writeGguf(copy, info.metadata, []);
  const written = await readFile(copy);
  // the original ends right after its header; the writer pads the header to the alignment
  assert.equal(written.length, Math.ceil(original.length / 32) * 32);
  assert.ok(written.subarray(0, original.length).equals(original));
  assert.ok(written.subarray(original.length).every((b) => b === 0));
});
