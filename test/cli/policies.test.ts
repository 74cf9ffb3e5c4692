/** The policy flags come from the registry: every policy is listed, every parameter is a flag, a new one runs end to end. */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { assertSucceeded, cli, onlyRunFolder, QUIET, readRecords, removeTemporaryFolders, tempFolder } from "./helpers.js";

after(removeTemporaryFolders);

test("every task command lists the registered policies and takes each policy parameter as a flag", async () => {
  for (const command of ["passkey", "pg19", "booksum", "longbench", "bench"]) {
    const { stdout, code } = await cli([command, "--help"]);
    assert.equal(code, 0, command);
    for (const name of ["full", "sink-window", "cascading-strided", "cascading", "random"]) assert.match(stdout, new RegExp(`^  ${name} +\\S`, "m"), `${command}: ${name}`);
    for (const flag of ["--sinks", "--window", "--cascades", "--eviction-seed"]) assert.ok(stdout.includes(`${flag} <n>`), `${command}: ${flag}`);
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
