/**
 * The prompt-side rules of LongBench's official pred.py (docs/protocols.md §4), free of any model: the template filled as
 * Python's str.format fills it, the middle truncation of the prompt's tokens, and the paper's cache budget.
 */
import { UsageError } from "../../errors.js";

/**
 * `template.format(**record)`: `{name}` takes the record's field (LongBench fills only string fields), `{{` and `}}` are literal braces,
 * anything else is the error Python would raise. Values are inserted as they are, never parsed again.
 */
export function fillTemplate(template: string, record: Readonly<Record<string, unknown>>): string {
  let filled = "";
  for (let i = 0; i < template.length; i++) {
    const char = template[i]!;
    if ((char === "{" || char === "}") && template[i + 1] === char) {
      filled += char;
      i++;
    } else if (char === "{") {
      const end = template.indexOf("}", i);
      const name = end < 0 ? "" : template.slice(i + 1, end);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`prompt template: unsupported field "{${name}" at ${i}`);
      if (!Object.hasOwn(record, name)) throw new UsageError(`prompt template needs the field "${name}", which the record lacks`);
      filled += String(record[name]);
      i = end;
    } else if (char === "}") throw new UsageError(`prompt template: single "}" at ${i}`);
    else filled += char;
  }
  return filled;
}

/**
 * pred.py's truncation: a prompt of more than `maxLength` tokens keeps its first and last ⌊maxLength/2⌋ tokens
 * (`int(max_length/2)`); each half is then decoded on its own (without special tokens) and the texts are joined.
 * Returns the two token runs, or the whole prompt as the first one when it fits.
 */
export function truncateMiddle<T>(tokens: readonly T[], maxLength: number): [T[], T[]] {
  if (tokens.length <= maxLength) return [[...tokens], []];
  const half = Math.trunc(maxLength / 2);
  return [tokens.slice(0, half), half === 0 ? [] : tokens.slice(-half)];
}
