import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { UsageError } from "../errors.js";
import { appendJsonLine, parseJsonLines, writeFileAtomic } from "../util/files.js";
import { RunLock } from "./run-lock.js";

export const MANIFEST_FILE = "run.json";
/** Files whose duplicate records were already named: `table` and the runner read a folder more than once. */
const duplicatesNamed = new Set<string>();
export const SAMPLES_FILE = "samples.jsonl";

/**
 * One run's folder under `results/`: `run.json` (what was asked, written once), `samples.jsonl` (one record
 * per finished sample, appended as soon as it finishes) and the summaries rebuilt from those records.
 */
export class RunFolder {
  private constructor(readonly path: string) {}

  get id(): string {
    return this.path.split("/").pop()!;
  }

  /** Claims a new folder (`runId`, else `runId-2`, `-3`…: runs started in the same second do not collide). */
  static create(resultsDirectory: string, runId: string, manifest: unknown): RunFolder {
    try {
      mkdirSync(resolve(resultsDirectory), { recursive: true });
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === "EEXIST" || (error as NodeJS.ErrnoException).code === "ENOTDIR" ? "a file is in the way" : (error as Error).message;
      throw new UsageError(`--results ${resultsDirectory}: cannot make the results folder (${reason}); name a folder`);
    }
    for (let attempt = 1; ; attempt++) {
      const path = resolve(resultsDirectory, attempt === 1 ? runId : `${runId}-${attempt}`);
      try {
        mkdirSync(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") continue;
        throw new UsageError(`cannot create run folder ${path}: ${(error as Error).message}`);
      }
      writeFileAtomic(join(path, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
      return new RunFolder(path);
    }
  }

  /** A run given as a folder path or as an id under the results folder. */
  static open(run: string, resultsDirectory: string): RunFolder {
    const candidates = [resolve(run), resolve(resultsDirectory, run)];
    const path = candidates.find((candidate) => existsSync(join(candidate, MANIFEST_FILE)) && statSync(candidate).isDirectory());
    if (!path) {
      const inside = [...new Set(candidates.flatMap((candidate) => runsInside(candidate)))];
      if (inside.length > 0)
        throw new UsageError(`'${run}' holds runs but is not one (a reproduction?): name them, e.g. ${inside.slice(0, 2).join(" ")}${inside.length > 2 ? ` (${inside.length} in all)` : ""}`);
      throw new UsageError(`no run found at '${run}' (expected a folder with ${MANIFEST_FILE}, or a run id under ${resultsDirectory})`);
    }
    return new RunFolder(path);
  }

  manifest<T>(): T {
    const file = join(this.path, MANIFEST_FILE);
    try {
      return JSON.parse(readFileSync(file, "utf8")) as T;
    } catch {
      throw new UsageError(`${file} is not valid JSON`);
    }
  }

  /**
   * The finished records. With `keyOf` (the task's unit key), a unit recorded twice counts once: the first record
   * is kept and the duplicates are named on stderr (two processes that ran the same folder before it was locked).
   */
  records<T>(keyOf?: (record: T) => string): T[] {
    const file = join(this.path, SAMPLES_FILE);
    if (!existsSync(file)) return [];
    let records: T[];
    try {
      records = parseJsonLines<T>(readFileSync(file, "utf8"), file);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (keyOf === undefined) return records;
    const seen = new Set<string>();
    const duplicates: string[] = [];
    const unique = records.filter((record) => {
      const key = keyOf(record);
      if (!seen.has(key)) return seen.add(key), true;
      duplicates.push(key);
      return false;
    });
    if (duplicates.length > 0 && !duplicatesNamed.has(file)) {
      duplicatesNamed.add(file);
      process.stderr.write(`note: ${file} holds ${duplicates.length} duplicate record${duplicates.length === 1 ? "" : "s"} (${duplicates.slice(0, 3).join(", ")}${duplicates.length > 3 ? ", …" : ""}); the first of each counts\n`);
    }
    return unique;
  }

  /** Claims the folder for this process until `release()` (see RunLock). */
  lock(): RunLock {
    return RunLock.acquire(this.path);
  }

  /** Drops a last line cut short by an interruption, so that appending starts on a fresh line. */
  trimTornTail(): void {
    const file = join(this.path, SAMPLES_FILE);
    if (!existsSync(file)) return;
    const text = readFileSync(file, "utf8");
    if (text === "" || text.endsWith("\n")) return;
    writeFileAtomic(file, text.slice(0, text.lastIndexOf("\n") + 1));
  }

  append(record: unknown): void {
    appendJsonLine(join(this.path, SAMPLES_FILE), record);
  }

  write(name: string, content: string): void {
    writeFileAtomic(join(this.path, name), content);
  }
}

/** Run folders directly in `folder` or in its `runs/` (a reproduction keeps its runs there). */
function runsInside(folder: string): string[] {
  const found: string[] = [];
  for (const parent of [folder, join(folder, "runs")]) {
    if (!existsSync(parent) || !statSync(parent).isDirectory()) continue;
    for (const name of readdirSync(parent).sort()) if (existsSync(join(parent, name, MANIFEST_FILE))) found.push(join(parent, name));
  }
  return found;
}

/** `passkey-20261123-143005`: sortable, readable, unique enough for one user's results folder. */
export function newRunId(task: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${task}-${stamp}`;
}
