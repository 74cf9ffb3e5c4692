/**
 * LongBench v1's metrics exactly as its official `metrics.py` and `eval.py` compute them, quirks included
 * (docs/protocols.md §4). Python semantics are spelled out where JavaScript's differ: Unicode `\b` and `\d`, str.split(),
 * Counter intersection, list.remove() while iterating, round() to two decimals.
 */
import { createRequire } from "node:module";
import { fuzzRatio } from "./difflib.js";
import { pythonSplit, rougePackageL } from "./rouge-pkg.js";

type Jieba = typeof import("jieba-wasm");
let jieba: Jieba | undefined;

/**
 * jieba's 16 MB of WebAssembly, required on the first Chinese text only: a copy of the project without it (the GPU
 * machine's, which must fit 64 MiB) still runs everything else.
 */
function cut(text: string, hmm: boolean): string[] {
  jieba ??= createRequire(import.meta.url)("jieba-wasm") as Jieba;
  return jieba.cut(text, hmm);
}

export type MetricName = "qa_f1" | "qa_f1_zh" | "rouge" | "rouge_zh" | "classification" | "retrieval" | "retrieval_zh" | "count" | "code_sim";

/** One prediction against one reference answer; `allClasses` only matters to classification. */
export type Metric = (prediction: string, reference: string, allClasses: readonly string[]) => number;

const ASCII_PUNCTUATION = `!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~`;
const CHINESE_PUNCTUATION = "！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏.";
const ENGLISH_PUNCTUATION_SET = new Set(ASCII_PUNCTUATION);
const ALL_PUNCTUATION_SET = new Set(ASCII_PUNCTUATION + CHINESE_PUNCTUATION);
/** Python's `\b(a|an|the)\b` on str: word characters are Unicode letters, digits and "_". */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;
/** Python's `\d+` on str matches any Unicode decimal digit. */
const NUMBERS = /\p{Nd}+/gu;

function withoutChars(text: string, excluded: ReadonlySet<string>): string {
  let kept = "";
  for (const char of text) if (!excluded.has(char)) kept += char;
  return kept;
}

/** normalize_answer: lower-case, drop ASCII punctuation, articles to spaces, whitespace collapsed. */
export function normalizeAnswer(text: string): string {
  return pythonSplit(withoutChars(text.toLowerCase(), ENGLISH_PUNCTUATION_SET).replace(ARTICLES, " ")).join(" ");
}

/** normalize_zh_answer: lower-case, drop ASCII and Chinese punctuation, all whitespace removed. */
export function normalizeZhAnswer(text: string): string {
  return pythonSplit(withoutChars(text.toLowerCase(), ALL_PUNCTUATION_SET)).join("");
}

/** Bag-of-tokens F1 (Counter intersection); 0 when nothing is shared. */
export function tokenF1(prediction: readonly string[], reference: readonly string[]): number {
  const counts = new Map<string, number>();
  for (const token of reference) counts.set(token, (counts.get(token) ?? 0) + 1);
  let same = 0;
  for (const token of prediction) {
    const left = counts.get(token) ?? 0;
    if (left > 0) {
      same++;
      counts.set(token, left - 1);
    }
  }
  if (same === 0) return 0;
  const precision = (1.0 * same) / prediction.length;
  const recall = (1.0 * same) / reference.length;
  return (2 * precision * recall) / (precision + recall);
}

/**
 * Python jieba's `cut(text, cut_all=False)` (HMM on). jieba-wasm (jieba-rs) segments the same except for runs of
 * ASCII letters, digits and `+#&._%-`: Python jieba buffers such runs and splits them on `[a-zA-Z0-9]+(\.\d+)?%?`
 * ("1-5" → "1", "-", "5"; "1-1.5" → "1", "-", "1.5"), jieba-rs keeps "1-5" whole. Rejoining those runs and
 * splitting them Python's way makes the two agree on 3,917 of the 3,919 Chinese texts of the shared prediction
 * runs (docs/longbench.md).
 */
export function jiebaCut(text: string): string[] {
  const tokens: string[] = [];
  let run = "";
  const flush = () => {
    for (const piece of run.split(/([a-zA-Z0-9]+(?:\.\d+)?%?)/)) if (piece !== "") tokens.push(piece);
    run = "";
  };
  for (const token of cut(text, true)) {
    if (/^[a-zA-Z0-9+#&._%-]+$/.test(token)) run += token;
    else {
      flush();
      tokens.push(token);
    }
  }
  flush();
  return tokens;
}

/** Frames on Python's stack under `_recon` when eval.py scores with `rouge` (module, scorer, rouge_score, get_scores, _get_avg_scores, the metric lambda, rouge_l_summary_level, _union_lcs, _recon_lcs). */
const ROUGE_FRAMES = 9;

export const METRICS: Record<MetricName, Metric> = {
  qa_f1: (prediction, reference) => tokenF1(pythonSplit(normalizeAnswer(prediction)), pythonSplit(normalizeAnswer(reference))),
  qa_f1_zh: (prediction, reference) => {
    const tokens = (text: string) => jiebaCut(text).map(normalizeZhAnswer).filter((token) => token.length > 0);
    return tokenF1(tokens(prediction), tokens(reference));
  },
  rouge: (prediction, reference) => rougePackageL(prediction, reference, ROUGE_FRAMES),
  // rouge_zh_score calls rouge_score: one frame more.
  rouge_zh: (prediction, reference) => rougePackageL(jiebaCut(prediction).join(" "), jiebaCut(reference).join(" "), ROUGE_FRAMES + 1),
  classification: (prediction, reference, allClasses) => {
    const matches = allClasses.filter((name) => prediction.includes(name));
    // As the official loop does: list.remove() inside `for term in matches`, which skips the element after each removal.
    for (let index = 0; index < matches.length; index++) {
      const term = matches[index]!;
      if (reference.includes(term) && term !== reference) matches.splice(matches.indexOf(term), 1);
    }
    return matches.includes(reference) ? 1.0 / matches.length : 0.0;
  },
  retrieval: (prediction, reference) => paragraphScore(prediction, reference, /Paragraph (\p{Nd}+)/u),
  retrieval_zh: (prediction, reference) => paragraphScore(prediction, reference, /段落(\p{Nd}+)/u),
  count: (prediction, reference) => shareEqual(prediction.match(NUMBERS) ?? [], reference),
  code_sim: (prediction, reference) => {
    const lines = prediction.replace(/^\n+/, "").split("\n");
    const code = lines.find((line) => !line.includes("`") && !line.includes("#") && !line.includes("//")) ?? "";
    return fuzzRatio(code, reference) / 100;
  },
};

function paragraphScore(prediction: string, reference: string, pattern: RegExp): number {
  const id = pattern.exec(reference)?.[1];
  if (id === undefined) throw new Error(`reference without a paragraph id: ${reference.slice(0, 60)}`);
  return shareEqual(prediction.match(NUMBERS) ?? [], id);
}

/** Of the numbers in the prediction, the share equal (as strings) to `wanted`; 0 without numbers. */
function shareEqual(numbers: readonly string[], wanted: string): number {
  if (numbers.length === 0) return 0.0;
  return numbers.filter((number) => number === wanted).length / numbers.length;
}
