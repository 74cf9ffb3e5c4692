import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { LOCK_FILE, RunLock } from "../../src/results/run-lock.js";
import { RunFolder } from "../../src/results/run-folder.js";

const folders: string[] = [];
after(() => folders.forEach((folder) => rmSync(folder, { recursive: true, force: true })));
function folder(): string {
  const path = mkdtempSync(join(tmpdir(), "cascade-eval-lock-"));
  folders.push(path);
  return path;
}

/** The id of a process that has exited (so no live process has it, barring reuse within the test). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

test("a held folder is refused to a second claim, and free again once released", () => {
  const path = folder();
  const lock = RunLock.acquire(path);
  const owner = JSON.parse(readFileSync(join(path, LOCK_FILE), "utf8"));
  assert.equal(owner.pid, process.pid);
  assert.throws(() => RunLock.acquire(path), new RegExp(`in use by process ${process.pid} \\(since `));
  lock.release();
  assert.ok(!existsSync(join(path, LOCK_FILE)));
  RunLock.acquire(path).release();
});

test("the lock of a process that died is taken over, and the takeover said", () => {
  const path = folder();
  const pid = deadPid();
  writeFileSync(join(path, LOCK_FILE), JSON.stringify({ pid, host: hostname(), startedAt: "2026-12-04T00:00:00.000Z" }));
  const said: string[] = [];
  const lock = RunLock.acquire(path, (line) => said.push(line));
  assert.deepEqual(said, [`note: process ${pid}, which held ${path} since 2026-12-04T00:00:00.000Z, is gone; taking the run over`]);
  assert.equal(JSON.parse(readFileSync(join(path, LOCK_FILE), "utf8")).pid, process.pid);
  lock.release();
});

test("a lock from another host is not second-guessed; an unreadable one is taken over", () => {
  const path = folder();
  writeFileSync(join(path, LOCK_FILE), JSON.stringify({ pid: 1, host: "elsewhere", startedAt: "2026-12-04T00:00:00.000Z" }));
  assert.throws(() => RunLock.acquire(path), /locked by process 1 on host elsewhere .*; if no such run is going on, delete .*run\.lock$/);
  writeFileSync(join(path, LOCK_FILE), "{tor");
  const said: string[] = [];
  RunLock.acquire(path, (line) => said.push(line)).release();
  assert.match(said[0]!, /run\.lock was unreadable; taking the run over$/);
});

test("release leaves a lock that another process wrote in its place", () => {
  const path = folder();
  const lock = RunLock.acquire(path);
  writeFileSync(join(path, LOCK_FILE), JSON.stringify({ pid: process.pid + 1, host: hostname(), startedAt: "x" }));
  lock.release();
  assert.ok(existsSync(join(path, LOCK_FILE)));
});

test("records read with a unit key count each unit once, the first record of it", () => {
  const results = folder();
  const run = RunFolder.create(results, "passkey-test", { task: "passkey" });
  for (const [unit, answer] of [["a", 1], ["b", 2], ["a", 3], ["c", 4], ["b", 5]] as const) run.append({ unit, answer });
  assert.equal(run.records().length, 5, "without a key every line counts");
  const unique = run.records<{ unit: string; answer: number }>((record) => record.unit);
  assert.deepEqual(unique.map((record) => [record.unit, record.answer]), [["a", 1], ["b", 2], ["c", 4]]);
});
