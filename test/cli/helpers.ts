/**
 * Shared pieces of the CLI end-to-end tests: every test spawns the real `bin/cascade-eval.js` with the repository
 * root as its working directory, and reads back what the CLI wrote. Nothing here calls the product's own code.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import type { PasskeyRecord } from "../../src/tasks/passkey/record.js";
import { fixture } from "../fixtures.js";

export type { PasskeyRecord };

/** The repository root, from this file's place in `test/cli` or `dist/test/cli`. */
const here = fileURLToPath(new URL(".", import.meta.url));
export const ROOT = here.includes("/dist/") ? resolve(here, "..", "..", "..") : resolve(here, "..", "..");
export const BIN = join(ROOT, "bin", "cascade-eval.js");

/** The real tiny model as a fixture (for `needs`): not in the repository, found through test/fixtures.ts. */
export const STORIES_FIXTURE = "models/stories260K.gguf";
/** The real tiny model, given as the user would type it from the repository root (a path relative to it). */
export const STORIES = relative(ROOT, fixture(STORIES_FIXTURE));
/** Where records say it is: its real path (the fixtures folder may be a symbolic link); as given when missing. */
export const STORIES_PATH = existsSync(resolve(ROOT, STORIES)) ? realpathSync(resolve(ROOT, STORIES)) : resolve(ROOT, STORIES);
/** The embedded default model (the probe model). */
export const DEFAULT_MODEL_PATH = join(ROOT, "models", "probe-llama.gguf");

/**
 * Flags every model run gets: plain progress lines, and one llama.cpp thread. On this 2-core machine, shared with
 * other jobs, two spinning llama.cpp threads made runs 5–10× slower and their time erratic; one thread is steady.
 */
export const QUIET = ["--no-progress", "--threads", "1"];

const temporary: string[] = [];

/** A fresh folder under the system temp folder, removed by `removeTemporaryFolders`. */
export function tempFolder(prefix = "cascade-eval-cli-"): string {
  const path = mkdtempSync(join(tmpdir(), prefix));
  temporary.push(path);
  return path;
}

export function removeTemporaryFolders(): void {
  if (process.env.KEEP_CLI_TEST_FOLDERS) return;
  for (const path of temporary.splice(0)) rmSync(path, { recursive: true, force: true });
}

/** The model hash cache goes to a private folder, so the tests neither read nor touch the user's ~/.cache. */
const cacheHome = tempFolder("cascade-eval-cache-");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

export interface RunningCli {
  child: ChildProcess;
  /** stderr so far (for diagnostics while it runs). */
  stderrSoFar: () => string;
  done: Promise<CliResult>;
}

/** Starts the CLI; `done` settles when it exits (killed with SIGKILL after `timeoutMs`). */
export function startCli(args: readonly string[], timeoutMs = 150_000, env: Record<string, string> = {}): RunningCli {
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, XDG_CACHE_HOME: cacheHome, NO_COLOR: "1", FORCE_COLOR: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const done = new Promise<CliResult>((resolvePromise, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, timedOut, ms: performance.now() - started });
    });
  });
  return { child, stderrSoFar: () => stderr, done };
}

export function cli(args: readonly string[], timeoutMs?: number): Promise<CliResult> {
  return startCli(args, timeoutMs).done;
}

/** The CLI with extra environment variables. */
export function cliWith(env: Record<string, string>, args: readonly string[]): Promise<CliResult> {
  return startCli(args, undefined, env).done;
}

/** For assertion messages: what the CLI said. */
export function explain(result: CliResult): string {
  return `exit ${result.code}${result.signal ? ` (signal ${result.signal})` : ""}${result.timedOut ? " after timing out" : ""}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

export function assertSucceeded(result: CliResult): void {
  assert.equal(result.timedOut, false, `timed out\n${explain(result)}`);
  assert.equal(result.code, 0, explain(result));
}

/** Each case (the arguments after `args`, and the message) refused with exit 2 and one line on stderr. */
export async function assertRefused(args: readonly string[], cases: readonly (readonly [readonly string[], RegExp])[]): Promise<void> {
  for (const [extra, message] of cases) {
    const refused = await cli([...args, ...extra, "--results", tempFolder(), ...QUIET]);
    assert.equal(refused.code, 2, explain(refused));
    assert.match(refused.stderr.trim(), message);
    assert.equal(refused.stderr.trim().split("\n").length, 1, explain(refused));
  }
}

/**
 * A run cut short after its first `kept` records: `--resume` must run only the missing units (it says so), and a
 * second resume must find all `total` done.
 */
export async function assertResumesCut(command: string, folder: string, kept: number, total: number): Promise<void> {
  const lines = readFileSync(samplesFile(folder), "utf8").trim().split("\n");
  writeFileSync(samplesFile(folder), lines.slice(0, kept).join("\n") + "\n");
  for (const done of [kept, total]) {
    const resumed = await cli([command, "--resume", folder, ...QUIET]);
    assertSucceeded(resumed);
    assert.match(resumed.stderr, new RegExp(`^resuming: ${done} of ${total} already done$`, "m"), explain(resumed));
  }
}

/** --budget that is no budget, or given with --window: what a task with --budget refuses, whatever its data. */
export const BAD_BUDGETS: readonly (readonly [string[], RegExp])[] = [
  [["--budget", "0"], /^cascade-eval: --budget '0' is neither a share of the prompt \(0 < x < 1, e\.g\. 0\.25\) nor a number of tokens \(e\.g\. 8K\)$/],
  [["--budget", "1.5"], /^cascade-eval: --budget '1\.5' is neither a share of the prompt/],
  [["--budget", "abc"], /^cascade-eval: --budget 'abc' is neither a share of the prompt/],
  [["--budget", "0.25", "--window", "512"], /^cascade-eval: --budget and --window both set the cache: give one$/],
];

/** Run folders (folders holding run.json) directly under a results folder. */
export function runFolders(results: string): string[] {
  if (!existsSync(results)) return [];
  return readdirSync(results)
    .map((name) => join(results, name))
    .filter((path) => statSync(path).isDirectory() && existsSync(join(path, "run.json")))
    .sort();
}

/** The one run folder a single run left under `results`. */
export function onlyRunFolder(results: string): string {
  const folders = runFolders(results);
  assert.equal(folders.length, 1, `expected one run folder in ${results}, found: ${folders.join(", ") || "none"}`);
  return folders[0]!;
}

export function samplesFile(folder: string): string {
  return join(folder, "samples.jsonl");
}

/** Complete lines of samples.jsonl (a torn last line, without its newline, is not counted). */
export function completeLines(folder: string): string[] {
  const file = samplesFile(folder);
  if (!existsSync(file)) return [];
  const text = readFileSync(file, "utf8");
  const end = text.lastIndexOf("\n");
  return end < 0 ? [] : text.slice(0, end).split("\n");
}

/** Every line of samples.jsonl must be a whole JSON record ending in a newline. */
export function readRecords(folder: string): PasskeyRecord[] {
  const text = readFileSync(samplesFile(folder), "utf8");
  assert.ok(text.endsWith("\n"), "samples.jsonl does not end with a newline");
  return text
    .slice(0, -1)
    .split("\n")
    .map((line, index) => {
      try {
        return JSON.parse(line) as PasskeyRecord;
      } catch {
        assert.fail(`samples.jsonl line ${index + 1} is not JSON: ${line.slice(0, 200)}`);
      }
    });
}

export const unitOf = (record: PasskeyRecord): string => `${record.sampleId}|${record.policy.name}`;

export function assertNoDuplicateUnits(records: readonly PasskeyRecord[]): void {
  const seen = new Map<string, number>();
  for (const record of records) seen.set(unitOf(record), (seen.get(unitOf(record)) ?? 0) + 1);
  const duplicates = [...seen].filter(([, count]) => count > 1).map(([unit, count]) => `${unit} ×${count}`);
  assert.deepEqual(duplicates, [], "duplicate (sampleId, policy) records");
}

/** The passkey score as the protocol defines it: per-digit accuracy of the answer's first 5 digits, missing ones wrong. */
export function expectedScore(answer: string, key: string): number {
  const digits = [...answer].filter((character) => character >= "0" && character <= "9");
  let correct = 0;
  for (let position = 0; position < key.length; position++) if (digits[position] === key[position]) correct++;
  return correct / key.length;
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Polls until samples.jsonl has `lines` complete lines; fails if the CLI exits first or time runs out. */
export async function waitForRecords(folderOf: () => string | undefined, lines: number, running: RunningCli, timeoutMs = 120_000): Promise<string> {
  let exited = false;
  void running.done.then(() => (exited = true));
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const folder = folderOf();
    if (folder && completeLines(folder).length >= lines) return folder;
    if (exited) assert.fail(`the CLI exited before writing ${lines} records\n${explain(await running.done)}`);
    if (performance.now() > deadline) {
      running.child.kill("SIGKILL");
      assert.fail(`no ${lines} records after ${timeoutMs} ms\n--- stderr\n${running.stderrSoFar()}`);
    }
    await new Promise((wake) => setTimeout(wake, 20));
  }
}

/** A small RFC 4180 reader (quoted fields, doubled quotes, CRLF or LF); throws on malformed quoting. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let position = 0;
  while (position < text.length) {
    const character = text[position]!;
    if (quoted) {
      if (character === '"' && text[position + 1] === '"') {
        field += '"';
        position += 2;
        continue;
      }
      if (character === '"') quoted = false;
      else field += character;
      position++;
      continue;
    }
    if (character === '"') {
      if (field !== "") throw new Error(`quote inside an unquoted field at offset ${position}`);
      quoted = true;
    } else if (character === ",") {
      row.push(field);
      field = "";
    } else if (character === "\n" || character === "\r") {
      if (character === "\r" && text[position + 1] === "\n") position++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += character;
    position++;
  }
  if (quoted) throw new Error("unterminated quoted field");
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
