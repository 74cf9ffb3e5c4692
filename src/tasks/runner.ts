/**
 * The one runner every task goes through (passkey, pg19, booksum, longbench, bench): it opens the engine and the
 * run folder, skips what a resumed run already holds, runs the pending units (several at once through p-limit when
 * the task asks), saves each record the moment it is finished, reports progress, stops cleanly when interrupted and
 * writes the closing summary. A task only plans its units, runs one of them and builds its tables.
 */
import pLimit from "p-limit";
import { Engine, type EngineOptions } from "../engine/engine.js";
import type { FeedResult, PolicyStream } from "../engine/stream.js";
import type { GpuChoice } from "../engine/llama.js";
import { attentionScoresLine, EVICTION_PATHS } from "../engine/extension-runtime.js";
import { UsageError } from "../errors.js";
import { render } from "../printers/index.js";
import type { OutputFormat, Table } from "../printers/table.js";
import { newRunId, RunFolder } from "../results/run-folder.js";
import type { RunLock } from "../results/run-lock.js";
import type { ProgressReporter } from "../ui/progress.js";
import { shardLabel, shardPositions, type Shard, type ShardManifest } from "./shard.js";

export interface RunSettings {
  gpu: GpuChoice;
  threads?: number;
  /** --flash-attention on/off; unset: the engine's default. */
  flashAttention?: boolean;
  resultsDirectory: string;
  /** Where downloaded datasets go; unset: $CASCADE_EVAL_DATASETS or datasets/. */
  datasetsDir?: string;
  format: OutputFormat;
  reporter: ProgressReporter;
  /** Set when the user interrupts; checked between chunks. */
  signal: AbortSignal;
}

/** Every task's options name the model; the rest is the task's own (stored in run.json, repeated by --resume). */
export interface TaskOptions {
  model: string;
}

export interface FeedOptions {
  logProbabilities?: boolean;
  before?: number;
  neverNext?: readonly number[];
  onChunk?: (done: number) => void;
}

/** What the runner hands a unit while it runs. */
export interface UnitContext<RecordType> {
  engine: Engine;
  runId: string;
  settings: RunSettings;
  /**
   * Feeds tokens to a stream, reporting the unit's progress after each chunk (`before`: tokens of the unit
   * already done; `onChunk` sees that count first); undefined when the user interrupted, which stops the feed
   * after the current chunk.
   */
  feed(stream: PolicyStream, tokens: readonly number[], options?: FeedOptions): Promise<FeedResult | undefined>;
  /** Tokens of the unit evaluated so far that no saved record has counted yet. */
  progress(tokens: number): void;
  /** Appends a finished record to the run folder at once (`tokens`: the prompt tokens it accounts for). */
  save(record: RecordType, tokens: number): void;
}

/** A task's plan for one run, made once the model is loaded. */
export interface TaskPlan<Unit, RecordType> {
  units: readonly Unit[];
  /** Records a finished run holds, where a unit saves several (default: one per unit). */
  expectedRecords?: number;
  /** run.json's fields besides the task, the options, the model and the hardware. */
  manifest?: Record<string, unknown>;
  /** Printed as `note: …` lines before the run starts. */
  notes?: Iterable<string>;
  /** The title's parts between the model and the run id (e.g. the prompt format). */
  titleParts?: string[];
  /** The title's first part; default: the task's name. */
  titleName?: string;
  /** Units run at once, each in its own context; default 1. */
  parallel?: number;
  tables(runId: string, records: readonly RecordType[]): Table[];
  /** Runs one unit, saving its records; false when the user interrupted it. */
  runUnit(unit: Unit, context: UnitContext<RecordType>): Promise<boolean>;
  /** Before the first unit (e.g. a warm-up that no measurement should pay for). */
  beforeUnits?(): Promise<void>;
  /** After the last unit: extra files of the run folder, and what the closing report adds. */
  finish?(folder: RunFolder, records: readonly RecordType[]): { files?: string; terminalExtra?: string };
}

export interface Task<Options extends TaskOptions, Prepared, Unit, RecordType> {
  /** The command and the run folder's task, e.g. "passkey". */
  readonly name: string;
  /** What the closing line calls the records ("samples"). */
  readonly recordsName: string;
  /** Checks and reads what needs no model (the data), so that bad input fails before a model loads. */
  prepare(options: Options, settings: RunSettings): Promise<Prepared>;
  /** Engine settings of the task's own (e.g. fewer threads per context when units run side by side). */
  engineOptions?(options: Options, settings: RunSettings): Partial<EngineOptions>;
  plan(engine: Engine, prepared: Prepared, options: Options, settings: RunSettings): Promise<TaskPlan<Unit, RecordType>>;
  /** Resume keys: a unit is pending unless a saved record has its key. */
  unitKey(unit: Unit): string;
  recordKey(record: RecordType): string;
  /** The units still to run, where a unit saves several records (default: by unitKey). */
  pending?(units: readonly Unit[], done: ReadonlySet<string>): Unit[];
  /** Prompt tokens the unit evaluates (for the ETA). */
  unitTokens(unit: Unit): number;
  /** The unit as progress lines name it. */
  unitLabel(unit: Unit): string;
  /** What the live view counts (default: recordsName). */
  progressName?: string;
  /** Tokens the unit's cache holds at most (Infinity: the full cache), so the ETA can weigh attention's cost. */
  unitCapacity?(unit: Unit): number;
  /** Saved runs' tables, rebuilt from their folders (`table`, `reproduce`); several runs side by side. */
  savedTables(folders: readonly RunFolder[]): Table[];
}

/** Any task, for the registries that list them. */
export type AnyTask = Task<any, any, any, any>;

/** Task options that change how a run goes, not what it measures: a resume may give them anew, shards may differ in them. */
export const PACING_OPTIONS = ["parallel"];

/**
 * Runs a task from its options (a fresh run, or `resume` to continue that run folder). With `shard` (or a resumed
 * shard's own), only that shard's units run, and its run.json records which.
 */
export async function runTask<Options extends TaskOptions, Prepared, Unit, RecordType>(
  task: Task<Options, Prepared, Unit, RecordType>,
  options: Options,
  settings: RunSettings,
  resume?: RunFolder,
  shard?: Shard,
): Promise<void> {
  const prepared = await task.prepare(options, settings);
  const engine = await Engine.open({
    model: options.model,
    gpu: settings.gpu,
    threads: settings.threads,
    flashAttention: settings.flashAttention,
    ...task.engineOptions?.(options, settings),
  });
  try {
    const whole = await task.plan(engine, prepared, options, settings);
    const sharded = shardOf(task, whole, resume?.manifest<{ shard?: ShardManifest }>().shard ?? shard);
    const plan = sharded?.plan ?? whole;
    for (const note of new Set(plan.notes ?? [])) process.stderr.write(`note: ${note}\n`);
    const plannedRecords = plan.expectedRecords ?? plan.units.length;
    if (resume && sharded) checkShardPlan(resume, sharded.manifest);
    const shardManifest = sharded ? { shard: sharded.manifest } : {};
    const { folder, lock } = openRunFolder(task.name, engine, settings, { options, ...plan.manifest, plannedRecords, ...shardManifest }, resume);
    try {
      await runPlan(task, plan, folder, engine, settings);
    } finally {
      lock.release();
    }
  } finally {
    await engine.close();
  }
}

/**
 * The plan cut to one shard's units (the whole plan split by unit tokens, see assignShards), and what run.json
 * records of it; undefined without a shard.
 */
function shardOf<Unit, RecordType>(task: Task<any, any, Unit, RecordType>, plan: TaskPlan<Unit, RecordType>, shard: Shard | undefined) {
  if (shard === undefined) return undefined;
  // a unit that saves several records would make a shard's planned records unknowable (bench)
  if (plan.expectedRecords !== undefined) throw new UsageError(`${task.name} runs cannot be sharded`);
  const positions = shardPositions(plan.units.map((unit) => task.unitTokens(unit)), shard);
  const units = positions.map((position) => plan.units[position]!);
  const manifest: ShardManifest = { index: shard.index, count: shard.count, units: units.map((unit) => task.unitKey(unit)), positions };
  const titleParts = [...(plan.titleParts ?? []), `shard ${shardLabel(shard)}`];
  return { plan: { ...plan, units, titleParts }, manifest };
}

/** A resumed shard must plan the units it started with: else its records and the other shards' would not add up. */
function checkShardPlan(folder: RunFolder, planned: ShardManifest): void {
  const recorded = folder.manifest<{ shard: ShardManifest }>().shard;
  if (recorded.units.join("\n") !== planned.units.join("\n"))
    throw new UsageError(`${folder.path}: shard ${shardLabel(recorded)} now plans other units than it started with (changed data or model?); start the shards again`);
}

/** The plan's pending units into the locked folder, then its tables and the closing report. */
async function runPlan<Options extends TaskOptions, Prepared, Unit, RecordType>(
  task: Task<Options, Prepared, Unit, RecordType>,
  plan: TaskPlan<Unit, RecordType>,
  folder: RunFolder,
  engine: Engine,
  settings: RunSettings,
): Promise<void> {
  const records = folder.records<RecordType>(task.recordKey);
  const done = new Set(records.map((record) => task.recordKey(record)));
  const pending = task.pending?.(plan.units, done) ?? plan.units.filter((unit) => !done.has(task.unitKey(unit)));
  const total = plan.expectedRecords ?? plan.units.length;
  const tables = () => plan.tables(folder.id, records);
  const device = engine.hardware.gpu || "cpu";
  settings.reporter.start({
    title: [plan.titleName ?? task.name, engine.modelInfo.name, device, ...(plan.titleParts ?? []), `run ${folder.id}`].join(" · "),
    totalUnits: total,
    doneUnits: plan.expectedRecords === undefined ? plan.units.length - pending.length : records.length,
    totalTokens: pending.reduce((sum, unit) => sum + task.unitTokens(unit), 0),
    pending: pending.map((unit) => ({ tokens: task.unitTokens(unit), capacity: task.unitCapacity?.(unit) })),
    unitsName: task.progressName ?? task.recordsName,
    tables,
  });
  await plan.beforeUnits?.();
  await runUnits(task, plan, pending, engine, folder, records, settings);
  settings.reporter.stop();
  const extra = plan.finish?.(folder, records) ?? {};
  finishRun(folder, tables(), settings, { task: task.name, done: records.length, total, units: task.recordsName, ...extra });
}

/**
 * Runs units `parallel` at a time, each reporting its progress to a sum the reporter shows. Stops starting units
 * once the user interrupts or one unit fails; waits for the running ones, then rethrows the failure.
 */
async function runUnits<Unit, RecordType>(
  task: Task<TaskOptions, unknown, Unit, RecordType>,
  plan: TaskPlan<Unit, RecordType>,
  units: readonly Unit[],
  engine: Engine,
  folder: RunFolder,
  records: RecordType[],
  settings: RunSettings,
): Promise<void> {
  const limit = pLimit(plan.parallel ?? 1);
  const inFlight = new Map<Unit, number>();
  const sum = () => [...inFlight.values()].reduce((a, b) => a + b, 0);
  let failure: { error: unknown } | undefined;
  let interrupted = false;
  const context = (unit: Unit): UnitContext<RecordType> => {
    const progress = (tokens: number) => {
      inFlight.set(unit, tokens);
      settings.reporter.progress({ unitTokensDone: sum(), current: [...inFlight.keys()].map((each) => task.unitLabel(each)).join(", ") });
    };
    return {
      engine,
      runId: folder.id,
      settings,
      progress,
      feed: (stream, tokens, options = {}) =>
        feedWithProgress(stream, tokens, settings.signal, {
          ...options,
          onProgress: (done) => {
            options.onChunk?.(done);
            progress(done);
          },
        }),
      save: (record, tokens) => {
        folder.append(record);
        records.push(record);
        inFlight.set(unit, 0);
        // The line for a finished record names its unit, not the others still running.
        settings.reporter.progress({ unitTokensDone: sum(), current: task.unitLabel(unit) });
        settings.reporter.unitDone({ promptTokens: tokens });
      },
    };
  };
  await Promise.all(
    units.map((unit) =>
      limit(async () => {
        if (settings.signal.aborted || interrupted || failure) return;
        inFlight.set(unit, 0);
        try {
          if (!(await plan.runUnit(unit, context(unit)))) interrupted = true;
        } catch (error) {
          failure ??= { error };
        } finally {
          inFlight.delete(unit);
        }
      }),
    ),
  );
  if (failure) throw failure.error;
}

/**
 * The folder a run writes to, locked for this process: the resumed one, once it is sure the same model file is
 * loaded, or a new one whose `run.json` holds `manifest` with the task, the time, the model and the hardware. A torn
 * last record is dropped.
 */
function openRunFolder(task: string, engine: Engine, settings: RunSettings, manifest: Record<string, unknown>, resume?: RunFolder): { folder: RunFolder; lock: RunLock } {
  const recorded = resume?.manifest<{ model: { sha256: string } }>().model.sha256;
  if (recorded !== undefined && recorded !== engine.modelInfo.sha256)
    throw new UsageError(`${engine.modelInfo.path} is not the model this run started with (sha256 ${recorded.slice(0, 12)}…)`);
  const folder =
    resume ??
    RunFolder.create(settings.resultsDirectory, newRunId(task), {
      task,
      createdAt: new Date().toISOString(),
      ...manifest,
      model: engine.modelInfo,
      hardware: engine.hardware,
    });
  // before anything is written: a second process on the same folder stops here
  const lock = folder.lock();
  folder.trimTornTail();
  process.stderr.write(`cache eviction: ${EVICTION_PATHS[engine.hardware.eviction]}\n`);
  process.stderr.write(`${attentionScoresLine(engine.hardware.attentionScores, engine.hardware.extensions.includes("attention-scores"))}\n`);
  for (const note of [engine.hardware.flashAttentionNote, engine.hardware.cudaGraphsNote]) if (note !== undefined) process.stderr.write(`note: ${note}\n`);
  return { folder, lock };
}

interface RunOutcome {
  task: string;
  /** Records finished (this time and before a resume) and planned, and what they are called ("samples"). */
  done: number;
  total: number;
  units: string;
  /** Printed after the tables in the terminal format (e.g. sparklines). */
  terminalExtra?: string;
  /** Appended to the closing line (e.g. the name of a figure). */
  files?: string;
}

/** Writes summary.md and summary.csv, prints the tables, and says how far the run got and how to continue it. */
function finishRun(folder: RunFolder, tables: readonly Table[], settings: RunSettings, outcome: RunOutcome): void {
  const summary = markPartial(tables, [{ folder, task: outcome.task, done: outcome.done, planned: outcome.total }]);
  writeSummaries(folder, summary);
  process.stdout.write(render(summary, settings.format));
  if (settings.format === "terminal" && outcome.terminalExtra) process.stdout.write(`\n${outcome.terminalExtra}\n`);
  const interrupted = outcome.done < outcome.total;
  process.stderr.write(`${interrupted ? "interrupted: " : ""}${outcome.done} of ${outcome.total} ${outcome.units} in ${folder.path}${outcome.files ? ` (${outcome.files})` : ""}\n`);
  if (interrupted) process.stderr.write(`continue with: cascade-eval ${outcome.task} --resume ${folder.path}\n`);
}

/** summary.md and summary.csv: the run's tables as the markdown and csv printers write them. */
export function writeSummaries(folder: RunFolder, tables: readonly Table[]): void {
  folder.write("summary.md", `# ${folder.id}\n\n${render(tables, "markdown")}`);
  folder.write("summary.csv", render(tables, "csv"));
}

/** A run's finished records against those it planned (`run.json`'s plannedRecords; absent in older runs). */
export interface RunProgress {
  folder: RunFolder;
  task: string;
  done: number;
  planned: number | undefined;
}

/** The tables with a note on every one of them for each run that has not finished: its figures are partial. */
export function markPartial(tables: readonly Table[], runs: readonly RunProgress[]): Table[] {
  const partial = runs.filter((run) => run.planned !== undefined && run.done < run.planned);
  if (partial.length === 0) return [...tables];
  const notes = partial.map((run) => `partial: ${run.folder.id} has ${run.done} of ${run.planned} records (continue with: cascade-eval ${run.task} --resume ${run.folder.path})`);
  return tables.map((table) => ({ ...table, notes: [...(table.notes ?? []), ...notes] }));
}

/** Feeds tokens to a stream, reporting `before` + done after each chunk; undefined once `signal` is aborted. */
async function feedWithProgress(
  stream: PolicyStream,
  tokens: readonly number[],
  signal: AbortSignal,
  options: { logProbabilities?: boolean; before?: number; neverNext?: readonly number[]; onProgress: (done: number) => void },
): Promise<FeedResult | undefined> {
  const aborted = Symbol("aborted");
  try {
    return await stream.feed(tokens, {
      logProbabilities: options.logProbabilities,
      neverNext: options.neverNext,
      onChunk: (done) => {
        options.onProgress((options.before ?? 0) + done);
        if (signal.aborted) throw aborted;
      },
    });
  } catch (error) {
    if (error === aborted) return undefined;
    throw error;
  }
}
