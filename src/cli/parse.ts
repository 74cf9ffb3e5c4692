import { UsageError } from "../errors.js";

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

/**
 * A whole number flag within bounds; `name` is the flag as the user typed it. The default upper bound keeps a
 * value like 1e30 (an integer to JavaScript) from sizing anything; counts that multiply into work set their own.
 */
export function parseCount(name: string, min: number, max = 2 ** 31 - 1) {
  return (text: string): number => {
    const value = Number(text);
    if (text.trim() === "" || !Number.isInteger(value) || value < min) throw new UsageError(`${name} must be a whole number >= ${min}, got '${text}'`);
    if (value > max) throw new UsageError(`${name} must be at most ${max.toLocaleString("en-US")}, got '${text}'`);
    return value;
  };
}

export function parseChoice<T extends string>(name: string, choices: readonly T[]) {
  return (text: string): T => {
    if (!(choices as readonly string[]).includes(text)) throw new UsageError(`${name} must be one of ${choices.join(", ")}, got '${text}'`);
    return text as T;
  };
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
