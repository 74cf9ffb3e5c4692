import { readFileSync } from "node:fs";
import type { DocumentRecord } from "../../datasets/local.js";
import { Engine } from "../../engine/engine.js";
import { framePrompt, tokenizeContinuation, type PromptFrame } from "../../engine/prompt.js";
import { UsageError } from "../../errors.js";
import { createPolicy } from "../../policies/index.js";
import type { PolicyConfig, PolicyName } from "../../policies/policy.js";
import type { RunFolder } from "../../results/run-folder.js";
import { projectPath } from "../../util/paths.js";
import { rougeScores } from "./rouge.js";
import { halfPowerOfTwoBudget, heldOutRows } from "./split.js";
import { booksumTables, type BooksumRecord, type BudgetRule } from "./summary.js";
import { feedWithProgress, finishRun, openRunFolder, recordedModel, streamOutcome, type BudgetedCacheOptions, type RunSettings } from "../lifecycle.js";

/** The declarative part of the task, read from `tasks/booksum.json`. */
export interface BooksumConfig {
  system: string;
  /** Precedes the book in the user turn. */
  instruction: string;
  /** Starts the answer of a model without a chat template (the paper's prompt assumes one). */
  plainAnswerPrefix: string;
  maxNewTokens: number;
  /** The summary is cut to its first `scoredTokens` tokens before scoring. */
  scoredTokens: number;
  bookField: string;
  summaryField: string;
  /** Regular expressions removed from the end of a book: instructions the source file appends to its prompts. */
  bookTrailers: string[];
  split: { heldOutFraction: number; seed: number };
  defaults: { sinks: number; stride: number; cascades: number };
}

export function loadBooksumConfig(): BooksumConfig {
  return JSON.parse(readFileSync(projectPath("tasks", "booksum.json"), "utf8")) as BooksumConfig;
}

/** What a BookSum run is asked to do (budget 2^⌊log2(n/2)⌋ per book unless a window is fixed); stored in `run.json` so that `--resume` repeats it. */
export interface BooksumOptions extends BudgetedCacheOptions {
  /** A local path, or the hub dataset id `booksum`. */
  source: string;
  /** `held-out`: the seeded 5% split; `all`: every row (a file that is already a test set). */
  split: "held-out" | "all";
  splitSeed: number;
  /** Only the first N rows of the split. */
  samples?: number;
  model: string;
}

export interface BooksumSample {
  row: number;
  book: string;
  reference: string;
}

/** The rows to evaluate, checked: each needs the book and the reference summary as non-empty strings. */
export function booksumSamples(documents: readonly DocumentRecord[], options: BooksumOptions, config: BooksumConfig): BooksumSample[] {
  const rows = options.split === "all" ? documents.map((_, index) => index) : heldOutRows(documents.length, config.split.heldOutFraction, options.splitSeed);
  const trailers = config.bookTrailers.map((pattern) => new RegExp(pattern));
  return rows.slice(0, options.samples).map((index) => {
    const document = documents[index]!;
    const reference = document.fields[config.summaryField];
    if (typeof reference !== "string" || reference.trim() === "")
      throw new UsageError(`row ${index + 1}: no summary in field "${config.summaryField}" (fields: ${Object.keys(document.fields).join(", ")})`);
    const book = trailers.reduce((text, trailer) => text.replace(trailer, ""), document.text);
    return { row: index + 1, book, reference: reference.trim() };
  });
}

interface Unit {
  sample: BooksumSample;
  prompt: number[];
  policy: PolicyConfig;
  budget: BudgetRule;
  stride: number;
  /** The paper's budget when the model's context forced a smaller one. */
  uncappedBudget?: number;
}

/**
 * The cache of one book under one policy. Bounded policies get the paper's budget 2^⌊log2(n/2)⌋ (sinks
 * included), capped so that the cache and one chunk fit the model's trained context, or a fixed --window.
 */
function planUnit(sample: BooksumSample, prompt: number[], name: PolicyName, options: BooksumOptions, config: BooksumConfig, trained: number): Unit | string {
  const budget: BudgetRule = options.window === undefined ? "half-pow2" : "fixed";
  if (name === "full") return { sample, prompt, policy: { name, sinks: 0, window: 0, cascades: 1 }, budget, stride: options.stride ?? config.defaults.stride };
  let window = options.window;
  let uncappedBudget: number | undefined;
  if (window === undefined) {
    let capacity = halfPowerOfTwoBudget(prompt.length);
    uncappedBudget = capacity;
    while (capacity > 1 && capacity + Math.min(options.stride ?? config.defaults.stride, capacity / 2) > trained) capacity /= 2;
    window = capacity - options.sinks;
    if (window < options.cascades) return `row ${sample.row} (${prompt.length} tokens: budget ${capacity} leaves no window after ${options.sinks} sinks)`;
    if (capacity === uncappedBudget) uncappedBudget = undefined;
  }
  const stride = options.stride ?? Math.max(1, Math.min(config.defaults.stride, Math.floor(window / 2)));
  return { sample, prompt, policy: { name, sinks: options.sinks, window, cascades: options.cascades }, budget, stride, uncappedBudget };
}

export async function runBooksum(documents: DocumentRecord[], options: BooksumOptions, settings: RunSettings, resume?: RunFolder): Promise<void> {
  const config = loadBooksumConfig();
  const samples = booksumSamples(documents, options, config);
  if (samples.length === 0) throw new UsageError(`the ${options.split} split of ${options.source} has no rows`);
  const engine = await Engine.open({ model: options.model, gpu: settings.gpu, threads: settings.threads, flashAttention: settings.flashAttention });
  try {
    const frame = framePrompt(engine.llamaModel, { system: config.system, lead: config.instruction, question: "", answerPrefix: "", plainAnswerPrefix: config.plainAnswerPrefix });
    const units: Unit[] = [];
    const skipped: string[] = [];
    for (const sample of samples) {
      const prompt = promptTokens(engine, frame, sample.book);
      for (const name of options.policies) {
        const unit = planUnit(sample, prompt, name, options, config, engine.modelInfo.trainContextSize);
        if (typeof unit === "string") skipped.push(unit);
        else units.push(unit);
      }
    }
    const warnings = new Set<string>();
    for (const unit of units) {
      for (const note of engine.validate({ policy: createPolicy(unit.policy), stride: unit.stride, totalTokens: unit.prompt.length + config.maxNewTokens })) warnings.add(note);
    }
    const capped = units.filter((unit) => unit.uncappedBudget !== undefined);
    if (capped.length > 0)
      warnings.add(`${capped.length} unit(s) got a smaller budget than 2^⌊log2(n/2)⌋ (up to ${Math.max(...capped.map((unit) => unit.uncappedBudget!))}) to fit the model's ${engine.modelInfo.trainContextSize}-token context`);
    if (frame.format === "plain") warnings.add(`the model has no chat template: plain prompt ending in "${config.plainAnswerPrefix}" (the paper's is a chat prompt)`);
    for (const warning of warnings) process.stderr.write(`note: ${warning}\n`);
    if (skipped.length > 0) process.stderr.write(`note: ${skipped.length} unit(s) skipped: ${skipped.join(", ")}\n`);
    if (units.length === 0) throw new UsageError("no book is long enough for its cache budget");

    const folder = openRunFolder("booksum", engine, settings, { options, promptFormat: frame.format, skipped }, resume);
    const records = folder.records<BooksumRecord>();
    const done = new Set(records.map((record) => `${record.row}|${record.policy.name}`));
    const pending = units.filter((unit) => !done.has(`${unit.sample.row}|${unit.policy.name}`));
    const notes = skipped.length > 0 ? [`skipped: ${skipped.join(", ")}`] : undefined;
    const tables = () => booksumTables(folder.id, records, notes);
    settings.reporter.start({
      title: `booksum · ${engine.modelInfo.name} · ${engine.hardware.gpu || "cpu"} · prompt format ${frame.format} · run ${folder.id}`,
      totalUnits: units.length,
      doneUnits: units.length - pending.length,
      totalTokens: pending.reduce((total, unit) => total + unit.prompt.length, 0),
      tables,
    });
    for (const unit of pending) {
      if (settings.signal.aborted) break;
      const record = await runUnit(engine, unit, config, folder.id, settings);
      if (!record) break;
      folder.append(record);
      records.push(record);
      settings.reporter.unitDone({ promptTokens: record.promptTokens });
    }
    settings.reporter.stop();
    finishRun(folder, tables(), settings, { task: "booksum", done: records.length, total: units.length, units: "summaries" });
  } finally {
    await engine.close();
  }
}

function promptTokens(engine: Engine, frame: PromptFrame, book: string): number[] {
  return [...frame.prefix, ...tokenizeContinuation(engine.llamaModel, book), ...frame.suffix];
}

/** Prefill of one book under one policy, then greedy generation; undefined when interrupted. */
async function runUnit(engine: Engine, unit: Unit, config: BooksumConfig, runId: string, settings: RunSettings): Promise<BooksumRecord | undefined> {
  const stream = await engine.openStream({ policy: createPolicy(unit.policy), stride: unit.stride, totalTokens: unit.prompt.length + config.maxNewTokens });
  try {
    const started = performance.now();
    if (!(await feedWithProgress(stream, unit.prompt, settings, `row ${unit.sample.row} · ${unit.policy.name}`))) return undefined;
    const prefillMs = performance.now() - started;
    const generated = await stream.generate({ maxTokens: config.maxNewTokens });
    const generateMs = performance.now() - started - prefillMs;
    const summary = engine.detokenize(generated.slice(0, config.scoredTokens)).trim();
    const { name, sinks, window, cascades } = unit.policy;
    return {
      task: "booksum",
      runId,
      row: unit.sample.row,
      policy: { name, sinks, window, cascades, stride: unit.stride, scores: stream.rankedByAttention, budget: unit.budget },
      model: recordedModel(engine),
      promptTokens: unit.prompt.length,
      generatedTokens: generated.length,
      summary,
      reference: unit.sample.reference,
      rouge: rougeScores(unit.sample.reference, summary),
      ...streamOutcome(engine, stream, prefillMs, generateMs),
    };
  } finally {
    await engine.closeStream(stream);
  }
}
