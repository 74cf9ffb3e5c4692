/**
 * `cascade-eval merge`: the run folders of a sharded run (--shard K/N) joined into one run folder whose records, in
 * plan order, and tables are those a single process would have written. Shards that do not make one whole run
 * are refused, each reason in one line.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { UsageError } from "../errors.js";
import type { Table } from "../printers/table.js";
import { MANIFEST_FILE, newRunId, RunFolder, SAMPLES_FILE } from "../results/run-folder.js";
import { writeFileAtomic } from "../util/files.js";
import { taskOf } from "./registry.js";
import { PACING_OPTIONS, writeSummaries } from "./runner.js";
import { shardLabel, type ShardManifest } from "./shard.js";

interface ShardRunManifest {
  task: string;
  createdAt: string;
  options: Record<string, unknown>;
  model: { sha256: string };
  hardware: unknown;
  plannedRecords: number;
  shard?: ShardManifest;
}

interface ShardRun {
  folder: RunFolder;
  manifest: ShardRunManifest & { shard: ShardManifest };
}

/** What must be equal across shards: run.json without what differs by process (time, machine, model path, pacing). */
function settingsOf(manifest: ShardRunManifest): Record<string, unknown> {
  const { createdAt: _createdAt, shard: _shard, plannedRecords: _planned, hardware: _hardware, model, options, ...rest } = manifest;
  const kept = Object.fromEntries(Object.entries(options).filter(([name]) => name !== "model" && !PACING_OPTIONS.includes(name)));
  return { ...rest, options: kept, model: model.sha256 };
}

/** The first setting (a dotted path) in which two settings differ, with both values. */
function firstDifference(a: unknown, b: unknown, path = ""): string | undefined {
  if (JSON.stringify(a) === JSON.stringify(b)) return undefined;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object" || Array.isArray(a) !== Array.isArray(b))
    return `${path || "settings"}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const key of keys) {
    const found = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
    if (found) return found;
  }
  return undefined;
}

/** The shards, checked to be all N shards of one run, every one finished; refused in one line otherwise. */
function checkedShards(folders: readonly RunFolder[]): ShardRun[] {
  const runs = folders.map((folder) => ({ folder, manifest: folder.manifest<ShardRunManifest>() }));
  const notShard = runs.find((run) => run.manifest.shard === undefined);
  if (notShard) throw new UsageError(`${notShard.folder.path} is not a shard (it ran without --shard); merge joins the run folders of --shard K/N`);
  const shards = runs as ShardRun[];
  const [first] = shards;
  for (const run of shards.slice(1)) {
    if (run.manifest.task !== first!.manifest.task) throw new UsageError(`${first!.folder.path} is a ${first!.manifest.task} run and ${run.folder.path} a ${run.manifest.task} run: not shards of one run`);
    if (run.manifest.model.sha256 !== first!.manifest.model.sha256)
      throw new UsageError(`${first!.folder.path} and ${run.folder.path} ran different models (sha256 ${first!.manifest.model.sha256.slice(0, 12)}… vs ${run.manifest.model.sha256.slice(0, 12)}…)`);
    if (run.manifest.shard.count !== first!.manifest.shard.count)
      throw new UsageError(`${first!.folder.path} is shard ${shardLabel(first!.manifest.shard)} and ${run.folder.path} shard ${shardLabel(run.manifest.shard)}: not shards of one run`);
    const difference = firstDifference(settingsOf(first!.manifest), settingsOf(run.manifest));
    if (difference) throw new UsageError(`${first!.folder.path} and ${run.folder.path} ran with different settings (${difference}): not shards of one run`);
  }
  const count = first!.manifest.shard.count;
  const byIndex = new Map<number, ShardRun>();
  for (const run of shards) {
    const copy = byIndex.get(run.manifest.shard.index);
    if (copy) throw new UsageError(`${copy.folder.path} and ${run.folder.path} are both shard ${shardLabel(run.manifest.shard)}; give one of them`);
    byIndex.set(run.manifest.shard.index, run);
  }
  const missing = Array.from({ length: count }, (_, at) => at + 1).filter((index) => !byIndex.has(index));
  if (missing.length > 0) throw new UsageError(`shard${missing.length === 1 ? "" : "s"} ${missing.map((index) => `${index}/${count}`).join(", ")} missing (given: ${[...byIndex.keys()].sort((a, b) => a - b).map((index) => `${index}/${count}`).join(", ")})`);
  const positions = shards.flatMap((run) => run.manifest.shard.positions);
  if (new Set(positions).size !== positions.length || positions.some((position) => position >= positions.length))
    throw new UsageError(`the shards planned different units (changed data between them?): their units do not add up to one run; run them again`);
  return [...byIndex.values()].sort((a, b) => a.manifest.shard.index - b.manifest.shard.index);
}

/** Each shard's records; refused, naming the units still to run, unless every shard finished all of its own. */
function finishedRecords(shards: readonly ShardRun[], recordKey: (record: unknown) => string): Map<string, unknown> {
  const records = new Map<string, unknown>();
  const unfinished: string[] = [];
  for (const { folder, manifest } of shards) {
    const saved = new Map(folder.records<unknown>(recordKey).map((record) => [recordKey(record), record]));
    const pending = manifest.shard.units.filter((key) => !saved.has(key));
    if (pending.length > 0)
      unfinished.push(`shard ${shardLabel(manifest.shard)} lacks ${pending.length} of ${manifest.shard.units.length} units (${pending.slice(0, 3).join(", ")}${pending.length > 3 ? ", …" : ""}; continue with: cascade-eval ${manifest.task} --resume ${folder.path})`);
    for (const [key, record] of saved) records.set(key, record);
  }
  if (unfinished.length > 0) throw new UsageError(`unfinished: ${unfinished.join("; ")}`);
  return records;
}

/**
 * Merges shard folders into a new run folder (`output`, else a fresh run id under `resultsDirectory`): written in a
 * staging folder beside it and renamed into place whole, so the folder appears complete or not at all.
 */
export function mergeShards(folders: readonly RunFolder[], resultsDirectory: string, output?: string): { folder: RunFolder; tables: Table[] } {
  const shards = checkedShards(folders);
  const task = taskOf(shards[0]!.folder);
  const records = finishedRecords(shards, task.recordKey);
  const target = resolve(output ?? join(resultsDirectory, newRunId(task.name)));
  if (existsSync(target)) throw new UsageError(`${target} already exists; name a new folder with -o`);
  const staging = join(dirname(target), `.merging-${process.pid}`);
  const staged = join(staging, basename(target));
  try {
    mkdirSync(staged, { recursive: true });
  } catch (error) {
    throw new UsageError(`cannot create ${target}: ${(error as Error).message}`);
  }
  try {
    // plan order, as a single process saves them; each record names the merged run, as a single run's would
    const order = shards.flatMap(({ manifest }) => manifest.shard.units.map((key, at) => ({ key, position: manifest.shard.positions[at]! })));
    const runId = basename(target);
    const lines = order.sort((a, b) => a.position - b.position).map(({ key }) => `${JSON.stringify({ ...(records.get(key) as object), runId })}\n`);
    const { shard: _shard, ...manifest } = shards[0]!.manifest;
    const merged = {
      ...manifest,
      createdAt: shards.map((run) => run.manifest.createdAt).sort()[0],
      plannedRecords: order.length,
      mergedAt: new Date().toISOString(),
      mergedFrom: shards.map((run) => ({ shard: shardLabel(run.manifest.shard), run: run.folder.path, createdAt: run.manifest.createdAt, hardware: run.manifest.hardware })),
    };
    writeFileAtomic(join(staged, MANIFEST_FILE), `${JSON.stringify(merged, null, 2)}\n`);
    writeFileAtomic(join(staged, SAMPLES_FILE), lines.join(""));
    const stagedFolder = RunFolder.open(staged, resultsDirectory);
    const tables = task.savedTables([stagedFolder]);
    writeSummaries(stagedFolder, tables);
    renameSync(staged, target);
    return { folder: RunFolder.open(target, resultsDirectory), tables };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
