/**
 * ROUGE-1, ROUGE-2 and ROUGE-L as Google's `rouge_score` package computes them with `use_stemmer=True`
 * (the common choice today; the paper's ROUGE-1.5.5 is a Perl script). Per pair of texts: F-measure of n-gram
 * (or longest-common-subsequence) overlap; a run reports the mean over its samples. docs/booksum.md says why and
 * where it differs from ROUGE-1.5.5.
 */
import { porterStem } from "./porter.js";

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

export interface RougeScores {
  rouge1: RougeScore;
  rouge2: RougeScore;
  rougeL: RougeScore;
}

/**
 * rouge_score's default tokenizer: lower-case, every run of characters outside [a-z0-9] becomes a space (so
 * accented and non-Latin letters vanish), split on whitespace, Porter-stem tokens longer than 3 characters
 * (NLTK's variant of the stemmer, as rouge_score uses).
 */
export function rougeTokens(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, " ")
    .split(/\s+/)
    .filter((token) => token !== "")
    .map((token) => (token.length > 3 ? porterStem(token) : token))
    .filter((token) => /^[a-z0-9]+$/.test(token));
}

/** Precision against the prediction, recall against the reference, and their harmonic mean (0 when both are 0). */
function score(overlap: number, predicted: number, reference: number): RougeScore {
  const precision = overlap / Math.max(predicted, 1);
  const recall = overlap / Math.max(reference, 1);
  const fmeasure = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, fmeasure };
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const gram = tokens.slice(i, i + n).join(" ");
    counts.set(gram, (counts.get(gram) ?? 0) + 1);
  }
  return counts;
}

/** ROUGE-N: clipped n-gram matches (each n-gram counts at most as often as it occurs in both texts). */
export function rougeN(reference: readonly string[], prediction: readonly string[], n: number): RougeScore {
  const referenceGrams = ngramCounts(reference, n);
  const predictionGrams = ngramCounts(prediction, n);
  let overlap = 0;
  for (const [gram, count] of predictionGrams) overlap += Math.min(count, referenceGrams.get(gram) ?? 0);
  const total = (counts: Map<string, number>) => [...counts.values()].reduce((sum, count) => sum + count, 0);
  return score(overlap, total(predictionGrams), total(referenceGrams));
}

/** Length of the longest common subsequence, by dynamic programming over one row at a time. */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  let previous = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    const current = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j++)
      current[j] = a[i - 1] === b[j - 1] ? previous[j - 1]! + 1 : Math.max(previous[j]!, current[j - 1]!);
    previous = current;
  }
  return previous[b.length]!;
}

/** ROUGE-L over the whole texts as single sequences (rouge_score's `rougeL`, not the sentence-split `rougeLsum`). */
export function rougeL(reference: readonly string[], prediction: readonly string[]): RougeScore {
  return score(lcsLength(reference, prediction), prediction.length, reference.length);
}

export function rougeScores(reference: string, prediction: string): RougeScores {
  const referenceTokens = rougeTokens(reference);
  const predictionTokens = rougeTokens(prediction);
  return {
    rouge1: rougeN(referenceTokens, predictionTokens, 1),
    rouge2: rougeN(referenceTokens, predictionTokens, 2),
    rougeL: rougeL(referenceTokens, predictionTokens),
  };
}
