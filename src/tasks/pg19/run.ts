import { Engine } from "../../engine/engine.js";
import { UsageError } from "../../errors.js";
import { createPolicy } from "../../policies/index.js";
import type { PolicyConfig, PolicyName } from "../../policies/policy.js";
import type { RunFolder } from "../../results/run-folder.js";
import type { DocumentRecord } from "../../datasets/local.js";
import { curveSvg, pg19Tables, sparklines, type Pg19Record } from "./summary.js";
import { feedWithProgress, finishRun, openRunFolder, recordedHardware, recordedModel, type RunSettings } from "../lifecycle.js";

export type Chunking = "stream" | "llama-perplexity";

/** What a PG19 run is asked to do; stored in `run.json`. */
export interface Pg19Options {
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
  model: string;
}

const PAPER_WINDOW = 32768;

interface Book {
  document: DocumentRecord;
  tokens: number[];
}

/** The window the run uses: as asked, else the paper's, halved until sinks + window + stride fits the model. */
export function resolveWindow(options: Pg19Options, trainedContext: number): number {
  if (options.window !== undefined) return options.window;
  let window = PAPER_WINDOW;
  while (window > 1 && options.sinks + window + options.stride > trainedContext) window /= 2;
  return window;
}

export async function runPg19(documents: DocumentRecord[], options: Pg19Options, settings: RunSettings, resume?: RunFolder): Promise<void> {
  if (options.chunking === "llama-perplexity" && options.policies.some((name) => name !== "full"))
    throw new UsageError("--chunking llama-perplexity scores fresh full-cache chunks: use --policy full");
  const engine = await Engine.open({ model: options.model, gpu: settings.gpu, threads: settings.threads, flashAttention: settings.flashAttention });
  try {
    const window = resolveWindow(options, engine.modelInfo.trainContextSize);
    const policies: PolicyConfig[] = options.policies.map((name) => ({ name, sinks: options.sinks, window, cascades: options.cascades }));
    const capacity = Math.max(0, ...policies.map((policy) => createPolicy(policy).capacity).filter(Number.isFinite));
    // A book must outgrow every bounded cache (or give llama-perplexity its two chunks), or it says nothing.
    const minimum = options.chunking === "llama-perplexity" ? 2 * options.ctx : capacity + 1;
    const books: Book[] = [];
    const skipped: string[] = [];
    for (const document of documents) {
      const tokens = engine.tokenizeDocument(document.text).slice(0, options.maxTokens);
      if (tokens.length < minimum) skipped.push(`${document.id} (${tokens.length} tokens)`);
      else books.push({ document, tokens });
    }
    if (books.length === 0) throw new UsageError(`no book has the ${minimum} tokens needed (${skipped.length} skipped: shorter than the cache)`);
    const warnings = new Set<string>();
    for (const policy of policies) {
      const longest = options.chunking === "llama-perplexity" ? options.ctx : Math.max(...books.map((book) => book.tokens.length));
      for (const note of engine.validate({ policy: createPolicy(policy), stride: options.chunking === "stream" ? options.stride : options.ctx, totalTokens: longest })) warnings.add(note);
    }
    for (const warning of warnings) process.stderr.write(`note: ${warning}\n`);
    if (options.window === undefined && window !== PAPER_WINDOW && policies.some((policy) => policy.name !== "full"))
      process.stderr.write(`note: window ${window}: the paper's ${PAPER_WINDOW} does not fit the model's ${engine.modelInfo.trainContextSize}-token context\n`);
    if (skipped.length > 0) process.stderr.write(`note: ${skipped.length} book(s) skipped, shorter than ${minimum} tokens: ${skipped.join(", ")}\n`);

    const folder = openRunFolder("pg19", engine, settings, { options: { ...options, window }, skipped }, resume);
    const records = folder.records<Pg19Record>();
    const done = new Set(records.map((record) => `${record.bookId}|${record.policy.name}`));
    const units = books.flatMap((book) => policies.map((policy) => ({ book, policy })));
    const pending = units.filter((unit) => !done.has(`${unit.book.document.id}|${unit.policy.name}`));
    const tables = () => pg19Tables([{ runId: folder.id, records, skipped }]);
    settings.reporter.start({
      title: `pg19 · ${engine.modelInfo.name} · ${engine.hardware.gpu || "cpu"} · ${options.chunking} · run ${folder.id}`,
      totalUnits: units.length,
      doneUnits: units.length - pending.length,
      totalTokens: pending.reduce((total, unit) => total + unit.book.tokens.length, 0),
      tables,
    });
    for (const { book, policy } of pending) {
      if (settings.signal.aborted) break;
      const record = await runBook(engine, book, policy, options, folder.id, settings);
      if (!record) break;
      folder.append(record);
      records.push(record);
      settings.reporter.unitDone({ promptTokens: record.tokens });
    }
    settings.reporter.stop();
    const subtitle = `${engine.modelInfo.name} · ${options.chunking} · run ${folder.id}`;
    if (records.length > 0) folder.write("curve.svg", curveSvg(records, "PG19 perplexity by position", subtitle));
    finishRun(folder, tables(), settings, {
      task: "pg19",
      done: records.length,
      total: units.length,
      units: "book runs",
      terminalExtra: sparklines(records).join("\n"),
      files: "curve: curve.svg",
    });
  } finally {
    await engine.close();
  }
}

/** One book under one policy; undefined when interrupted. */
async function runBook(engine: Engine, book: Book, policy: PolicyConfig, options: Pg19Options, runId: string, settings: RunSettings): Promise<Pg19Record | undefined> {
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
  const current = `${book.document.id} · ${policy.name}`;
  let rankedByAttention = true;
  /** Log-probabilities of one fed run of tokens on a fresh stream; undefined when interrupted. */
  const feed = async (tokens: number[], stride: number, before: number) => {
    const stream = await engine.openStream({ policy: createPolicy(policy), stride, totalTokens: tokens.length });
    try {
      const result = await feedWithProgress(stream, tokens, settings, current, { logProbabilities: true, before });
      for (const key of Object.keys(timings) as (keyof typeof timings)[]) timings[key] += stream.timings[key];
      rankedByAttention &&= stream.rankedByAttention;
      return result?.logProbabilities;
    } finally {
      await engine.closeStream(stream);
    }
  };
  if (options.chunking === "stream") {
    const logProbabilities = await feed(book.tokens, options.stride, 0);
    if (!logProbabilities) return undefined;
    score(logProbabilities, 0, 0);
  } else {
    // As llama-perplexity: chunks of n_ctx from the book's tokens, the first token of each replaced by BOS, a
    // fresh cache each, and only the predictions of the second half scored.
    const bos = book.tokens[0]!;
    for (let start = 0; start + options.ctx <= book.tokens.length; start += options.ctx) {
      const logProbabilities = await feed([bos, ...book.tokens.slice(start + 1, start + options.ctx)], options.ctx, start);
      if (!logProbabilities) return undefined;
      score(logProbabilities, start, options.ctx / 2);
    }
  }
  const totalMs = performance.now() - started;
  const { sinks, window, cascades } = policy;
  return {
    task: "pg19",
    runId,
    bookId: book.document.id,
    title: book.document.title,
    chunking: options.chunking,
    policy: { name: policy.name, sinks, window, cascades, stride: options.chunking === "stream" ? options.stride : options.ctx, scores: rankedByAttention },
    model: recordedModel(engine),
    tokens: book.tokens.length,
    predicted,
    nll,
    curve,
    timings: { totalMs, ...timings },
    tokensPerSecond: book.tokens.length / (totalMs / 1000),
    hardware: recordedHardware(engine),
    finishedAt: new Date().toISOString(),
  };
}
