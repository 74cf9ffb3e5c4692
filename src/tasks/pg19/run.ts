/** PG19 streaming perplexity (docs/protocols.md §3): planning books × policies, and one book under one policy. */
import { readSource } from "../../datasets/hub.js";
import type { DocumentRecord } from "../../datasets/local.js";
import { UsageError } from "../../errors.js";
import type { PolicyConfig, PolicyName } from "../../policies/policy.js";
import { createPolicy, isBounded, policyConfig, policyKey, policyLabel, policyRecord } from "../../policies/registry.js";
import type { RunFolder } from "../../results/run-folder.js";
import { budgetCaches, requireWindow } from "../budget.js";
import { fitWindow } from "../cache-fit.js";
import { recordedHardware, recordedModel } from "../outcome.js";
import type { Task, TaskOptions, UnitContext } from "../runner.js";
import { curveSvg, pg19Tables, sparklines, type Pg19Record } from "./summary.js";

export type Chunking = "stream" | "llama-perplexity";
export const CHUNKINGS: readonly Chunking[] = ["stream", "llama-perplexity"];

/** What a PG19 run is asked to do; stored in `run.json`. */
export interface Pg19Options extends TaskOptions {
  /** Where the books came from (a path, or the hub dataset id). */
  source: string;
  policies: PolicyName[];
  sinks: number;
  /** Unset: the paper's 32,768, or the largest power of two that fits the model's trained context. */
  window?: number;
  stride: number;
  cascades: number;
  maxTokens?: number;
  chunking: Chunking;
  /** llama-perplexity chunking: the n_ctx of each chunk. */
  ctx: number;
  curveBin: number;
  /** --budget as given (shares of each book or token counts, sinks included), instead of --window. */
  budgets?: string[];
}

const PAPER_WINDOW = 32768;

interface Book {
  document: DocumentRecord;
  tokens: number[];
}

interface Unit {
  book: Book;
  policy: PolicyConfig;
  /** The --budget of this unit's cache (its label), where the run has budgets. */
  budget?: string;
}

/** The window the run uses: as asked, else the paper's, halved until sinks + window + stride fits the model. */
export function resolveWindow(options: Pg19Options, trainedContext: number): number {
  return options.window ?? fitWindow(PAPER_WINDOW, options.sinks, () => options.stride, trainedContext).window;
}

const pg19RecordKey = (record: Pg19Record) => `${record.bookId}|${policyKey(record.policy.name, record.policy.budget as string | undefined)}`;

/** Per book, the policies with their caches: one shape for the run, or one per --budget (the full cache once). */
function bookPolicies(options: Pg19Options, window: number, bookTokens: number): { policy: PolicyConfig; budget?: string }[] {
  const shape = (size: number) => ({ sinks: options.sinks, window: size, cascades: options.cascades });
  if (options.budgets === undefined) return options.policies.map((name) => ({ policy: policyConfig(name, shape(window), options) }));
  return budgetCaches({ ...options, budgets: options.budgets }, bookTokens, options.sinks).flatMap((cache) =>
    cache.policies.map((name) => {
      if (!isBounded(name)) return { policy: policyConfig(name, shape(window), options) };
      return { policy: policyConfig(name, shape(requireWindow(cache)), options), budget: cache.budget };
    }),
  );
}

export const pg19Task: Task<Pg19Options, DocumentRecord[], Unit, Pg19Record> = {
  name: "pg19",
  recordsName: "book runs",
  async prepare(options, settings) {
    if (options.chunking === "llama-perplexity" && options.policies.some(isBounded))
      throw new UsageError("--chunking llama-perplexity scores fresh full-cache chunks: use --policy full");
    return readSource(options.source, { datasetsDir: settings.datasetsDir });
  },
  async plan(engine, documents, options) {
    const window = resolveWindow(options, engine.modelInfo.trainContextSize);
    // A book must outgrow every bounded cache (or give llama-perplexity its two chunks), or it says nothing.
    const minimumFor = (bookTokens: number) => {
      if (options.chunking === "llama-perplexity") return 2 * options.ctx;
      const capacities = bookPolicies(options, window, bookTokens).map(({ policy }) => createPolicy(policy).capacity);
      return Math.max(0, ...capacities.filter(Number.isFinite)) + 1;
    };
    const books: Book[] = [];
    const skipped: string[] = [];
    let longest = 0;
    let minimum = 0;
    for (const document of documents) {
      const tokens = engine.tokenizeDocument(document.text).slice(0, options.maxTokens);
      longest = Math.max(longest, tokens.length);
      const needed = minimumFor(tokens.length);
      minimum = Math.max(minimum, needed);
      if (tokens.length < needed) skipped.push(`${document.id} (${tokens.length} tokens)`);
      else books.push({ document, tokens });
    }
    if (books.length === 0) {
      // the largest window (a multiple of the cascades) whose cache the longest book still outgrows
      const window = Math.max(options.cascades, Math.floor((longest - options.sinks - 1) / options.cascades) * options.cascades);
      const fix =
        options.chunking === "llama-perplexity"
          ? `--ctx ${Math.floor(longest / 2)} or less`
          : options.maxTokens !== undefined && options.maxTokens < minimum
            ? `--max-tokens ${minimum} or more, or --window ${window} or less`
            : `--window ${window} or less`;
      throw new UsageError(`no book has the ${minimum} tokens needed (the longest has ${longest}; ${skipped.length} skipped: shorter than the cache); use ${fix}`);
    }
    const notes = new Set<string>();
    const units = books.flatMap((book) => bookPolicies(options, window, book.tokens.length).map((each) => ({ book, ...each })));
    for (const { book, policy } of units) {
      const tokens = options.chunking === "llama-perplexity" ? options.ctx : book.tokens.length;
      for (const note of engine.validate({ policy: createPolicy(policy), stride: options.chunking === "stream" ? options.stride : options.ctx, totalTokens: tokens })) notes.add(note);
    }
    if (options.window === undefined && options.budgets === undefined && window !== PAPER_WINDOW && options.policies.some(isBounded))
      notes.add(`window ${window}: the paper's ${PAPER_WINDOW} does not fit the model's ${engine.modelInfo.trainContextSize}-token context`);
    if (skipped.length > 0) notes.add(`${skipped.length} book(s) skipped, shorter than their caches: ${skipped.join(", ")}`);
    return {
      units,
      // The window as resolved, so that a resume and the tables see the one that ran.
      manifest: { options: { ...options, window }, skipped },
      notes,
      titleParts: [options.chunking],
      tables: (runId, records) => pg19Tables([{ runId, records, skipped }]),
      runUnit: (unit, context) => runBook(unit, options, context),
      finish: (folder, records) => {
        const subtitle = `${engine.modelInfo.name} · ${options.chunking} · run ${folder.id}`;
        if (records.length > 0) folder.write("curve.svg", curveSvg(records, "PG19 perplexity by position", subtitle));
        return { terminalExtra: sparklines(records).join("\n"), files: "curve: curve.svg" };
      },
    };
  },
  unitKey: (unit) => `${unit.book.document.id}|${policyKey(unit.policy.name, unit.budget)}`,
  recordKey: pg19RecordKey,
  unitTokens: (unit) => unit.book.tokens.length,
  unitLabel: (unit) => `${unit.book.document.id} · ${policyLabel(unit.policy.name, unit.budget)}`,
  unitCapacity: (unit) => createPolicy(unit.policy).capacity,
  savedTables: (folders: readonly RunFolder[]) =>
    pg19Tables(folders.map((folder) => ({ runId: folder.id, records: folder.records<Pg19Record>(pg19RecordKey), skipped: folder.manifest<{ skipped?: string[] }>().skipped }))),
};

/** One book under one policy; false when interrupted. */
async function runBook({ book, policy, budget }: Unit, options: Pg19Options, context: UnitContext<Pg19Record>): Promise<boolean> {
  const { engine } = context;
  const bins = Math.ceil(book.tokens.length / options.curveBin);
  const curve = { bin: options.curveBin, nll: new Array<number>(bins).fill(0), count: new Array<number>(bins).fill(0) };
  const timings = { evaluateMs: 0, policyMs: 0, eraseMs: 0 };
  let nll = 0;
  let predicted = 0;
  /** Adds log p(tokens[at + 1]) for the scored positions of one feed. */
  const score = (logProbabilities: Float64Array, offset: number, from: number) => {
    for (let i = from; i < logProbabilities.length; i++) {
      const bin = Math.floor((offset + i + 1) / options.curveBin);
      curve.nll[bin]! -= logProbabilities[i]!;
      curve.count[bin]! += 1;
      nll -= logProbabilities[i]!;
      predicted++;
    }
  };
  const started = performance.now();
  let rankedByAttention = true;
  /** Log-probabilities of one fed run of tokens on a fresh stream; undefined when interrupted. */
  const feed = async (tokens: number[], stride: number, before: number) => {
    const stream = await engine.openStream({ policy: createPolicy(policy), stride, totalTokens: tokens.length });
    try {
      const result = await context.feed(stream, tokens, { logProbabilities: true, before });
      for (const key of Object.keys(timings) as (keyof typeof timings)[]) timings[key] += stream.timings[key];
      rankedByAttention &&= stream.rankedByAttention;
      return result?.logProbabilities;
    } finally {
      await engine.closeStream(stream);
    }
  };
  if (options.chunking === "stream") {
    const logProbabilities = await feed(book.tokens, options.stride, 0);
    if (!logProbabilities) return false;
    score(logProbabilities, 0, 0);
  } else {
    // As llama-perplexity: chunks of n_ctx from the book's tokens, the first token of each replaced by BOS, a
    // fresh cache each, and only the predictions of the second half scored.
    const bos = book.tokens[0]!;
    for (let start = 0; start + options.ctx <= book.tokens.length; start += options.ctx) {
      const logProbabilities = await feed([bos, ...book.tokens.slice(start + 1, start + options.ctx)], options.ctx, start);
      if (!logProbabilities) return false;
      score(logProbabilities, start, options.ctx / 2);
    }
  }
  const totalMs = performance.now() - started;
  context.save(
    {
      task: "pg19",
      runId: context.runId,
      bookId: book.document.id,
      title: book.document.title,
      chunking: options.chunking,
      policy: policyRecord(policy, options.chunking === "stream" ? options.stride : options.ctx, rankedByAttention, budget),
      model: recordedModel(engine),
      tokens: book.tokens.length,
      predicted,
      nll,
      curve,
      timings: { totalMs, ...timings },
      tokensPerSecond: book.tokens.length / (totalMs / 1000),
      hardware: recordedHardware(engine),
      finishedAt: new Date().toISOString(),
    },
    book.tokens.length,
  );
  return true;
}
