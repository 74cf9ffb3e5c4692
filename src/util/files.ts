import { closeSync, fsyncSync, openSync, renameSync, writeSync, appendFileSync, mkdirSync } from "node:fs";
import { dirname, basename, join } from "node:path";

/** Writes a whole file so that readers see the old or the new content, never a torn one (temp + fsync + rename). */
export function writeFileAtomic(path: string, content: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(temp, "w");
  try {
    writeSync(fd, typeof content === "string" ? Buffer.from(content) : content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

/**
 * Appends one JSON record as one line with a single write, so an interrupted run leaves at most a torn last
 * line, which `parseJsonLines` drops.
 */
export function appendJsonLine(path: string, record: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, `${JSON.stringify(record)}\n`);
}

/** Parses JSONL, ignoring blank lines and a final line cut short by an interruption. */
export function parseJsonLines<T>(text: string, source: string): T[] {
  const lines = text.split("\n");
  const records: T[] = [];
  lines.forEach((line, index) => {
    if (line.trim() === "") return;
    try {
      records.push(JSON.parse(line) as T);
    } catch {
      const isTornLastLine = index === lines.length - 1 && !text.endsWith("\n");
      if (!isTornLastLine) throw new Error(`${source}:${index + 1} is not valid JSON`);
    }
  });
  return records;
}
