/** LongBench's official eval.py in TypeScript: score prediction files, write result.json (docs/protocols.md §4). */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../../errors.js";
import { writeFileAtomic } from "../../util/files.js";
import { loadLongBenchDatasets, type DatasetConfig } from "./config.js";
import { METRICS } from "./metrics.js";

/** What scoring needs of a dataset's configuration. */
export type ScoringConfig = Pick<DatasetConfig, "metric" | "firstLine">;

/** One line of an official prediction file. */
export interface PredictionRecord {
  pred: string;
  answers: string[];
  all_classes: string[] | null;
  length?: number;
}

/**
 * Python's round(x, digits) for the two decimals eval.py keeps: the exact binary value of x rounded to the
 * nearest multiple of 10^-digits, ties to even (JavaScript's toFixed breaks ties upwards).
 */
export function pythonRound(x: number, digits: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn);
  const mantissa = exponent === 0 ? (bits & 0xfffffffffffffn) << 1n : (bits & 0xfffffffffffffn) | (1n << 52n);
  const shift = exponent - 1075; // |x| = mantissa · 2^shift exactly
  const scale = 10n ** BigInt(digits);
  // |x| · 10^digits = numerator / denominator
  const numerator = mantissa * scale * (shift > 0 ? 1n << BigInt(shift) : 1n);
  const denominator = shift < 0 ? 1n << BigInt(-shift) : 1n;
  let quotient = numerator / denominator;
  const twiceRemainder = 2n * (numerator % denominator);
  if (twiceRemainder > denominator || (twiceRemainder === denominator && quotient % 2n === 1n)) quotient += 1n;
  return (Math.sign(x) * Number(quotient)) / Number(scale);
}

/** Each item's score as eval.py computes it: first-line rule, then the max over the item's answers. */
export function itemScores(records: readonly PredictionRecord[], config: ScoringConfig): number[] {
  const metric = METRICS[config.metric];
  // eval.py keeps the all_classes of the file's last line for every item.
  const allClasses = records.at(-1)?.all_classes ?? [];
  return records.map((record) => {
    const prediction = config.firstLine ? record.pred.replace(/^\n+/, "").split("\n")[0]! : record.pred;
    let best = 0;
    for (const answer of record.answers) best = Math.max(best, metric(prediction, answer, allClasses));
    return best;
  });
}

/** eval.py's scorer(): round(100 · Σ / n, 2), the sum taken in file order. */
export function scoreDataset(dataset: string, records: readonly PredictionRecord[], config: ScoringConfig): number {
  if (records.length === 0) throw new UsageError(`${dataset}: no predictions`);
  let total = 0;
  for (const score of itemScores(records, config)) total += score;
  return pythonRound((100 * total) / records.length, 2);
}

export const LENGTH_BUCKETS = ["0-4k", "4-8k", "8k+"] as const;

/** eval.py's scorer_e() for LongBench-E: per length bucket round(100 · np.mean(scores), 2); NaN for an empty bucket. */
export function scoreDatasetByLength(dataset: string, records: readonly PredictionRecord[], config: ScoringConfig): Record<(typeof LENGTH_BUCKETS)[number], number> {
  const buckets: Record<(typeof LENGTH_BUCKETS)[number], number[]> = { "0-4k": [], "4-8k": [], "8k+": [] };
  const scores = itemScores(records, config);
  records.forEach((record, index) => {
    if (typeof record.length !== "number") throw new UsageError(`${dataset}: --e needs a "length" in every record (line ${index + 1} has none)`);
    buckets[record.length < 4000 ? "0-4k" : record.length < 8000 ? "4-8k" : "8k+"].push(scores[index]!);
  });
  const mean = (values: number[]) => (values.length === 0 ? Number.NaN : numpyPairwiseSum(values, 0, values.length) / values.length);
  return { "0-4k": numpyRound2(100 * mean(buckets["0-4k"])), "4-8k": numpyRound2(100 * mean(buckets["4-8k"])), "8k+": numpyRound2(100 * mean(buckets["8k+"])) };
}

/**
 * round(x, 2) on a numpy float64 (what scorer_e rounds): numpy scales, rounds half to even and scales back, so the
 * float product decides ties, unlike Python's round() on a float.
 */
export function numpyRound2(x: number): number {
  const scaled = x * 100;
  const floor = Math.floor(scaled);
  const fraction = scaled - floor;
  const rounded = fraction > 0.5 || (fraction === 0.5 && floor % 2 !== 0) ? floor + 1 : floor;
  return rounded / 100;
}

/** numpy's float64 add.reduce: pairwise summation in blocks of 128 with an 8-way unrolled inner loop. */
export function numpyPairwiseSum(values: readonly number[], start: number, count: number): number {
  if (count < 8) {
    let sum = 0;
    for (let i = start; i < start + count; i++) sum += values[i]!;
    return sum;
  }
  if (count <= 128) {
    const r = values.slice(start, start + 8) as number[];
    let i = 8;
    for (; i < count - (count % 8); i += 8) for (let k = 0; k < 8; k++) r[k]! += values[start + i + k]!;
    let sum = r[0]! + r[1]! + (r[2]! + r[3]!) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (; i < count; i++) sum += values[start + i]!;
    return sum;
  }
  let half = Math.floor(count / 2);
  half -= half % 8;
  return numpyPairwiseSum(values, start, half) + numpyPairwiseSum(values, start + half, count - half);
}

/** Every DATASET.jsonl of a folder (names not in LongBench are refused), scored: the content of result.json. */
export function scoreFolder(folder: string, byLength = false): Record<string, number | Record<string, number>> {
  const datasets = loadLongBenchDatasets();
  let names: string[];
  try {
    names = readdirSync(folder).filter((name) => name.endsWith(".jsonl")).sort();
  } catch {
    throw new UsageError(`${folder}: not a readable folder`);
  }
  if (names.length === 0) throw new UsageError(`${folder}: no DATASET.jsonl prediction files`);
  const scores: Record<string, number | Record<string, number>> = {};
  for (const name of names) {
    const dataset = name.slice(0, -".jsonl".length);
    const config = datasets[dataset];
    if (config === undefined) throw new UsageError(`${join(folder, name)}: '${dataset}' is not a LongBench dataset`);
    const records = readPredictions(join(folder, name));
    scores[dataset] = byLength ? scoreDatasetByLength(dataset, records, config) : scoreDataset(dataset, records, config);
  }
  return scores;
}

function readPredictions(path: string): PredictionRecord[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line, index) => {
      let record: PredictionRecord;
      try {
        record = JSON.parse(line) as PredictionRecord;
      } catch {
        throw new UsageError(`${path}, line ${index + 1}: not JSON`);
      }
      if (typeof record.pred !== "string" || !Array.isArray(record.answers))
        throw new UsageError(`${path}, line ${index + 1}: expected {"pred": string, "answers": [...], "all_classes": ...}`);
      return record;
    });
}

/** As eval.py's json.dump(scores, f, ensure_ascii=False, indent=4) writes it: floats keep ".0", NaN stays NaN. */
export function resultJson(scores: Record<string, number | Record<string, number>>, depth = 1): string {
  const pad = " ".repeat(4 * depth);
  const float = (value: number) => (Number.isNaN(value) ? "NaN" : Number.isInteger(value) ? value.toFixed(1) : String(value));
  const entries = Object.entries(scores).map(([key, value]) => `${pad}${JSON.stringify(key)}: ${typeof value === "number" ? float(value) : resultJson(value, depth + 1)}`);
  return `{\n${entries.join(",\n")}\n${" ".repeat(4 * (depth - 1))}}`;
}

/** eval.py on a folder: its prediction files scored, result.json written beside them (atomically); the scores. */
export function writeResultJson(folder: string, byLength = false): Record<string, number | Record<string, number>> {
  const scores = scoreFolder(folder, byLength);
  writeFileAtomic(join(folder, "result.json"), resultJson(scores));
  return scores;
}
