/** Shared fixtures of the GGUF tests (not a test file itself). */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";

import { LLAMA_SPM_VOCAB, extractFromLlamaCppBundle } from "../../src/gguf/tokenizer.js";

/** A fresh temporary folder; remove it with `rm(dir, { recursive: true })`. */
export function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "cascade-eval-gguf-test-"));
}

/** llama.cpp's Llama SentencePiece vocabulary, extracted from node-llama-cpp's bundle into `dir`. */
export async function extractSpmVocab(dir: string): Promise<string> {
  const path = join(dir, "ggml-vocab-llama-spm.gguf");
  await extractFromLlamaCppBundle(LLAMA_SPM_VOCAB, path);
  return path;
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}

/** Registers the file's before/after hooks: a temporary folder holding the Llama SentencePiece vocabulary. */
export function spmVocabFolder(): { dir: string; vocab: string } {
  const fixture = { dir: "", vocab: "" };
  before(async () => {
    fixture.dir = await tempDir();
    fixture.vocab = await extractSpmVocab(fixture.dir);
  });
  after(() => removeDir(fixture.dir));
  return fixture;
}
