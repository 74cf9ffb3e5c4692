import { UsageError } from "../errors.js";

const SUFFIXES: Record<string, number> = { "": 1, k: 1024, m: 1024 * 1024 };
/**
 * The longest prompt a task builds as one token array: 16M tokens (the paper's grid ends at 1M; 100M would exhaust
 * V8's arrays). `bench` streams generated tokens chunk by chunk and takes lengths up to BENCH_MAX_LENGTH.
 */
export const MAX_LENGTH = 16 * 1024 * 1024;
export const BENCH_MAX_LENGTH = 1024 * 1024 * 1024;

/** `4K` → 4096, `1M` → 1048576, `1048576` → 1048576 (binary multiples, as token counts in the paper). */
export function parseLength(text: string, max = MAX_LENGTH): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*$/.exec(text);
  const value = match ? Number(match[1]) * SUFFIXES[match[2]!.toLowerCase()]! : Number.NaN;
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`malformed length '${text}' (use e.g. 4K, 32K, 1M or 1048576)`);
  if (value > max) throw new UsageError(`length '${text}' is over the ${formatLength(max)} tokens this command takes`);
  return value;
}

/** A comma list of lengths, duplicates dropped in given order. */
export function parseLengths(text: string, max = MAX_LENGTH): number[] {
  return [...new Set(text.split(",").map((each) => parseLength(each, max)))];
}

/** 4096 → "4K", 1048576 → "1M", 1000 → "1000". */
export function formatLength(tokens: number): string {
  if (tokens % (1024 * 1024) === 0) return `${tokens / (1024 * 1024)}M`;
  if (tokens % 1024 === 0) return `${tokens / 1024}K`;
  return String(tokens);
}
