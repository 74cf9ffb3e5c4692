/**
 * ROUGE-L F as LongBench's `rouge_score` gets it from the Python `rouge` package 1.0.1:
 * `Rouge().get_scores([prediction], [reference], avg=True)["rouge-l"]["f"]`, with any exception scoring 0.
 *
 * The package splits texts into sentences on ".", takes the union of per-sentence longest common subsequences as
 * sets of *distinct words*, and divides by the counts of distinct words: F = 2PR / (P + R + 1e-8). It rebuilds
 * each LCS with a recursive function, one Python frame per step, so a pair of sentences whose LCS walk is longer
 * than Python's recursion limit allows raises RecursionError, and LongBench's `except:` turns the item into 0.
 * That needs sentence pairs of roughly a thousand words (a Chinese text has no "." to split on); we model it from
 * the call chain (`pythonFramesAbove`: frames already on Python's stack when the walk starts). No pair in the
 * shared prediction runs comes near it (the longest walk is under 750 steps), so the data does not test it.
 */

/** Python's default recursion limit: a call that would make the depth exceed it raises RecursionError. */
const PYTHON_RECURSION_LIMIT = 1000;

class RecursionLimitError extends Error {}

/** What Python's str.isspace() accepts (JavaScript's \s differs: it has U+FEFF, lacks U+001C–U+001F and U+0085). */
const PYTHON_WHITESPACE = /[\t\n\v\f\r \u001c-\u001f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

/** `[" ".join(s.split()) for s in text.split(".") if len(s) > 0]` */
function sentences(text: string): string[] {
  return text
    .split(".")
    .filter((sentence) => sentence.length > 0)
    .map((sentence) => pythonSplit(sentence).join(" "));
}

/** Python's `str.split()` with no argument: runs of whitespace separate, no empty pieces. */
export function pythonSplit(text: string): string[] {
  return text.split(PYTHON_WHITESPACE).filter((piece) => piece !== "");
}

/** `_split_into_words`: every sentence split on single spaces. */
function words(sentenceList: readonly string[]): string[] {
  return sentenceList.flatMap((sentence) => sentence.split(" "));
}

/**
 * The words of the LCS of x and y that `_recon_lcs` rebuilds (walking back from the end: a match goes diagonal,
 * otherwise up when the cell above is strictly larger, else left), as a set. Throws when the walk needs more
 * Python frames than `framesLeft`.
 */
function lcsWords(x: readonly string[], y: readonly string[], framesLeft: number): Set<string> {
  const columns = y.length + 1;
  const table = new Uint32Array((x.length + 1) * columns);
  for (let i = 1; i <= x.length; i++)
    for (let j = 1; j <= y.length; j++)
      table[i * columns + j] = x[i - 1] === y[j - 1] ? table[(i - 1) * columns + j - 1]! + 1 : Math.max(table[(i - 1) * columns + j]!, table[i * columns + j - 1]!);
  const found = new Set<string>();
  let [i, j] = [x.length, y.length];
  // One frame per call of _recon, the last one being the call that sees i == 0 or j == 0.
  let frames = 1;
  while (i > 0 && j > 0) {
    if (++frames > framesLeft) throw new RecursionLimitError();
    if (x[i - 1] === y[j - 1]) {
      found.add(x[i - 1]!);
      i--;
      j--;
    } else if (table[(i - 1) * columns + j]! > table[i * columns + j - 1]!) i--;
    else j--;
  }
  if (frames > framesLeft) throw new RecursionLimitError();
  return found;
}

/** `rouge_l_summary_level`: union LCS over reference sentences, distinct-word counts. */
function rougeLSummaryLevel(evaluated: readonly string[], reference: readonly string[], framesLeft: number): number {
  if (evaluated.length === 0 || reference.length === 0) throw new Error("Collections must contain at least 1 sentence.");
  const m = new Set(words(reference)).size;
  const n = new Set(words(evaluated)).size;
  let union = new Set<string>();
  let lcsTotal = 0;
  for (const referenceSentence of reference) {
    const before = union.size;
    const referenceWords = words([referenceSentence]);
    for (const evaluatedSentence of evaluated) union = new Set([...union, ...lcsWords(referenceWords, words([evaluatedSentence]), framesLeft)]);
    lcsTotal += union.size - before;
  }
  const recall = lcsTotal / m;
  const precision = lcsTotal / n;
  return 2 * ((recall * precision) / (recall + precision + 1e-8));
}

/**
 * LongBench's rouge_score(prediction, ground_truth). `pythonFramesAbove` counts the frames on the Python stack
 * below `_recon`'s first call (eval.py's module, scorer, the metric functions, get_scores, …).
 */
export function rougePackageL(prediction: string, reference: string, pythonFramesAbove: number): number {
  try {
    // get_scores also computes rouge-1 and rouge-2 first; they fail only where rouge-l fails too (no sentence).
    return rougeLSummaryLevel(sentences(prediction), sentences(reference), PYTHON_RECURSION_LIMIT - pythonFramesAbove);
  } catch {
    return 0;
  }
}
