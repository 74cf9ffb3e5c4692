/** The policy flags come from the registry: every policy is listed, every parameter is a flag, a new one runs end to end. */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { attentionScoresRemedy } from "../../src/engine/extension-runtime.js";
import { assertSucceeded, cli, cliWith, explain, onlyRunFolder, QUIET, readRecords, removeTemporaryFolders, runFolders, tempFolder } from "./helpers.js";

after(removeTemporaryFolders);

test("every task command lists the registered policies and takes each policy parameter as a flag", async () => {
  for (const command of ["passkey", "pg19", "booksum", "longbench", "bench"]) {
    const { stdout, code } = await cli([command, "--help"]);
    assert.equal(code, 0, command);
    for (const name of ["full", "sink-window", "cascading-strided", "cascading", "h2o", "tova", "snapkv", "bigbird", "random"]) assert.match(stdout, new RegExp(`^  ${name} +\\S`, "m"), `${command}: ${name}`);
    for (const flag of ["--sinks", "--window", "--cascades", "--eviction-seed", "--recent-percent", "--observe", "--pool-kernel"]) assert.ok(stdout.includes(`${flag} <n>`), `${command}: ${flag}`);
  }
});

test("the random policy, added as one file and one registry line, runs passkey with its own parameter recorded", async () => {
  const results = tempFolder();
  const args = ["passkey", "--len", "2K", "--samples", "1", "--depths", "1", "--policy", "sink-window,random", "--sinks", "4", "--window", "256", "--stride", "128", "--eviction-seed", "3"];
  const result = await cli([...args, "--results", results, "--format", "markdown", ...QUIET]);
  assertSucceeded(result);
  const records = readRecords(onlyRunFolder(results));
  const random = records.find((record) => record.policy.name === "random")!;
  assert.equal(random.policy.evictionSeed, 3);
  assert.ok(random.cachedTokens <= 4 + 256 + 128, `bounded: ${random.cachedTokens} cached`);
  assert.match(result.stdout, /4 sinks \+ 256 random \(seed 3\), stride 128/);
  const rebuilt = await cli(["table", onlyRunFolder(results), "--format", "markdown"]);
  assert.equal(rebuilt.stdout, result.stdout, "table rebuilds the same tables");
  const bad = await cli([...args.slice(0, -2), "--eviction-seed", "-1", "--results", join(results, "bad"), ...QUIET]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr.trim(), /^error: option '--eviction-seed <n>' argument '-1' is invalid|--eviction-seed must be a whole number >= 0/);
});

test("a policy that ranks by attention refuses binaries that cannot measure it, in one line, before any run folder", async () => {
  const results = tempFolder();
  // with CASCADE_EVAL_EXTENSIONS=off the binaries measure nothing; the remedy depends on whether they could
  const status = await cli(["extensions", "status"]);
  const inBinaries = !/attention-scores v\d+: not in these binaries/.test(status.stdout);
  const remedy = attentionScoresRemedy(inBinaries);
  for (const policy of ["h2o", "tova", "snapkv"]) {
    const refused = await cliWith({ CASCADE_EVAL_EXTENSIONS: "off" }, ["passkey", "--len", "2K", "--samples", "1", "--depths", "1", "--policy", `sink-window,${policy}`, "--results", results, ...QUIET]);
    assert.equal(refused.code, 2, explain(refused));
    assert.equal(refused.stderr.trim(), `cascade-eval: ${policy} ranks tokens by attention, which these binaries do not measure: ${remedy}`);
  }
  assert.deepEqual(runFolders(results), [], "a refused run leaves no folder");
});
