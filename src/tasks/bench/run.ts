/**
 * `cascade-eval bench`: prefill speed and memory of each cache policy at each length, the full cache (flash
 * attention where the binaries have it) up to the longest length that fits, and raw llama.cpp evaluation of the
 * same tokens at the bounded caches' KV occupancy with no policy at all, measured side by side in one process.
 */
import { Engine, type StreamRequest } from "../../engine/engine.js";
import type { PolicyStream } from "../../engine/stream.js";
import { UsageError } from "../../errors.js";
import type { CachePolicy, PolicyConfig, PolicyName } from "../../policies/policy.js";
import { createPolicy, isBounded, policyConfig, validatePolicyConfig } from "../../policies/registry.js";
import type { RunFolder } from "../../results/run-folder.js";
import type { Task, TaskOptions, UnitContext } from "../runner.js";
import { machineInfo } from "./system.js";
import { benchTables, type BenchRecord, type BenchSystem, type ChunkTotals } from "./tables.js";

export interface BenchOptions extends TaskOptions {
  lengths: number[];
  policies: PolicyName[];
  sinks: number;
  window: number;
  cascades: number;
  stride: number;
  /** Steady-state chunks of the raw baseline; 0 leaves it out. */
  rawChunks: number;
  /** The full cache is not run beyond this length (time); unset: up to the longest length that fits. */
  maxFullLength?: number;
  /** llama.cpp's flash attention for every policy; unset: the engine's default (on a GPU only). */
  flashAttention?: boolean;
  seed: number;
}

/** One stream per policy (the raw baseline is a stream too), recorded at each of its lengths as it passes them. */
interface Unit {
  kind: "raw" | "stream";
  policy: PolicyConfig;
  /** Ascending lengths still to record. */
  lengths: number[];
}

const VRAM_POLL_MS = 100;

/** The baseline's cache: filled to `capacity`, then each chunk drops itself again (one tail range: no shift). */
function tailDrop(config: PolicyConfig, capacity: number): CachePolicy {
  let cached = 0;
  return {
    config,
    capacity,
    attentionDecay: undefined,
    update(appended) {
      const total = cached + appended;
      const keep = Math.min(total, Math.max(cached, capacity));
      cached = keep;
      return Array.from({ length: total - keep }, (_, offset) => keep + offset);
    },
  };
}

export function recordKey(record: Pick<BenchRecord, "kind" | "policy" | "length">): string {
  return `${record.kind}|${record.policy.name}|${record.length}`;
}

/** The streams to run, without the lengths already recorded (a resumed run). */
export function planUnits(options: BenchOptions, done: ReadonlySet<string>): Unit[] {
  const config = (name: PolicyName): PolicyConfig => policyConfig(name, { sinks: options.sinks, window: options.window, cascades: options.cascades }, options);
  const units: Unit[] = [];
  if (options.rawChunks > 0 && options.policies.some(isBounded))
    units.push({ kind: "raw", policy: config("sink-window"), lengths: [options.sinks + options.window + options.rawChunks * options.stride] });
  const lengths = [...options.lengths].sort((a, b) => a - b);
  for (const name of options.policies) units.push({ kind: "stream", policy: config(name), lengths });
  return withoutDone(units, done);
}

/** The streams still to run: each unit without the lengths a resumed run already recorded. */
function withoutDone(units: readonly Unit[], done: ReadonlySet<string>): Unit[] {
  return units
    .map((unit) => ({ ...unit, lengths: unit.lengths.filter((length) => !done.has(recordKey({ kind: unit.kind, policy: unit.policy, length }))) }))
    .filter((unit) => unit.lengths.length > 0);
}

export const benchTask: Task<BenchOptions, void, Unit, BenchRecord> = {
  name: "bench",
  recordsName: "measurements",
  async prepare(options) {
    for (const name of options.policies) validatePolicyConfig(policyConfig(name, options, options));
    // Lengths within the cache are measured while it fills (VRAM from the start); only evicting nothing at all is an error.
    const longest = Math.max(...options.lengths);
    const bounded = options.policies.some(isBounded);
    if (bounded && longest <= options.sinks + options.window)
      throw new UsageError(`--len ${longest} does not outgrow the cache of ${options.sinks} + ${options.window} tokens: nothing would be evicted`);
    const filling = options.lengths.filter((length) => length <= options.sinks + options.window);
    if (bounded && filling.length > 0)
      process.stderr.write(`note: --len ${filling.join(", ")} within the cache of ${options.sinks} + ${options.window}: the bounded policies evict nothing yet there\n`);
  },
  engineOptions: (options) => ({ flashAttention: options.flashAttention, decodeTimings: true }),
  async plan(engine, _prepared, options) {
    const longest = Math.max(...options.lengths);
    const notes: string[] = [];
    for (const name of new Set(options.policies)) {
      const policy = createPolicy(policyConfig(name, options, options));
      for (const note of engine.validate({ policy, stride: options.stride, totalTokens: longest })) notes.push(`${note} (speed is still measured)`);
    }
    // Every stream reads a prefix of the same seeded token sequence, drawn once its context exists (a full cache
    // that does not fit never allocates its tokens).
    const tokensFor = (length: number) => engine.sampleTokens(length, options.seed);
    const system: BenchSystem = {
      machine: machineInfo(),
      build: await engine.buildInfo(),
      shape: engine.modelShape(),
      batchSize: Engine.batchSizeFor(options.stride, engine.hardware.gpu),
      flashAttention: engine.hardware.flashAttention,
      eviction: engine.hardware.eviction,
      attentionScores: engine.hardware.attentionScores,
      attentionScoresFused: engine.hardware.attentionScoresFused,
      decodeTimings: engine.hardware.decodeTimings,
      hostFastPath: engine.hardware.hostFastPath,
    };
    const units = planUnits(options, new Set());
    return {
      units,
      expectedRecords: units.reduce((sum, unit) => sum + unit.lengths.length, 0),
      manifest: { system },
      notes,
      tables: (runId, records) => benchTables(runId, system, engine.modelInfo.name, records),
      beforeUnits: () => warmUp(engine, tokensFor(2 * options.stride), options.stride),
      runUnit: (unit, context) => measureUnit(unit, tokensFor, options, context),
      finish: (folder, records) => {
        folder.write("bench.json", `${JSON.stringify({ system, model: engine.modelInfo, options, records }, null, 2)}\n`);
        return { files: "all figures: bench.json" };
      },
    };
  },
  unitKey: (unit) => `${unit.kind}|${unit.policy.name}`,
  recordKey,
  pending: withoutDone,
  unitTokens: (unit) => Math.max(...unit.lengths),
  unitLabel: (unit) => (unit.kind === "raw" ? `raw llama.cpp at ${unit.policy.sinks + unit.policy.window} cells` : unit.policy.name),
  savedTables: (folders: readonly RunFolder[]) =>
    folders.flatMap((folder) => {
      const manifest = folder.manifest<{ system: BenchSystem; model: { name: string } }>();
      return benchTables(folder.id, manifest.system, manifest.model.name, folder.records<BenchRecord>(recordKey));
    }),
};

/** The first evaluations on a GPU pay for kernel loading and graph capture: keep them out of every measurement. */
async function warmUp(engine: Engine, tokens: readonly number[], stride: number): Promise<void> {
  const request: StreamRequest = { policy: createPolicy({ name: "full", sinks: 0, window: 1, cascades: 1 }), stride, totalTokens: tokens.length };
  const stream = await engine.openStream(request);
  await stream.feed(tokens);
  await engine.closeStream(stream);
  await engine.disposeIdleContexts();
}

function unmeasured(unit: Unit, length: number, contextCells: number, status: "does not fit" | "not run", reason: string, stride: number): BenchRecord {
  return { kind: unit.kind, policy: unit.policy, length, stride, contextCells, status, reason, finishedAt: new Date().toISOString() };
}

/**
 * Opens the unit's stream for its longest length. A full cache that does not fit is recorded as such and tried
 * again one length shorter; lengths over --max-full-length are recorded as not run.
 */
async function openUnitStream(engine: Engine, unit: Unit, options: BenchOptions, save: (record: BenchRecord) => void) {
  const capacity = options.sinks + options.window;
  const lengths = [...unit.lengths];
  if (!isBounded(unit.policy.name) && options.maxFullLength !== undefined)
    while (lengths.length > 0 && lengths.at(-1)! > options.maxFullLength) {
      const length = lengths.pop()!;
      save(unmeasured(unit, length, length + 1, "not run", `longer than --max-full-length ${options.maxFullLength}`, options.stride));
    }
  const tooLong: BenchRecord[] = [];
  while (lengths.length > 0) {
    const policy = unit.kind === "raw" ? tailDrop(unit.policy, capacity) : createPolicy(unit.policy);
    const request: StreamRequest = { policy, stride: options.stride, totalTokens: lengths.at(-1)! };
    await engine.disposeIdleContexts();
    try {
      const stream = await engine.openStream(request);
      tooLong.reverse().forEach(save);
      return { stream, lengths, contextCells: Engine.contextSizeFor(request) };
    } catch (error) {
      if (!(error instanceof UsageError) || isBounded(unit.policy.name)) throw error;
      tooLong.push(unmeasured(unit, lengths.pop()!, Engine.contextSizeFor(request), "does not fit", error.message, options.stride));
    }
  }
  tooLong.reverse().forEach(save);
  return undefined;
}

/** One stream, recorded at each of its lengths; false when the user interrupted it. */
async function measureUnit(unit: Unit, tokensFor: (length: number) => number[], options: BenchOptions, context: UnitContext<BenchRecord>): Promise<boolean> {
  const { engine } = context;
  const save = (record: BenchRecord) => context.save(record, 0);
  const capacity = options.sinks + options.window;
  const opened = await openUnitStream(engine, unit, options, save);
  if (opened === undefined) return true;
  const { stream, lengths, contextCells } = opened;
  const before = await engine.memoryUsage();
  const peak = { vram: before.vramUsedBytes, rss: before.hostRssBytes };
  const sample = async () => {
    const now = await engine.memoryUsage();
    if (now.vramUsedBytes !== null) peak.vram = Math.max(peak.vram ?? 0, now.vramUsedBytes);
    peak.rss = Math.max(peak.rss, now.hostRssBytes);
  };
  const poll = setInterval(() => void sample(), VRAM_POLL_MS);
  try {
    const tokens = tokensFor(lengths.at(-1)!);
    // The baseline fills its cache first (never steady), then evaluates its steady chunks.
    const ends = unit.kind === "raw" ? [capacity, ...lengths] : lengths;
    const timer = new ChunkTimer(stream, capacity, context);
    let start = 0;
    for (const end of ends) {
      const fed = await timer.feed(tokens.slice(start, end));
      if (!fed) return false;
      start = end;
      if (!lengths.includes(end)) continue;
      await sample();
      context.save(
        {
          kind: unit.kind,
          policy: unit.policy,
          length: end,
          stride: options.stride,
          contextCells,
          status: "measured",
          ...timer.all,
          steady: timer.steady.chunks > 0 ? { ...timer.steady } : null,
          evicted: stream.counters.evicted,
          memory: { vramBeforeBytes: before.vramUsedBytes, vramPeakBytes: peak.vram, hostRssPeakBytes: peak.rss },
          finishedAt: new Date().toISOString(),
        },
        end - timer.reportedTokens,
      );
      timer.reportedTokens = end;
    }
    return true;
  } finally {
    clearInterval(poll);
    await engine.closeStream(stream);
    await engine.disposeIdleContexts();
  }
}

/** Totals as this version measures them (records from before the eviction inside the decode lack evictInDecodeMs). */
type MeasuredTotals = ChunkTotals & { evictInDecodeMs: number };
const zeroTotals = (): MeasuredTotals => ({ chunks: 0, tokens: 0, wallMs: 0, evaluateMs: 0, policyMs: 0, eraseMs: 0, evictInDecodeMs: 0 });
const NUMERIC_TOTALS = ["chunks", "tokens", "wallMs", "evaluateMs", "policyMs", "eraseMs", "evictInDecodeMs"] as const;

/**
 * Splits a stream's time per chunk, cumulatively: every chunk, and the chunks that started with the cache at
 * `capacity` (steady state: the occupancy of the raw baseline).
 */
class ChunkTimer {
  readonly all = zeroTotals();
  readonly steady = zeroTotals();
  /** Tokens already counted as finished by the progress reporter. */
  reportedTokens = 0;
  private fedTokens = 0;
  private cachedBefore: number;
  private before: PolicyStream["timings"];
  private phasesBefore: number[] | undefined;

  constructor(
    private readonly stream: PolicyStream,
    private readonly capacity: number,
    private readonly context: UnitContext<BenchRecord>,
  ) {
    this.cachedBefore = stream.cachedTokens;
    this.before = { ...stream.timings };
    this.phasesBefore = stream.decodePhasesMs();
  }

  /** Feeds one part of the stream; false when the user interrupted. */
  async feed(tokens: number[]): Promise<boolean> {
    const before = this.fedTokens - this.reportedTokens;
    let previousDone = before;
    let last = performance.now();
    const fed = await this.context.feed(this.stream, tokens, {
      before,
      onChunk: (done) => {
        const now = performance.now();
        const timings = this.stream.timings;
        const chunk = {
          chunks: 1,
          tokens: done - previousDone,
          wallMs: now - last,
          evaluateMs: timings.evaluateMs - this.before.evaluateMs,
          policyMs: timings.policyMs - this.before.policyMs,
          eraseMs: timings.eraseMs - this.before.eraseMs,
          evictInDecodeMs: timings.evictInDecodeMs - this.before.evictInDecodeMs,
        };
        const phases = this.stream.decodePhasesMs();
        const chunkPhases = phases?.map((ms, phase) => ms - (this.phasesBefore?.[phase] ?? 0));
        for (const totals of this.cachedBefore === this.capacity ? [this.all, this.steady] : [this.all]) {
          for (const key of NUMERIC_TOTALS) totals[key] += chunk[key];
          if (chunkPhases) totals.decodePhasesMs = chunkPhases.map((ms, phase) => ms + (totals.decodePhasesMs?.[phase] ?? 0));
        }
        this.before = { ...timings };
        this.phasesBefore = phases;
        this.cachedBefore = this.stream.cachedTokens;
        previousDone = done;
        last = now;
      },
    });
    if (fed === undefined) return false;
    this.fedTokens += tokens.length;
    return true;
  }
}
