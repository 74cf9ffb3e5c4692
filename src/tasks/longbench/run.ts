/**
 * LongBench generation as the official pred.py does it (docs/protocols.md §4), under each cache policy: the prompt filled,
 * truncated in the middle to the model's budget, framed by the chat template, answered greedily; predictions
 * written in the official format and scored by the official rules.
 */
import { join } from "node:path";
import type { Engine } from "../../engine/engine.js";
import { threadsPerContext } from "../../engine/llama.js";
import { chatTurnTokens } from "../../engine/prompt.js";
import { UsageError } from "../../errors.js";
import type { PolicyConfig, PolicyName } from "../../policies/policy.js";
import { createPolicy, isBounded, policyConfig, policyKey, policyLabel, policyRecord, usesParameter } from "../../policies/registry.js";
import type { RunFolder } from "../../results/run-folder.js";
import { budgetCaches, givenBudget } from "../budget.js";
import { defaultStride, quarterPowerOfTwoBudget, type BudgetedCacheOptions } from "../cache-fit.js";
import { recordedModel, streamOutcome } from "../outcome.js";
import type { Task, TaskOptions, UnitContext } from "../runner.js";
import { defaultMaxLength, loadLongBenchConfig, type DatasetConfig, type LongBenchConfig } from "./config.js";
import { readLongBenchItems, type LongBenchItem } from "./data.js";
import { fillTemplate, truncateMiddle } from "./prompt.js";
import { longBenchETables, longBenchTables, writePredictionFiles, type LongBenchBudget, type LongBenchRecord } from "./record.js";
import { itemScores, writeResultJson } from "./score.js";

/** What a LongBench run is asked to do (budget min(2^⌊log2(n/4)⌋, max length) per prompt unless a window or --budget is fixed); stored in `run.json` so that `--resume` repeats it. */
export interface LongBenchOptions extends BudgetedCacheOptions, TaskOptions {
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
  /** What chose the cache (the record's `policy.budget`); none for the full cache of a --budget run. */
  budget?: LongBenchBudget;
  stride: number;
}

/** One item under one policy (and --budget: a budget rule is not part of the key). */
const recordKey = ({ dataset, item, policy }: { dataset: string; item: number; policy: { name: PolicyName; budget?: unknown } }) =>
  `${dataset}|${item}|${policyKey(policy.name, givenBudget(policy))}`;

/** The items of each dataset, in the official order. */
type Prepared = Map<string, LongBenchItem[]>;

export const longBenchTask: Task<LongBenchOptions, Prepared, Unit, LongBenchRecord> = {
  name: "longbench",
  recordsName: "predictions",
  async prepare(options, settings) {
    const itemsByDataset: Prepared = new Map();
    for (const dataset of options.datasets)
      itemsByDataset.set(dataset, (await readLongBenchItems(options.source, dataset, options.e, { datasetsDir: settings.datasetsDir })).slice(0, options.samples));
    return itemsByDataset;
  },
  engineOptions: (options, settings) => ({ threads: threadsPerContext(options.parallel, settings.threads) }),
  async plan(engine, itemsByDataset, options) {
    const config = loadLongBenchConfig();
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
      for (const unit of promptUnits(prompt, options, config, maxLength)) {
        if (typeof unit === "string") skipped.push(unit);
        else units.push(unit);
      }
    if (units.length === 0) throw new UsageError(`no item can be run: ${skipped.slice(0, 3).join("; ")}`);
    const notes: string[] = [];
    for (const unit of units)
      notes.push(...engine.validate({ policy: createPolicy(unit.policy), stride: unit.stride, totalTokens: unit.prompt.tokens.length + config.datasets[unit.prompt.dataset]!.maxNewTokens }));
    const truncated = prompts.filter((prompt) => prompt.truncatedFrom !== null).length;
    const tableNotes = [
      `max length ${maxLength} tokens${options.maxLength === undefined ? ` (model's ${engine.modelInfo.trainContextSize}-token context, nominal thousands less ${config.defaults.generationReserve})` : ""}; ${truncated} of ${prompts.length} prompts truncated in the middle`,
      format === "plain"
        ? "no chat template in the model: prompts as they are (pred.py's build_chat for a model it does not know)"
        : `chat template ${format} on all but trec, triviaqa, samsum, lsht, lcc, repobench-p`,
      ...(skipped.length > 0 ? [`skipped ${skipped.length}: ${skipped.slice(0, 5).join("; ")}${skipped.length > 5 ? "; …" : ""}`] : []),
    ];
    return {
      units,
      manifest: { maxLength, promptFormat: format, skipped },
      notes,
      titleName: `longbench${options.e ? "-e" : ""}`,
      titleParts: [`${options.parallel} at once`],
      parallel: options.parallel,
      tables: (runId, records) => (options.e ? longBenchETables : longBenchTables)(runId, records, options.datasets, config, tableNotes),
      runUnit: (unit, context) => runUnit(unit, config.datasets[unit.prompt.dataset]!, context),
      finish: (folder, records) => {
        const predictionFolders = writePredictionFiles(folder.path, records, options.datasets, options.e);
        for (const predictions of predictionFolders) writeResultJson(predictions, options.e);
        return { files: predictionFolders.length > 0 ? `predictions and result.json in ${join(options.e ? "pred_e" : "pred", options.budgets === undefined ? "POLICY" : "POLICY[@BUDGET]")}/` : undefined };
      },
    };
  },
  unitKey: (unit) => recordKey({ dataset: unit.prompt.dataset, item: unit.prompt.item.index, policy: { name: unit.policy.name, budget: unit.budget } }),
  recordKey,
  unitTokens: (unit) => unit.prompt.tokens.length,
  unitLabel: (unit) => `${unit.prompt.dataset} #${unit.prompt.item.index} · ${policyLabel(unit.policy.name, givenBudget(unit))}`,
  savedTables: (folders: readonly RunFolder[]) =>
    folders.flatMap((folder) => {
      const { options, maxLength } = folder.manifest<{ options: LongBenchOptions; maxLength: number }>();
      const tables = options.e ? longBenchETables : longBenchTables;
      return tables(folder.id, folder.records<LongBenchRecord>(recordKey), options.datasets, loadLongBenchConfig(), [`max length ${maxLength} tokens`]);
    }),
};

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

/**
 * The caches of one prompt: each policy under the paper's budget (sinks included) or a fixed --window, or each
 * bounded policy under each --budget (a share of this prompt, or tokens) and the full cache once; a string (why)
 * for a cache that leaves no window: that unit is skipped.
 */
function promptUnits(prompt: Prompt, options: LongBenchOptions, config: LongBenchConfig, maxLength: number): (Unit | string)[] {
  if (options.budgets === undefined) {
    const budget: LongBenchBudget = options.window === undefined ? "quarter-pow2" : "fixed";
    const window = options.window ?? quarterPowerOfTwoBudget(prompt.tokens.length, maxLength) - options.sinks;
    return options.policies.map((name) => planUnit(prompt, name, budget, window, options, config));
  }
  return budgetCaches({ ...options, budgets: options.budgets }, prompt.tokens.length, options.sinks).flatMap((cache) =>
    cache.policies.map((name) => (isBounded(name) ? planUnit(prompt, name, cache.budget, cache.window, options, config) : planUnit(prompt, name, undefined, 0, options, config))),
  );
}

/** The cache of one prompt under one policy, with the window its budget leaves (or why it leaves none). */
function planUnit(prompt: Prompt, name: PolicyName, budget: LongBenchBudget | undefined, size: number | string, options: LongBenchOptions, config: LongBenchConfig): Unit | string {
  if (!isBounded(name)) return { prompt, policy: { name, sinks: 0, window: 0, cascades: 1 }, ...(budget === undefined ? {} : { budget }), stride: options.stride ?? config.defaults.stride };
  const cascades = usesParameter(name, "cascades") ? options.cascades : 1;
  const window = typeof size === "string" ? 0 : size - (size % cascades);
  if (window < cascades)
    return `${prompt.dataset} item ${prompt.item.index} (${prompt.tokens.length} tokens) under ${name}: ${typeof size === "string" ? size : `no window left after ${options.sinks} sinks`}`;
  return { prompt, policy: policyConfig(name, { sinks: options.sinks, window, cascades }, options), budget, stride: defaultStride(window, config.defaults.stride, options.stride) };
}

/** Prefill of one prompt under one policy, then greedy generation; false when interrupted. */
async function runUnit(unit: Unit, dataset: DatasetConfig, context: UnitContext<LongBenchRecord>): Promise<boolean> {
  const { engine } = context;
  const { prompt } = unit;
  const stream = await engine.openStream({ policy: createPolicy(unit.policy), stride: unit.stride, totalTokens: prompt.tokens.length + dataset.maxNewTokens });
  try {
    // samsum: pred.py adds the newline token to eos_token_id and sets min_length so that the answer cannot start with either.
    const newline = engine.tokenize("\n").at(-1)!;
    const eos = engine.llamaModel.tokens.eos;
    const neverNext = dataset.stopAtNewline ? [newline, ...(eos === null ? [] : [eos])] : undefined;
    const started = performance.now();
    if (!(await context.feed(stream, prompt.tokens, { neverNext }))) return false;
    const prefillMs = performance.now() - started;
    const generated = await stream.generate({ maxTokens: dataset.maxNewTokens, stopTokens: dataset.stopAtNewline ? [newline] : undefined });
    const generateMs = performance.now() - started - prefillMs;
    const pred = engine.detokenizeText(generated);
    const { answers, all_classes, length } = prompt.item;
    context.save(
      {
        task: "longbench",
        runId: context.runId,
        dataset: prompt.dataset,
        item: prompt.item.index,
        id: prompt.item.id,
        policy: policyRecord(unit.policy, unit.stride, stream.rankedByAttention, unit.budget),
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
      },
      prompt.tokens.length,
    );
    return true;
  } finally {
    await engine.closeStream(stream);
  }
}
