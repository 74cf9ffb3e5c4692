import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

import { writeFileAtomic } from "../../src/util/files.js";

/** Books held out of training (the last ones by id) to watch the language-model loss for overfitting. */
export const VALIDATION_BOOKS = 2;

/** Template slot of key digit i is DIGIT_SLOT - i (token ids are never negative). */
export const DIGIT_SLOT = -1;

/**
 * Texts of the key-value recall task: an intro, records " <word> is <5 digits>." among filler words, and the
 * question "What is the number of <word>? The number of <word> is" (the word pieces carry their own space).
 */
export const KV_TEXT = {
  intro: "Each name below is given a number. Remember the numbers.\n\n",
  record: " is {key}.",
  question: ["\n\nWhat is the number of", "? The number of", " is"],
} as const;

/** A slot template with the key's digits put in. */
export function compose(template: readonly number[], key: string, digitTokens: readonly number[]): number[] {
  return template.map((token) => (token >= 0 ? token : digitTokens[Number(key[DIGIT_SLOT - token])]!));
}

/** Token streams as uint16 in this machine's byte order (little-endian on x86-64 and Arm), one after another. */
export function writeTokens(path: string, streams: readonly (readonly number[])[]): void {
  const total = streams.reduce((sum, tokens) => sum + tokens.length, 0);
  const buffer = new Uint16Array(total);
  let offset = 0;
  for (const tokens of streams) {
    for (const token of tokens) if (token > 0xffff) throw new Error(`token ${token} does not fit in 16 bits`);
    buffer.set(tokens, offset);
    offset += tokens.length;
  }
  writeFileAtomic(path, new Uint8Array(buffer.buffer));
}

export interface Book {
  book_id: string;
  short_book_title: string;
  text: string;
}

/** Records of a PG19-schema `.jsonl.xz` file (decompressed by the `xz` command). */
export async function* readJsonLinesXz(path: string): AsyncGenerator<Book> {
  const child = spawn("xz", ["-dc", path], { stdio: ["ignore", "pipe", "inherit"] });
  for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) if (line.trim()) yield JSON.parse(line) as Book;
  const code = await new Promise<number | null>((done) => (child.exitCode !== null ? done(child.exitCode) : child.on("close", done)));
  if (code !== 0) throw new Error(`xz -dc ${path} failed (${code})`);
}
