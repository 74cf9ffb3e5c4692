/** BookSum summarization (docs/protocols.md §5): planning books × policies, and one summary under one policy. */
import { readFileSync } from "node:fs";
import { readSource } from "../../datasets/hub.js";
import type { DocumentRecord } from "../../datasets/local.js";
import type { Engine } from "../../engine/engine.js";
import { framePrompt, tokenizeContinuation, type PromptFrame } from "../../engine/prompt.js";
import { UsageError } from "../../errors.js";
import type { PolicyConfig, PolicyName } from "../../policies/policy.js";
import { createPolicy, isBounded, policyConfig, policyKey, policyLabel, policyRecord } from "../../policies/registry.js";
import type { RunFolder } from "../../results/run-folder.js";
import { projectPath } from "../../util/paths.js";
import { budgetCaches, givenBudget } from "../budget.js";
import { defaultStride, fitBudget, halfPowerOfTwoBudget, type BudgetedCacheOptions } from "../cache-fit.js";
import { recordedModel, streamOutcome } from "../outcome.js";
import type { Task, TaskOptions, UnitContext } from "../runner.js";
import { rougeScores } from "./rouge.js";
import { heldOutRows } from "./split.js";
import { booksumTables, type BooksumRecord, type BudgetRule } from "./summary.js";

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

/** What a BookSum run is asked to do (budget 2^⌊log2(n/2)⌋ per book unless a window or --budget is fixed); stored in `run.json` so that `--resume` repeats it. */
export interface BooksumOptions extends BudgetedCacheOptions, TaskOptions {
  /** A local path, or the hub dataset id `booksum`. */
  source: string;
  /** `held-out`: the seeded 5% split; `all`: every row (a file that is already a test set). */
  split: "held-out" | "all";
  splitSeed: number;
  /** Only the first N rows of the split. */
  samples?: number;
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
  /** What chose the cache (the record's `policy.budget`); none for the full cache of a --budget run. */
  budget?: BudgetRule;
  stride: number;
  /** The paper's budget when the model's context forced a smaller one. */
  uncappedBudget?: number;
}

/** A cache a book's bounded policies share: what chose it, the window after the sinks (or why none is left). */
interface BookCache {
  budget: BudgetRule;
  window: number | string;
  /** The paper's budget when the model's context forced a smaller one. */
  uncappedBudget?: number;
  policies: readonly PolicyName[];
}

/**
 * The caches of one book. Bounded policies get the paper's budget 2^⌊log2(n/2)⌋ (sinks included), capped so that
 * the cache and one chunk fit the model's trained context, or a fixed --window, or one cache per --budget (a share
 * of this book's prompt, or tokens; the full cache once).
 */
function bookCaches(prompt: number[], options: BooksumOptions, config: BooksumConfig, trained: number): BookCache[] {
  if (options.budgets !== undefined) return budgetCaches({ ...options, budgets: options.budgets }, prompt.length, options.sinks);
  if (options.window !== undefined) return [{ budget: "fixed", window: options.window, policies: options.policies }];
  const fitted = fitBudget(halfPowerOfTwoBudget(prompt.length), options.stride ?? config.defaults.stride, trained);
  const window = fitted.budget - options.sinks;
  const room = window < options.cascades ? `budget ${fitted.budget} leaves no window after ${options.sinks} sinks` : window;
  return [{ budget: "half-pow2", window: room, policies: options.policies, ...(fitted.uncapped === undefined ? {} : { uncappedBudget: fitted.uncapped }) }];
}

/** The cache of one book under one policy; why not, where its budget leaves no window. */
function planUnit(sample: BooksumSample, prompt: number[], name: PolicyName, cache: BookCache, options: BooksumOptions, config: BooksumConfig): Unit | string {
  // the full cache of a --budget run has no budget (it runs once); under a rule it records the rule
  if (!isBounded(name))
    return { sample, prompt, policy: { name, sinks: 0, window: 0, cascades: 1 }, ...(givenBudget(cache) === undefined ? { budget: cache.budget } : {}), stride: options.stride ?? config.defaults.stride };
  const { window, uncappedBudget } = cache;
  if (typeof window === "string") return `row ${sample.row} (${prompt.length} tokens) under ${name}: ${window}`;
  const stride = defaultStride(window, config.defaults.stride, options.stride);
  return { sample, prompt, policy: policyConfig(name, { sinks: options.sinks, window, cascades: options.cascades }, options), budget: cache.budget, stride, uncappedBudget };
}

interface Prepared {
  config: BooksumConfig;
  samples: BooksumSample[];
}

/** One book under one policy (and --budget: a budget rule is not part of the key). */
const booksumKey = (row: number, policy: { name: PolicyName; budget?: unknown }) => `${row}|${policyKey(policy.name, givenBudget(policy))}`;
const booksumRecordKey = (record: BooksumRecord) => booksumKey(record.row, record.policy);

export const booksumTask: Task<BooksumOptions, Prepared, Unit, BooksumRecord> = {
  name: "booksum",
  recordsName: "summaries",
  async prepare(options, settings) {
    const config = loadBooksumConfig();
    const documents = await readSource(options.source, { datasetsDir: settings.datasetsDir, textField: config.bookField });
    const samples = booksumSamples(documents, options, config);
    if (samples.length === 0) throw new UsageError(`the ${options.split} split of ${options.source} has no rows`);
    return { config, samples };
  },
  async plan(engine, { config, samples }, options) {
    const frame = framePrompt(engine.llamaModel, { system: config.system, lead: config.instruction, question: "", answerPrefix: "", plainAnswerPrefix: config.plainAnswerPrefix });
    const units: Unit[] = [];
    const skipped: string[] = [];
    for (const sample of samples) {
      const prompt = promptTokens(engine, frame, sample.book);
      for (const cache of bookCaches(prompt, options, config, engine.modelInfo.trainContextSize))
        for (const name of cache.policies) {
          const unit = planUnit(sample, prompt, name, cache, options, config);
          if (typeof unit === "string") skipped.push(unit);
          else units.push(unit);
        }
    }
    const notes: string[] = [];
    for (const unit of units) notes.push(...engine.validate({ policy: createPolicy(unit.policy), stride: unit.stride, totalTokens: unit.prompt.length + config.maxNewTokens }));
    const capped = units.filter((unit) => unit.uncappedBudget !== undefined);
    if (capped.length > 0)
      notes.push(`${capped.length} unit(s) got a smaller budget than 2^⌊log2(n/2)⌋ (up to ${Math.max(...capped.map((unit) => unit.uncappedBudget!))}) to fit the model's ${engine.modelInfo.trainContextSize}-token context`);
    if (frame.format === "plain") notes.push(`the model has no chat template: plain prompt ending in "${config.plainAnswerPrefix}" (the paper's is a chat prompt)`);
    if (skipped.length > 0) notes.push(`${skipped.length} unit(s) skipped: ${skipped.join(", ")}`);
    if (units.length === 0) throw new UsageError(`no book is long enough for its cache budget: ${skipped.slice(0, 3).join("; ")}`);
    const tableNotes = skipped.length > 0 ? [`skipped: ${skipped.join(", ")}`] : undefined;
    return {
      units,
      manifest: { promptFormat: frame.format, skipped },
      notes,
      titleParts: [`prompt format ${frame.format}`],
      tables: (runId, records) => booksumTables(runId, records, tableNotes),
      runUnit: (unit, context) => runUnit(unit, config, context),
    };
  },
  unitKey: (unit) => booksumKey(unit.sample.row, { name: unit.policy.name, budget: unit.budget }),
  recordKey: booksumRecordKey,
  unitTokens: (unit) => unit.prompt.length,
  unitLabel: (unit) => `row ${unit.sample.row} · ${policyLabel(unit.policy.name, givenBudget(unit))}`,
  savedTables: (folders: readonly RunFolder[]) => folders.flatMap((folder) => booksumTables(folder.id, folder.records<BooksumRecord>(booksumRecordKey))),
};

function promptTokens(engine: Engine, frame: PromptFrame, book: string): number[] {
  return [...frame.prefix, ...tokenizeContinuation(engine.llamaModel, book), ...frame.suffix];
}

/** Prefill of one book under one policy, then greedy generation; false when interrupted. */
async function runUnit(unit: Unit, config: BooksumConfig, context: UnitContext<BooksumRecord>): Promise<boolean> {
  const { engine } = context;
  const stream = await engine.openStream({ policy: createPolicy(unit.policy), stride: unit.stride, totalTokens: unit.prompt.length + config.maxNewTokens });
  try {
    const started = performance.now();
    if (!(await context.feed(stream, unit.prompt))) return false;
    const prefillMs = performance.now() - started;
    const generated = await stream.generate({ maxTokens: config.maxNewTokens });
    const generateMs = performance.now() - started - prefillMs;
    const summary = engine.detokenize(generated.slice(0, config.scoredTokens)).trim();
    context.save(
      {
        task: "booksum",
        runId: context.runId,
        row: unit.sample.row,
        policy: policyRecord(unit.policy, unit.stride, stream.rankedByAttention, unit.budget),
        model: recordedModel(engine),
        promptTokens: unit.prompt.length,
        generatedTokens: generated.length,
        summary,
        reference: unit.sample.reference,
        rouge: rougeScores(unit.sample.reference, summary),
        ...streamOutcome(engine, stream, prefillMs, generateMs),
      },
      unit.prompt.length,
    );
    return true;
  } finally {
    await engine.closeStream(stream);
  }
}
