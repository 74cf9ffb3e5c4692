/** What every task's run does around its own work: settings, the run folder, and the closing report. */
import type { Engine } from "../engine/engine.js";
import type { FeedResult, PolicyStream } from "../engine/stream.js";
import type { GpuChoice } from "../engine/llama.js";
import { attentionScoresLine, EVICTION_PATHS } from "../engine/extensions.js";
import { UsageError } from "../errors.js";
import type { PolicyName } from "../policies/policy.js";
import { render } from "../printers/index.js";
import type { OutputFormat, Table } from "../printers/table.js";
import { newRunId, RunFolder } from "../results/run-folder.js";
import type { ProgressReporter } from "../ui/progress.js";

/** The cache settings of a task whose bounded policies get a budget rule per sample (booksum, longbench). */
export interface BudgetedCacheOptions {
  policies: PolicyName[];
  /** Sinks, inside the budget. */
  sinks: number;
  /** Fixed window after the sinks; unset: the task's budget rule per sample. */
  window?: number;
  /** Prefill chunk; unset: min(the task's default, window/2). */
  stride?: number;
  cascades: number;
}

export interface RunSettings {
  gpu: GpuChoice;
  threads?: number;
  /** --flash-attention on/off; unset: the engine's default. */
  flashAttention?: boolean;
  resultsDirectory: string;
  format: OutputFormat;
  reporter: ProgressReporter;
  /** Set when the user interrupts; checked between chunks. */
  signal: AbortSignal;
}

/**
 * The folder a run writes to: the resumed one, once it is sure the same model file is loaded, or a new one whose
 * `run.json` holds `manifest` with the task, the time, the model and the hardware. A torn last record is dropped.
 */
export function openRunFolder(task: string, engine: Engine, settings: RunSettings, manifest: Record<string, unknown>, resume?: RunFolder): RunFolder {
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
  folder.trimTornTail();
  process.stderr.write(`cache eviction: ${EVICTION_PATHS[engine.hardware.eviction]}\n`);
  process.stderr.write(`${attentionScoresLine(engine.hardware.attentionScores, engine.hardware.extensions.includes("attention-scores"))}\n`);
  for (const note of [engine.hardware.flashAttentionNote, engine.hardware.cudaGraphsNote]) if (note !== undefined) process.stderr.write(`note: ${note}\n`);
  return folder;
}

export interface RunOutcome {
  task: string;
  /** Units finished (this time and before a resume) and planned, and what a unit is called ("samples"). */
  done: number;
  total: number;
  units: string;
  /** Printed after the tables in the terminal format (e.g. sparklines). */
  terminalExtra?: string;
  /** Appended to the closing line (e.g. the name of a figure). */
  files?: string;
}

/** Writes summary.md and summary.csv, prints the tables, and says how far the run got and how to continue it. */
export function finishRun(folder: RunFolder, summary: readonly Table[], settings: RunSettings, outcome: RunOutcome): void {
  folder.write("summary.md", `# ${folder.id}\n\n${render(summary, "markdown")}`);
  folder.write("summary.csv", render(summary, "csv"));
  process.stdout.write(render(summary, settings.format));
  if (settings.format === "terminal" && outcome.terminalExtra) process.stdout.write(`\n${outcome.terminalExtra}\n`);
  const interrupted = outcome.done < outcome.total;
  process.stderr.write(`${interrupted ? "interrupted: " : ""}${outcome.done} of ${outcome.total} ${outcome.units} in ${folder.path}${outcome.files ? ` (${outcome.files})` : ""}\n`);
  if (interrupted) process.stderr.write(`continue with: cascade-eval ${outcome.task} --resume ${folder.path}\n`);
}

/**
 * Feeds tokens to a stream, reporting progress after each chunk (`before` tokens of the unit already done);
 * undefined when the user interrupted, which stops the feed after the current chunk.
 */
export async function feedWithProgress(
  stream: PolicyStream,
  tokens: readonly number[],
  settings: RunSettings,
  current: string,
  options: { logProbabilities?: boolean; before?: number; neverNext?: readonly number[]; onProgress?: (done: number) => void } = {},
): Promise<FeedResult | undefined> {
  const aborted = Symbol("aborted");
  try {
    return await stream.feed(tokens, {
      logProbabilities: options.logProbabilities,
      neverNext: options.neverNext,
      onChunk: (done) => {
        // Streams run side by side report to their runner, which sums them for the reporter.
        if (options.onProgress) options.onProgress((options.before ?? 0) + done);
        else settings.reporter.progress({ unitTokensDone: (options.before ?? 0) + done, current });
        if (settings.signal.aborted) throw aborted;
      },
    });
  } catch (error) {
    if (error === aborted) return undefined;
    throw error;
  }
}

/** The model and hardware as every task's records name them. */
export function recordedModel(engine: Engine): { source: string; path: string; sha256: string; name: string } {
  const { source, path, sha256, name } = engine.modelInfo;
  return { source, path, sha256, name };
}

export function recordedHardware(engine: Engine): { gpu: string | false; threads: number } {
  return { gpu: engine.hardware.gpu, threads: engine.hardware.threads };
}

/** What a generating task records of a finished stream: the cache at the end, where the time went, the hardware. */
export interface StreamOutcome {
  cachedTokens: number;
  evictedTokens: number;
  timings: { prefillMs: number; generateMs: number; evaluateMs: number; policyMs: number; eraseMs: number };
  hardware: { gpu: string | false; threads: number };
  finishedAt: string;
}

export function streamOutcome(engine: Engine, stream: PolicyStream, prefillMs: number, generateMs: number): StreamOutcome {
  return {
    cachedTokens: stream.cachedTokens,
    evictedTokens: stream.counters.evicted,
    timings: { prefillMs, generateMs, ...stream.timings },
    hardware: recordedHardware(engine),
    finishedAt: new Date().toISOString(),
  };
}
