/**
 * Bad input: the CLI must answer with exactly one line on stderr that names the problem, no stack trace, no
 * table on stdout, and a non-zero exit status.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, explain, QUIET, removeTemporaryFolders, runFolders, STORIES, STORIES_FIXTURE, tempFolder, DEFAULT_MODEL_PATH, type CliResult } from "./helpers.js";
import { needs } from "../fixtures.js";

after(removeTemporaryFolders);

const fixtures = tempFolder();

/** Deterministic "random" bytes (a 32-bit LCG), so a failure reproduces. */
function noise(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed >>> 0;
  for (let index = 0; index < length; index++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}

const randomModel = join(fixtures, "random-bytes.gguf");
writeFileSync(randomModel, noise(64 * 1024, 7));
assert.notEqual(readFileSync(randomModel).subarray(0, 4).toString("latin1"), "GGUF");

/** The right magic and version, then garbage: gets past the magic check into the GGUF parser. */
const garbageModel = join(fixtures, "magic-then-garbage.gguf");
writeFileSync(garbageModel, Buffer.concat([Buffer.from("GGUF\x03\x00\x00\x00", "latin1"), noise(4096, 11)]));

/** The embedded model cut after 4 KB: a valid header whose metadata runs past the end of the file. */
const truncatedModel = join(fixtures, "truncated-4k.gguf");
writeFileSync(truncatedModel, readFileSync(DEFAULT_MODEL_PATH).subarray(0, 4096));

/** The embedded model without its last 64 KB: a whole header, tensors running past the end. */
const shortTensorsModel = join(fixtures, "short-tensors.gguf");
const whole = readFileSync(DEFAULT_MODEL_PATH);
writeFileSync(shortTensorsModel, whole.subarray(0, whole.length - 65536));

/** A folder holding runs in runs/, as a reproduction does: table must point at them. */
const reproduction = tempFolder();
for (const name of ["passkey-cache-65K", "passkey-cache-32K"]) {
  mkdirSync(join(reproduction, "runs", name), { recursive: true });
  writeFileSync(join(reproduction, "runs", name, "run.json"), JSON.stringify({ task: "passkey", options: {} }));
}

/** A run folder to point --resume at (only its run.json matters for the flag check). */
const resultsWithRun = tempFolder();
const existingRun = join(resultsWithRun, "passkey-20000101-000000");
mkdirSync(existingRun);
writeFileSync(
  join(existingRun, "run.json"),
  JSON.stringify({
    task: "passkey",
    options: { lengths: [2048], depths: [1], samples: 1, seed: 1, policies: ["full"], cascades: 4, filler: "words", model: STORIES },
  }),
);

interface BadInput {
  name: string;
  args: string[];
  message: RegExp;
  /** Fixtures the case reads (the real tiny model). */
  fixtures?: string[];
}

const cases: BadInput[] = [
  { name: "unknown policy", args: ["passkey", "--policy", "full,bogus"], message: /unknown policy 'bogus'.*full, sink-window, cascading/ },
  { name: "length with an unknown suffix", args: ["passkey", "--len", "4Q"], message: /malformed length '4Q'/ },
  { name: "zero length", args: ["passkey", "--len", "0"], message: /malformed length '0'/ },
  { name: "fractional length", args: ["passkey", "--len", "1.5"], message: /malformed length '1\.5'/ },
  {
    name: "window not divisible by cascades",
    args: ["passkey", "--window", "1000", "--cascades", "3", "--policy", "cascading"],
    message: /--window 1000 is not divisible by --cascades 3/,
  },
  {
    name: "haystack shorter than the cache",
    args: ["passkey", "--len", "2K", "--window", "4096"],
    message: /haystack of 2048 tokens is shorter than the \S+ cache .*--window 4096/,
  },
  { name: "missing model file", args: ["passkey", "--len", "2K", "--model", "/nonexistent.gguf"], message: /model file not found: \/nonexistent\.gguf/ },
  { name: "model file of random bytes", args: ["passkey", "--len", "2K", "--model", randomModel], message: /not a GGUF model file: .*random-bytes\.gguf/ },
  { name: "model file with a GGUF magic and garbage after it", args: ["passkey", "--len", "2K", "--model", garbageModel], message: /cannot load model .*magic-then-garbage\.gguf/ },
  {
    name: "model file truncated after 4 KB",
    args: ["passkey", "--len", "2K", "--model", truncatedModel],
    message: /cannot load model .*truncated-4k\.gguf: its header is cut short at 4,096 bytes; the file is truncated \(an interrupted download or copy\?\): fetch or copy it again/,
  },
  {
    name: "model file that lost its last tensor bytes",
    args: ["passkey", "--len", "2K", "--model", shortTensorsModel],
    message: /cannot load model .*short-tensors\.gguf: it is [\d,]+ bytes but its tensors end at byte [\d,]+; the file is truncated/,
  },
  {
    name: "model context too short for the cache",
    args: ["passkey", "--model", STORIES, "--len", "8K", "--window", "2048", "--stride", "512", "--policy", "sink-window"],
    message: /model context 2048 is too short for sink-window: --sinks 64 \+ --window 2048 \+ --stride 512 = 2624/,
    fixtures: [STORIES_FIXTURE],
  },
  { name: "unknown flash-attention mode", args: ["pg19", "--flash-attention", "maybe"], message: /--flash-attention must be one of auto, on, off, got 'maybe'/ },
  { name: "unknown flag", args: ["passkey", "--bogus-flag"], message: /unknown option '--bogus-flag'/ },
  { name: "misspelled flag (commander suggests the right one)", args: ["passkey", "--lenn", "2K"], message: /unknown option '--lenn'/ },
  { name: "unknown flag before the command", args: ["--bogus-flag", "passkey"], message: /unknown option '--bogus-flag'/ },
  { name: "unknown command", args: ["passkee"], message: /unknown command 'passkee'/ },
  { name: "--resume of a missing run", args: ["passkey", "--resume", "no-such-run"], message: /no run found at 'no-such-run'/ },
  { name: "--resume combined with --len", args: ["passkey", "--resume", existingRun, "--len", "2K"], message: /--resume repeats the run's own settings; drop --len/ },
  { name: "table of a missing run", args: ["table", "no-such-run"], message: /no run found at 'no-such-run'/ },
  { name: "table of a folder of runs (a reproduction)", args: ["table", reproduction], message: /holds runs but is not one \(a reproduction\?\): name them, e\.g\. .*runs\/passkey-cache-32K .*runs\/passkey-cache-65K$/ },
  { name: "a sample count that would plan a billion units", args: ["passkey", "--samples", "1e9"], message: /--samples must be at most 10,000, got '1e9'/ },
  { name: "length past what V8's arrays hold", args: ["passkey", "--len", "100M"], message: /length '100M' is over the 16M tokens this command takes/ },
  {
    name: "--resume of another task's run",
    args: ["pg19", "--resume", existingRun],
    message: /is a passkey run, not a pg19 run; continue it with: cascade-eval passkey --resume /,
  },
  {
    name: "--resume of another task's run, with that task's flag",
    args: ["pg19", "--resume", existingRun, "--data", "books.jsonl"],
    message: /is a passkey run, not a pg19 run; continue it with: cascade-eval passkey --resume /,
  },
];

/** The whole contract of a usage error, checked in one place so every case gets all of it. */
function assertOneLineError(result: CliResult, message: RegExp): void {
  assert.equal(result.timedOut, false, explain(result));
  assert.equal(result.signal, null, `killed by a signal (a crash?)\n${explain(result)}`);
  assert.equal(result.code, 2, `bad input exits 2 (docs/usage.md)\n${explain(result)}`);
  assert.ok(result.code !== null && result.code > 0 && result.code < 128, `exit status ${result.code} looks like a crash\n${explain(result)}`);
  const lines = result.stderr.split("\n");
  assert.equal(lines.pop(), "", `stderr does not end with a newline\n${explain(result)}`);
  assert.ok(
    lines.every((line) => !/^\s+at /.test(line)),
    `stack trace on stderr\n${explain(result)}`,
  );
  assert.equal(lines.length, 1, `expected exactly one line on stderr, got ${lines.length}\n${explain(result)}`);
  assert.match(lines[0]!, message);
  assert.equal(result.stdout, "", `unexpected stdout\n${explain(result)}`);
}

for (const { name, args, message, fixtures = [] } of cases) {
  test(`bad input: ${name} → one line on stderr, non-zero exit`, { skip: needs(...fixtures), timeout: 60_000 }, async () => {
    const results = tempFolder();
    const result = await cli([...args, "--results", results, ...(args[0] === "passkey" ? QUIET : [])], 60_000);
    assertOneLineError(result, message);
  });
}

/** Runs each bad command line and checks that none left a run folder behind. */
async function assertNoRunFolderLeft(stages: readonly string[][]): Promise<void> {
  for (const args of stages) {
    const results = tempFolder();
    const result = await cli([...args, "--results", results, ...QUIET], 60_000);
    assert.notEqual(result.code, 0, explain(result));
    assert.deepEqual(runFolders(results), [], `\`${args.join(" ")}\` failed but left a run folder\n${explain(result)}`);
  }
}

test("bad input found before any work leaves no run folder behind", { timeout: 60_000 }, async () => {
  // Each of these is rejected at a different stage: flag parsing, planning, and model loading.
  await assertNoRunFolderLeft([
    ["passkey", "--len", "4Q"],
    ["passkey", "--len", "2K", "--model", truncatedModel],
  ]);
});

test("bad input found at the check of the cache against the loaded model's context leaves no run folder behind", { skip: needs(STORIES_FIXTURE), timeout: 60_000 }, async () => {
  await assertNoRunFolderLeft([["passkey", "--model", STORIES, "--len", "8K", "--window", "2048", "--stride", "512", "--policy", "sink-window"]]);
});

test("--results naming a file is one line, not a stack trace", { timeout: 60_000 }, async () => {
  const file = join(tempFolder(), "not-a-folder");
  writeFileSync(file, "");
  const result = await cli(["passkey", "--len", "2K", "--samples", "1", "--depths", "1", "--policy", "full", "--results", file, ...QUIET], 60_000);
  assertOneLineError(result, /--results .*not-a-folder: cannot make the results folder \(a file is in the way\); name a folder/);
});

test("--version prints the package's version and exits 0", async () => {
  const result = await cli(["--version"]);
  const version = (JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }).version;
  assert.equal(result.code, 0, explain(result));
  assert.equal(result.stdout.trim(), version);
});
