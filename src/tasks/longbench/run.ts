/**
 * LongBench generation as the official pred.py does it (PROTOCOLS §4), under each cache policy: the prompt filled,
 * truncated in the middle to the model's budget, framed by the chat template, answered greedily; predictions
 * written in the official format and scored by the official rules.
 */
import { join } from "node:path";
import pLimit from "p-limit";
import type { CacheOptions } from "../../datasets/hub.js";
import { Engine } from "../../engine/engine.js";
import { physicalCoreCount } from "../../engine/llama.js";
import { chatTurnTokens } from "../../engine/prompt.js";
import { UsageError } from "../../errors.js";
import { createPolicy } from "../../policies/index.js";
import { isCascading, type PolicyConfig, type PolicyName } from "../../policies/policy.js";
import type { RunFolder } from "../../results/run-folder.js";
import { feedWithProgress, finishRun, openRunFolder, recordedModel, streamOutcome, type BudgetedCacheOptions, type RunSettings } from "../lifecycle.js";
import { defaultMaxLength, loadLongBenchConfig, type DatasetConfig, type LongBenchConfig } from "./config.js";
import { readLongBenchItems, type LongBenchItem } from "./data.js";
import { fillTemplate, quarterPowerOfTwoBudget, truncateMiddle } from "./prompt.js";
import { longBenchETables, longBenchTables, writePredictionFiles, type LongBenchBudget, type LongBenchRecord } from "./record.js";
import { itemScores, writeResultJson } from "./score.js";

/** What a LongBench run is asked to do (budget min(2^⌊log2(n/4)⌋, max length) per prompt unless a window is fixed); stored in `run.json` so that `--resume` repeats it. */
export interface LongBenchOptions extends BudgetedCacheOptions {
  /** The hub dataset id `longbench`, or a local data.zip, folder of DATASET.jsonl files, or one file. */
  source: string;
  /** In the official order. */
  datasets: string[];
  /** LongBench-E: the DATASET_e files, scored per length bucket. */
  e: boolean;
  /** Only the first N items of each dataset. */
  samples?: number;
  /** Prompt budget in tokens (pred.py's max_length); unset: from the model's trained context. */
  maxLength?: number;
  /** Items evaluated at once, each in its own context. */
  parallel: number;
  model: string;
}

interface Prompt {
  dataset: string;
  item: LongBenchItem;
  tokens: number[];
  truncatedFrom: number | null;
}

interface Unit {
  prompt: Prompt;
  policy: PolicyConfig;
  budget: LongBenchBudget;
  stride: number;
}

export async function runLongBench(options: LongBenchOptions, settings: RunSettings, cache: CacheOptions, resume?: RunFolder): Promise<void> {
  const config = loadLongBenchConfig();
  const itemsByDataset = new Map<string, LongBenchItem[]>();
  for (const dataset of options.datasets) itemsByDataset.set(dataset, (await readLongBenchItems(options.source, dataset, options.e, cache)).slice(0, options.samples));
  // Contexts side by side share the cores: more threads than cores made CPU runs several times slower.
  const threads = settings.threads ?? (options.parallel > 1 ? Math.max(1, Math.floor(physicalCoreCount() / options.parallel)) : undefined);
  const engine = await Engine.open({ model: options.model, gpu: settings.gpu, threads, flashAttention: settings.flashAttention });
  try {
    const maxLength = options.maxLength ?? defaultMaxLength(engine.modelInfo.trainContextSize, config);
    const prompts: Prompt[] = [];
    const itemCount = [...itemsByDataset.values()].reduce((total, items) => total + items.length, 0);
    if (itemCount >= 100) process.stderr.write(`building ${itemCount} prompts (tokenize, truncate, chat template)…\n`);
    let format = "plain";
    for (const [dataset, items] of itemsByDataset)
      for (const item of items) {
        const prompt = buildPrompt(engine, config.datasets[dataset]!, item, maxLength);
        if (prompt.format !== "plain") format = prompt.format;
        prompts.push({ dataset, item, tokens: prompt.tokens, truncatedFrom: prompt.truncatedFrom });
      }
    const units: Unit[] = [];
    const skipped: string[] = [];
    for (const prompt of prompts)
      for (const name of options.policies) {
        const unit = planUnit(prompt, name, options, config, maxLength);
        if (typeof unit === "string") skipped.push(unit);
        else units.push(unit);
      }
    if (units.length === 0) throw new UsageError(`no item can be run: ${skipped.slice(0, 3).join("; ")}`);
    const warnings = new Set<string>();
    for (const unit of units) {
      for (const note of engine.validate({ policy: createPolicy(unit.policy), stride: unit.stride, totalTokens: unit.prompt.tokens.length + config.datasets[unit.prompt.dataset]!.maxNewTokens })) warnings.add(note);
    }
    const truncated = prompts.filter((prompt) => prompt.truncatedFrom !== null).length;
    const notes = [
      `max length ${maxLength} tokens${options.maxLength === undefined ? ` (model's ${engine.modelInfo.trainContextSize}-token context, nominal thousands less ${config.defaults.generationReserve})` : ""}; ${truncated} of ${prompts.length} prompts truncated in the middle`,
      format === "plain"
        ? "no chat template in the model: prompts as they are (pred.py's build_chat for a model it does not know)"
        : `chat template ${format} on all but trec, triviaqa, samsum, lsht, lcc, repobench-p`,
      ...(skipped.length > 0 ? [`skipped ${skipped.length}: ${skipped.slice(0, 5).join("; ")}${skipped.length > 5 ? "; …" : ""}`] : []),
    ];
    for (const warning of warnings) process.stderr.write(`note: ${warning}\n`);

    const folder = openRunFolder("longbench", engine, settings, { options, maxLength, promptFormat: format, skipped }, resume);
    const records = folder.records<LongBenchRecord>();
    const key = (dataset: string, item: number, policy: string) => `${dataset}|${item}|${policy}`;
    const done = new Set(records.map((record) => key(record.dataset, record.item, record.policy.name)));
    const pending = units.filter((unit) => !done.has(key(unit.prompt.dataset, unit.prompt.item.index, unit.policy.name)));
    const tables = () => (options.e ? longBenchETables : longBenchTables)(folder.id, records, options.datasets, config, notes);
    settings.reporter.start({
      title: `longbench${options.e ? "-e" : ""} · ${engine.modelInfo.name} · ${engine.hardware.gpu || "cpu"} · ${options.parallel} at once · run ${folder.id}`,
      totalUnits: units.length,
      doneUnits: units.length - pending.length,
      totalTokens: pending.reduce((total, unit) => total + unit.prompt.tokens.length, 0),
      tables,
    });
    await runSideBySide(pending, options.parallel, settings, (unit, onProgress) => runUnit(engine, unit, config.datasets[unit.prompt.dataset]!, folder.id, settings, onProgress), (record) => {
      folder.append(record);
      records.push(record);
    });
    settings.reporter.stop();
    const predictionFolders = writePredictionFiles(folder.path, records, options.datasets, options.e);
    for (const predictions of predictionFolders) writeResultJson(predictions, options.e);
    const files = predictionFolders.length > 0 ? `predictions and result.json in ${join(options.e ? "pred_e" : "pred", "POLICY")}/` : undefined;
    finishRun(folder, tables(), settings, { task: "longbench", done: records.length, total: units.length, units: "predictions", files });
  } finally {
    await engine.close();
  }
}

/**
 * pred.py's prompt: the template filled; when its tokens (BOS included, as the tokenizer counts them) exceed
 * `maxLength`, the first and last ⌊maxLength/2⌋ tokens decoded without special tokens and joined; then the chat
 * template for the datasets that take it, or the text as the tokenizer reads it.
 */
export function buildPrompt(engine: Engine, dataset: Pick<DatasetConfig, "prompt" | "chat">, item: LongBenchItem, maxLength: number) {
  let text = fillTemplate(dataset.prompt, item.fields);
  const whole = engine.tokenizeDocument(text);
  const truncatedFrom = whole.length > maxLength ? whole.length : null;
  if (truncatedFrom !== null) {
    const [head, tail] = truncateMiddle(whole, maxLength);
    text = engine.detokenizeText(head) + engine.detokenizeText(tail);
  }
  const chat = dataset.chat ? chatTurnTokens(engine.llamaModel, text) : undefined;
  const tokens = chat?.tokens ?? (truncatedFrom === null ? whole : engine.tokenizeDocument(text));
  return { tokens, truncatedFrom, format: chat?.format ?? "plain" };
}

/** The cache of one prompt under one policy: the paper's budget (sinks included) or a fixed --window. */
function planUnit(prompt: Prompt, name: PolicyName, options: LongBenchOptions, config: LongBenchConfig, maxLength: number): Unit | string {
  const budget: LongBenchBudget = options.window === undefined ? "quarter-pow2" : "fixed";
  const defaultStride = (window: number) => options.stride ?? Math.max(1, Math.min(config.defaults.stride, Math.floor(window / 2)));
  if (name === "full") return { prompt, policy: { name, sinks: 0, window: 0, cascades: 1 }, budget, stride: options.stride ?? config.defaults.stride };
  const cascades = isCascading(name) ? options.cascades : 1;
  let window = options.window ?? quarterPowerOfTwoBudget(prompt.tokens.length, maxLength) - options.sinks;
  window -= window % cascades;
  if (window < cascades)
    return `${prompt.dataset} item ${prompt.item.index} (${prompt.tokens.length} tokens) under ${name}: no window left after ${options.sinks} sinks`;
  return { prompt, policy: { name, sinks: options.sinks, window, cascades }, budget, stride: defaultStride(window) };
}

/**
 * Runs units `parallel` at a time (p-limit), each reporting its prefill to a sum the reporter shows. Stops starting
 * units once the user interrupts or one unit fails; waits for the running ones, then rethrows the failure.
 */
async function runSideBySide(
  units: readonly Unit[],
  parallel: number,
  settings: RunSettings,
  run: (unit: Unit, onProgress: (done: number) => void) => Promise<LongBenchRecord | undefined>,
  finished: (record: LongBenchRecord) => void,
): Promise<void> {
  const limit = pLimit(parallel);
  const inFlight = new Map<Unit, number>();
  const label = (unit: Unit) => `${unit.prompt.dataset} #${unit.prompt.item.index} · ${unit.policy.name}`;
  const report = () =>
    settings.reporter.progress({ unitTokensDone: [...inFlight.values()].reduce((a, b) => a + b, 0), current: [...inFlight.keys()].map(label).join(", ") });
  let failure: { error: unknown } | undefined;
  await Promise.all(
    units.map((unit) =>
      limit(async () => {
        if (settings.signal.aborted || failure) return;
        inFlight.set(unit, 0);
        try {
          const record = await run(unit, (done) => {
            inFlight.set(unit, done);
            report();
          });
          inFlight.delete(unit);
          if (!record) return;
          finished(record);
          // The line for a finished unit names that unit, not the ones still running.
          settings.reporter.progress({ unitTokensDone: [...inFlight.values()].reduce((a, b) => a + b, 0), current: label(unit) });
          settings.reporter.unitDone({ promptTokens: record.promptTokens });
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

/** Prefill of one prompt under one policy, then greedy generation; undefined when interrupted. */
async function runUnit(engine: Engine, unit: Unit, dataset: DatasetConfig, runId: string, settings: RunSettings, onProgress: (done: number) => void): Promise<LongBenchRecord | undefined> {
  const { prompt } = unit;
  const stream = await engine.openStream({ policy: createPolicy(unit.policy), stride: unit.stride, totalTokens: prompt.tokens.length + dataset.maxNewTokens });
  try {
    // samsum: pred.py adds the newline token to eos_token_id and sets min_length so that the answer cannot start with either.
    const newline = engine.tokenize("\n").at(-1)!;
    const eos = engine.llamaModel.tokens.eos;
    const neverNext = dataset.stopAtNewline ? [newline, ...(eos === null ? [] : [eos])] : undefined;
    const started = performance.now();
    const fed = await feedWithProgress(stream, prompt.tokens, settings, "", { neverNext, onProgress });
    if (!fed) return undefined;
    const prefillMs = performance.now() - started;
    const generated = await stream.generate({ maxTokens: dataset.maxNewTokens, stopTokens: dataset.stopAtNewline ? [newline] : undefined });
    const generateMs = performance.now() - started - prefillMs;
    const pred = engine.detokenizeText(generated);
    const { answers, all_classes, length } = prompt.item;
    const { name, sinks, window, cascades } = unit.policy;
    return {
      task: "longbench",
      runId,
      dataset: prompt.dataset,
      item: prompt.item.index,
      id: prompt.item.id,
      policy: { name, sinks, window, cascades, stride: unit.stride, scores: stream.rankedByAttention, budget: unit.budget },
      model: recordedModel(engine),
      promptTokens: prompt.tokens.length,
      truncatedFrom: prompt.truncatedFrom,
      generatedTokens: generated.length,
      pred,
      answers,
      all_classes,
      length,
      score: itemScores([{ pred, answers, all_classes, length }], dataset)[0]!,
      ...streamOutcome(engine, stream, prefillMs, generateMs),
    };
  } finally {
    await engine.closeStream(stream);
  }
}
