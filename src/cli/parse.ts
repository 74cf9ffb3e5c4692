import { UsageError } from "../errors.js";

const SUFFIXES: Record<string, number> = { "": 1, k: 1024, m: 1024 * 1024 };

/** `4K` → 4096, `1M` → 1048576, `1048576` → 1048576 (binary multiples, as token counts in the paper). */
export function parseLength(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*$/.exec(text);
  const value = match ? Number(match[1]) * SUFFIXES[match[2]!.toLowerCase()]! : Number.NaN;
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`malformed length '${text}' (use e.g. 4K, 32K, 1M or 1048576)`);
  return value;
}

export function parseLengths(text: string): number[] {
  return unique(text.split(",").map(parseLength));
}

export function parseDepths(text: string): number[] {
  return unique(
    text.split(",").map((part) => {
      const value = Number(part.trim());
      if (part.trim() === "" || !Number.isFinite(value) || value <= 0 || value > 1)
        throw new UsageError(`malformed depth '${part}' (use numbers in (0, 1], e.g. 0.2,0.4,1.0)`);
      return value;
    }),
  );
}

/** A whole number flag with a lower bound; `name` is the flag as the user typed it. */
export function parseCount(name: string, min: number) {
  return (text: string): number => {
    const value = Number(text);
    if (text.trim() === "" || !Number.isInteger(value) || value < min) throw new UsageError(`${name} must be a whole number >= ${min}, got '${text}'`);
    return value;
  };
}

export function parseChoice<T extends string>(name: string, choices: readonly T[]) {
  return (text: string): T => {
    if (!(choices as readonly string[]).includes(text)) throw new UsageError(`${name} must be one of ${choices.join(", ")}, got '${text}'`);
    return text as T;
  };
}

/** 4096 → "4K", 1048576 → "1M", 1000 → "1000". */
export function formatLength(tokens: number): string {
  if (tokens % (1024 * 1024) === 0) return `${tokens / (1024 * 1024)}M`;
  if (tokens % 1024 === 0) return `${tokens / 1024}K`;
  return String(tokens);
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
