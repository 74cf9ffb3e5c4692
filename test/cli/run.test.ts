/**
 * Whole runs through the real CLI: a three-policy run on the real tiny model (its folder, records and tables),
 * a run on the embedded default model, and `table` over both.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import {
  assertNoDuplicateUnits,
  assertSucceeded,
  cli,
  expectedScore,
  explain,
  onlyRunFolder,
  parseCsv,
  QUIET,
  readRecords,
  removeTemporaryFolders,
  sha256File,
  STORIES,
  STORIES_FIXTURE,
  STORIES_PATH,
  tempFolder,
  DEFAULT_MODEL_PATH,
  type CliResult,
  type PasskeyRecord,
} from "./helpers.js";
import { needs } from "../fixtures.js";

const POLICIES = ["full", "sink-window", "cascading"] as const;
const DEPTHS = [0.5, 1];

interface FinishedRun {
  result: CliResult;
  folder: string;
}

/** The runs on stories260K (and the tests of them) need the model fixture; the embedded model's run does not. */
const SKIP_STORIES = needs(STORIES_FIXTURE);
let stories: FinishedRun;
let embedded: FinishedRun;

async function runInFreshResults(args: string[]): Promise<FinishedRun> {
  const results = tempFolder();
  const result = await cli([...args, "--results", results, ...QUIET]);
  assertSucceeded(result);
  return { result, folder: onlyRunFolder(results) };
}

before(async () => {
  if (!SKIP_STORIES) stories = await runInFreshResults(["passkey", "--model", STORIES, "--len", "2K", "--policy", POLICIES.join(","), "--samples", "1", "--depths", "0.5,1.0", "--format", "markdown"]);
  // every task takes --flash-attention (off by default on the CPU): this run turns it on
  embedded = await runInFreshResults(["passkey", "--len", "2K", "--samples", "1", "--depths", "1.0", "--policy", "sink-window", "--flash-attention", "on"]);
});

after(removeTemporaryFolders);

test("passkey on stories260K with three policies: markdown table per policy on stdout, summary on stderr", { skip: SKIP_STORIES }, () => {
  const { result, folder } = stories;
  for (const policy of POLICIES) assert.match(result.stdout, new RegExp(`^### passkey accuracy \\(%\\) — ${policy}$`, "m"), explain(result));
  assert.match(result.stdout, /^### passkey accuracy \(%\) by length$/m);
  // One data row per policy table: the 2K row, with the depth columns asked for and n = 2 samples.
  // (the accuracy tables' rows name the cache in their second cell; the retention tables' rows hold numbers there)
  const rows = result.stdout.split("\n").filter((line) => line.startsWith("| 2K |") && /[a-z]/.test(line.split("|")[2]!));
  assert.equal(rows.length, POLICIES.length, result.stdout);
  for (const row of rows) assert.match(row, /\| 2 \|$/, row);
  assert.match(result.stdout, /^\| length \| cache \| d≤0\.5 \| d≤1 \| avg \| n \|$/m);
  assert.ok(result.stderr.trimEnd().endsWith(`6 of 6 samples in ${folder}`), explain(result));
  assert.doesNotMatch(result.stderr, /interrupted|^\s+at /m);
});

test("the run folder holds run.json, samples.jsonl, summary.csv and summary.md that agree with stdout", { skip: SKIP_STORIES }, () => {
  const { result, folder } = stories;
  for (const file of ["run.json", "samples.jsonl", "summary.csv", "summary.md"]) assert.ok(existsSync(join(folder, file)), `${file} missing in ${folder}`);
  const manifest = JSON.parse(readFileSync(join(folder, "run.json"), "utf8")) as {
    task: string;
    options: { lengths: number[]; depths: number[]; samples: number; policies: string[]; model: string };
    model: { sha256: string; path: string };
  };
  assert.equal(manifest.task, "passkey");
  assert.deepEqual(manifest.options.lengths, [2048]);
  assert.deepEqual(manifest.options.depths, DEPTHS);
  assert.equal(manifest.options.samples, 1);
  assert.deepEqual(manifest.options.policies, [...POLICIES]);
  assert.equal(manifest.model.sha256, sha256File(STORIES_PATH));

  assert.equal(readFileSync(join(folder, "summary.md"), "utf8"), `# ${basename(folder)}\n\n${result.stdout}`);
  const csv = parseCsv(readFileSync(join(folder, "summary.csv"), "utf8"));
  // the first table's head, padded to the widest table (the retention table) so that every row has one width
  // one header: the first table's columns first, then the others' new ones
  assert.deepEqual(csv[0]!.slice(0, 7), ["table", "length", "cache", "d≤0.5", "d≤1", "avg", "n"]);
  assert.equal(csv.filter((row) => row[0] === "table").length, 1, "one header row");
  for (const policy of POLICIES) assert.ok(csv.some((row) => row[0] === `passkey accuracy (%) — ${policy}` && row[1] === "2K" && row[6] === "2"), `no 2K row for ${policy} in summary.csv`);
});

test("every record carries what is needed to recompute its score, and the stored score is that score", { skip: SKIP_STORIES }, () => {
  const { folder } = stories;
  const records = readRecords(folder);
  assert.equal(records.length, POLICIES.length * DEPTHS.length);
  assertNoDuplicateUnits(records);
  const sha256 = sha256File(STORIES_PATH);
  for (const record of records) {
    const where = `${record.sampleId} · ${record.policy.name}`;
    assert.equal(record.task, "passkey");
    assert.equal(record.runId, basename(folder));
    assert.equal(record.model.source, STORIES);
    assert.equal(record.model.path, STORIES_PATH);
    assert.match(record.model.sha256, /^[0-9a-f]{64}$/);
    assert.equal(record.model.sha256, sha256, where);

    assert.ok((POLICIES as readonly string[]).includes(record.policy.name), where);
    // Paper defaults shrunk for a 2K haystack: 64 sinks, window 2^floor(log2(2048/4)) = 512, stride 256, 4 cascades.
    assert.deepEqual(
      { sinks: record.policy.sinks, window: record.policy.window, cascades: record.policy.cascades, stride: record.policy.stride },
      { sinks: 64, window: 512, cascades: 4, stride: 256 },
      where,
    );

    assert.equal(record.length, 2048);
    assert.equal(record.promptTokens, 2048, where);
    assert.ok(DEPTHS.includes(record.depthBin), where);
    assert.equal(record.sampleId, `2048-${record.depthBin}-${record.index}`);
    assert.ok(Number.isInteger(record.keyPosition) && record.keyPosition > 0 && record.keyPosition < record.promptTokens, where);
    assert.equal(record.depth, record.keyPosition / record.promptTokens);
    // Depth drawn in [d − 0.2, d], then moved to the nearest word boundary (a few tokens).
    assert.ok(record.depth >= record.depthBin - 0.2 - 0.01 && record.depth <= record.depthBin + 0.01, `${where}: depth ${record.depth}`);
    assert.match(record.key, /^[1-9]\d{4}$/, where);

    assert.equal(typeof record.answer, "string");
    assert.ok([0, 0.2, 0.4, 0.6, 0.8, 1].includes(record.score), `${where}: score ${record.score}`);
    assert.equal(record.score, expectedScore(record.answer, record.key), `${where}: answer ${JSON.stringify(record.answer)} key ${record.key}`);

    for (const name of ["prefillMs", "generateMs", "evaluateMs", "policyMs", "eraseMs"] as const)
      assert.ok(Number.isFinite(record.timings[name]) && record.timings[name] >= 0, `${where}: timings.${name} = ${record.timings[name]}`);
    assert.ok(record.timings.prefillMs > 0, where);
    assert.ok(!Number.isNaN(Date.parse(record.finishedAt)), where);

    // The full cache evicts nothing; the bounded caches evict and stay within sinks + window.
    if (record.policy.name === "full") assert.equal(record.evictedTokens, 0, where);
    else {
      assert.ok(record.evictedTokens > 0, where);
      assert.ok(record.cachedTokens <= record.policy.sinks + record.policy.window, `${where}: ${record.cachedTokens} cached`);
    }
  }
});

test("the test's own scorer follows the protocol (so the score check above can fail)", () => {
  assert.equal(expectedScore("The pass key is 12345.", "12345"), 1);
  assert.equal(expectedScore("1 2 3 9 5", "12345"), 0.8);
  assert.equal(expectedScore("123", "12345"), 0.6);
  assert.equal(expectedScore("no digits at all", "12345"), 0);
  assert.equal(expectedScore("9 12345", "12345"), 0);
  assert.equal(expectedScore("123456789", "12345"), 1);
});

test("the three policies see identical samples", { skip: SKIP_STORIES }, () => {
  const records = readRecords(stories.folder);
  const bySample = new Map<string, PasskeyRecord[]>();
  for (const record of records) bySample.set(record.sampleId, [...(bySample.get(record.sampleId) ?? []), record]);
  assert.deepEqual([...bySample.keys()].sort(), ["2048-0.5-0", "2048-1-0"]);
  for (const [sampleId, group] of bySample) {
    assert.deepEqual(group.map((record) => record.policy.name).sort(), [...POLICIES].sort(), sampleId);
    const shape = (record: PasskeyRecord) => ({ key: record.key, keyPosition: record.keyPosition, promptTokens: record.promptTokens, depth: record.depth });
    for (const record of group) assert.deepEqual(shape(record), shape(group[0]!), `${sampleId}: ${record.policy.name} differs`);
  }
  // Different samples get different keys (drawn per sample from the seed).
  const keys = [...bySample.values()].map((group) => group[0]!.key);
  assert.equal(new Set(keys).size, keys.length);
});

test("the embedded default model (no --model) runs and prints a terminal table", () => {
  const { result, folder } = embedded;
  assert.match(result.stdout, /^passkey accuracy \(%\) — sink-window$/m, explain(result));
  assert.match(result.stdout, /^length\s+cache\s+d≤1\s+avg\s+n$/m);
  assert.match(result.stdout, /^─+/m);
  assert.match(result.stdout, /^2K\s+64 sinks \+ 512 window, stride 256\s+\d+(\.\d)?\s+\d+(\.\d)?\s+1$/m);
  const records = readRecords(folder);
  assert.equal(records.length, 1);
  const [record] = records as [PasskeyRecord];
  assert.equal(record.model.path, DEFAULT_MODEL_PATH);
  assert.equal(record.model.sha256, sha256File(DEFAULT_MODEL_PATH));
  assert.equal(record.promptTokens, 2048);
  assert.equal(record.score, expectedScore(record.answer, record.key));
  const manifest = JSON.parse(readFileSync(join(folder, "run.json"), "utf8")) as { hardware: { flashAttention: boolean } };
  assert.equal(manifest.hardware.flashAttention, true, "--flash-attention on reaches the engine");
});

test("table RUN1 RUN2 prints each run's tables and a comparison table", { skip: SKIP_STORIES }, async () => {
  const runs = [stories.folder, embedded.folder];
  const ids = runs.map((folder) => basename(folder));
  assert.notEqual(ids[0], ids[1], "both runs got the same id");
  const result = await cli(["table", ...runs]);
  assertSucceeded(result);
  assert.equal(result.stderr, "");
  for (const policy of POLICIES) assert.match(result.stdout, new RegExp(`^${ids[0]}: passkey accuracy \\(%\\) — ${policy}$`, "m"), result.stdout);
  assert.match(result.stdout, new RegExp(`^${ids[1]}: passkey accuracy \\(%\\) — sink-window$`, "m"));
  assert.doesNotMatch(result.stdout, new RegExp(`^${ids[1]}: passkey accuracy \\(%\\) — (full|cascading)$`, "m"));
  const comparison = result.stdout.split("passkey accuracy (%) by length\n")[1];
  assert.ok(comparison, `no comparison table\n${result.stdout}`);
  assert.match(comparison, /^run\s+policy\s+2K\s+avg$/m);
  for (const policy of POLICIES) assert.match(comparison, new RegExp(`^${ids[0]}\\s+${policy}\\s`, "m"));
  assert.match(comparison, new RegExp(`^${ids[1]}\\s+sink-window\\s`, "m"));
});

test("table finds a run by id under --results, and rebuilds the run's own markdown summary", { skip: SKIP_STORIES }, async () => {
  const result = await cli(["table", basename(stories.folder), "--results", dirname(stories.folder), "--format", "markdown"]);
  assertSucceeded(result);
  assert.equal(result.stdout, stories.result.stdout);
});

test("table --format csv is one rectangular table: one header, a column each, one comparison row per run and policy", { skip: SKIP_STORIES }, async () => {
  const ids = [stories.folder, embedded.folder].map((folder) => basename(folder));
  const result = await cli(["table", stories.folder, embedded.folder, "--format", "csv"]);
  assertSucceeded(result);
  const rows = parseCsv(result.stdout);
  const [header, ...body] = rows;
  assert.deepEqual(header!.slice(0, 7), ["table", "length", "cache", "d≤0.5", "d≤1", "avg", "n"]);
  assert.ok(!body.some((row) => row[0] === "table"), "one header row for all tables");
  assert.equal(new Set(header).size, header!.length, "each column once");
  for (const row of body) assert.equal(row.length, header!.length, `ragged CSV row: ${row.join(",")}`);
  const column = (name: string) => header!.indexOf(name);
  const comparison = body.filter((row) => row[0] === "passkey accuracy (%) by length");
  assert.deepEqual(
    comparison.map((row) => [row[column("run")], row[column("policy")]]),
    [...POLICIES.map((policy) => [ids[0], policy]), [ids[1], "sink-window"]],
  );
  for (const row of comparison) assert.ok(Number.isFinite(Number(row[column("2K")])) && Number(row[column("2K")]) >= 0 && Number(row[column("2K")]) <= 100, row.join(","));
});

test("table --format json parses, and its numbers match the records", { skip: SKIP_STORIES }, async () => {
  const ids = [stories.folder, embedded.folder].map((folder) => basename(folder));
  const result = await cli(["table", stories.folder, embedded.folder, "--format", "json"]);
  assertSucceeded(result);
  const tables = JSON.parse(result.stdout) as { title: string; rows: Record<string, string | number | null>[] }[];
  assert.ok(Array.isArray(tables));
  assert.deepEqual(
    tables.map((table) => table.title),
    [
      ...POLICIES.map((policy) => `${ids[0]}: passkey accuracy (%) — ${policy}`),
      `${ids[1]}: passkey accuracy (%) — sink-window`,
      "passkey accuracy (%) by length",
      // retention, for the bounded policies of each run
      `${ids[0]}: passkey key retention — sink-window`,
      `${ids[0]}: passkey key retention — cascading`,
      `${ids[1]}: passkey key retention — sink-window`,
    ],
  );
  const records = readRecords(stories.folder);
  for (const policy of POLICIES) {
    const [row] = tables.find((table) => table.title === `${ids[0]}: passkey accuracy (%) — ${policy}`)!.rows;
    const scores = records.filter((record) => record.policy.name === policy).map((record) => record.score);
    const mean = (100 * scores.reduce((a, b) => a + b, 0)) / scores.length;
    assert.equal(row!.length, "2K");
    assert.equal(row!.n, 2);
    assert.ok(Math.abs((row!.avg as number) - mean) < 1e-9, `${policy}: avg ${row!.avg} vs ${mean}`);
  }
});

test("--budget runs each bounded policy once per budget (shares and tokens, sinks included), the full cache once; a resume finds it all done", async () => {
  const results = tempFolder();
  const args = ["passkey", "--len", "2K", "--samples", "1", "--depths", "1.0", "--policy", "full,sink-window,cascading", "--budget", "0.25,256"];
  const result = await cli([...args, "--results", results, "--format", "markdown", ...QUIET]);
  assertSucceeded(result);
  const folder = onlyRunFolder(results);
  const records = readRecords(folder);
  assert.deepEqual(records.map((record) => `${record.policy.name}@${String(record.policy.budget)}`).sort(), ["cascading@25%", "cascading@256", "full@undefined", "sink-window@25%", "sink-window@256"]);
  for (const record of records.filter((each) => each.policy.name !== "full")) {
    const tokens = record.policy.budget === "25%" ? Math.floor(0.25 * 2048) : 256;
    assert.equal(record.policy.window, Math.floor((tokens - record.policy.sinks) / 4) * 4, `${record.policy.name} at ${String(record.policy.budget)}: the same window for both policies`);
  }
  for (const title of ["sink-window · budget 25%", "sink-window · budget 256", "cascading · budget 25%", "cascading · budget 256"])
    assert.match(result.stdout, new RegExp(`^### passkey accuracy \\(%\\) — ${title}$`, "m"), title);
  const resumed = await cli(["passkey", "--resume", folder, "--results", results, ...QUIET]);
  assertSucceeded(resumed);
  assert.match(resumed.stderr, /^resuming: 5 of 5 already done$/m, explain(resumed));
  for (const [extra, message] of [
    [["--window", "512"], /^cascade-eval: --budget and --window both set the cache: give one$/],
    [["--budget", "2.5"], /^cascade-eval: --budget '2\.5' is neither a share of the prompt/],
    [["--budget", "4K"], /^cascade-eval: haystack of 2048 tokens is shorter than the sink-window cache/],
  ] as const) {
    const refused = await cli([...args.slice(0, -2), "--budget", "0.25", ...extra, "--results", results, ...QUIET]);
    assert.equal(refused.code, 2, explain(refused));
    assert.match(refused.stderr.trim(), message);
    assert.equal(refused.stderr.trim().split("\n").length, 1, explain(refused));
  }
});
