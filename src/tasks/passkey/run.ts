/** Passkey retrieval (docs/protocols.md §2): planning the samples × policies, and one sample under one policy. */
import type { Engine } from "../../engine/engine.js";
import { threadsPerContext } from "../../engine/llama.js";
import { framePrompt, tokenizeContinuation } from "../../engine/prompt.js";
import { UsageError } from "../../errors.js";
import type { PolicyConfig, PolicyName } from "../../policies/policy.js";
import { createPolicy, isBounded, policyConfig, policyKey, policyLabel, policyRecord } from "../../policies/registry.js";
import { budgetCaches, requireWindow } from "../budget.js";
import type { RunFolder } from "../../results/run-folder.js";
import { defaultStride, fitWindow, passkeyWindow } from "../cache-fit.js";
import { recordedHardware, recordedModel } from "../outcome.js";
import { formatLength } from "../../util/lengths.js";
import type { Task, TaskOptions, UnitContext } from "../runner.js";
import { loadPasskeyConfig, type PasskeyConfig } from "./config.js";
import { HaystackBuilder, scoreAnswer, type Filler, type PasskeySample } from "./haystack.js";
import { unitKey, type PasskeyRecord } from "./record.js";
import { passkeyTables } from "./summary.js";
import { loadDictionaryWords } from "./words.js";

/** What a passkey run is asked to do; stored in `run.json` so that `--resume` repeats it exactly. */
export interface PasskeyOptions extends TaskOptions {
  lengths: number[];
  depths: number[];
  samples: number;
  seed: number;
  policies: PolicyName[];
  /** Unset: the paper's value, scaled down for short haystacks (see `cacheShape`). */
  sinks?: number;
  window?: number;
  stride?: number;
  cascades: number;
  filler: Filler;
  /** Units streamed at once, each in its own context (absent in runs made before the flag: one). */
  parallel?: number;
  /** --budget as given (shares or token counts, sinks included), instead of --window: one cache per budget. */
  budgets?: string[];
}

interface Unit {
  length: number;
  depthBin: number;
  index: number;
  policy: PolicyConfig;
  stride: number;
  /** Keys per length × depth cell (for the unit's label). */
  keys: number;
  /** The --budget this unit's cache comes from (its label: "25%", "2K"). */
  budget?: string;
}

const sampleId = (unit: Unit) => `${unit.length}-${unit.depthBin}-${unit.index}`;

/**
 * The cache shape for one haystack length. Defaults follow the paper's passkey setting (64 sinks, a 32,768-token
 * window, stride 4,096) and shrink for short haystacks: window = largest power of two ≤ length/4, stride = window/2,
 * so that `--len 4K` still evicts. A default window is also halved until sinks + window + stride fits the model's
 * trained context (`shrunk` says so); a window given with --window is kept as given.
 */
export function cacheShape(length: number, options: PasskeyOptions, config: PasskeyConfig, trainedContext = Infinity) {
  const sinks = options.sinks ?? config.defaults.sinks;
  const strideFor = (window: number) => defaultStride(window, config.defaults.stride, options.stride);
  const fitted = options.window === undefined ? fitWindow(passkeyWindow(length, config.defaults.window), sinks, strideFor, trainedContext) : { window: options.window, shrunk: false };
  return { sinks, window: fitted.window, stride: strideFor(fitted.window), shrunk: fitted.shrunk };
}

/**
 * All units of a run in order, validated before any model is loaded (and again with the model's context). Key by
 * key: every length × depth cell gets its first key before any gets a second, so a run cut short (a device call's
 * limit) still covers the whole grid, with fewer keys per cell. Each sample's policies come one after another, so
 * one haystack serves them all.
 */
export function planUnits(options: PasskeyOptions, config: PasskeyConfig, trainedContext = Infinity): Unit[] {
  const shapes = (length: number) => {
    if (options.budgets === undefined) return [{ ...cacheShape(length, options, config, trainedContext), budget: undefined, names: options.policies }];
    const sinks = options.sinks ?? config.defaults.sinks;
    // the full cache has no budget: it runs with the first one only, once per sample
    return budgetCaches({ ...options, budgets: options.budgets }, length, sinks).map((cache) => {
      const window = requireWindow(cache);
      return { sinks, window, stride: defaultStride(window, config.defaults.stride, options.stride), budget: cache.budget, names: cache.policies };
    });
  };
  const cellsByLength = options.lengths.map((length) =>
    shapes(length).map(({ sinks, window, stride, budget, names }) => {
      const policies = names.map((name) => {
        const policy = policyConfig(name, { sinks, window, cascades: options.cascades }, options);
        const capacity = createPolicy(policy).capacity;
        if (Number.isFinite(capacity) && length <= capacity)
          throw new UsageError(`haystack of ${length} tokens is shorter than the ${name} cache (--sinks ${sinks} + ${budget === undefined ? "--window" : `window of --budget ${budget}:`} ${window} = ${capacity}): nothing would be evicted`);
        return policy;
      });
      return { length, stride, policies, budget };
    }),
  );
  const units: Unit[] = [];
  for (let index = 0; index < options.samples; index++)
    for (const cells of cellsByLength)
      for (const depthBin of options.depths)
        for (const { length, stride, policies, budget } of cells)
          for (const policy of policies) units.push({ length, depthBin, index, policy, stride, keys: options.samples, ...(budget !== undefined && isBounded(policy.name) ? { budget } : {}) });
  return units;
}

/** Haystacks kept for the units running side by side (each sample's policies run one after another). */
class SampleCache {
  private readonly samples = new Map<string, PasskeySample>();

  constructor(private readonly kept: number) {}

  get(id: string, build: () => PasskeySample): PasskeySample {
    let sample = this.samples.get(id);
    if (sample) this.samples.delete(id);
    else sample = build();
    this.samples.set(id, sample);
    while (this.samples.size > this.kept) this.samples.delete(this.samples.keys().next().value!);
    return sample;
  }
}

const recordKey = (record: PasskeyRecord) => unitKey(record.sampleId, policyKey(record.policy.name, record.policy.budget as string | undefined));

export const passkeyTask: Task<PasskeyOptions, PasskeyConfig, Unit, PasskeyRecord> = {
  name: "passkey",
  recordsName: "samples",
  async prepare(options) {
    const config = loadPasskeyConfig();
    planUnits(options, config);
    return config;
  },
  engineOptions: (options, settings) => ({ threads: threadsPerContext(options.parallel ?? 1, settings.threads) }),
  async plan(engine, config, options) {
    const trained = engine.modelInfo.trainContextSize;
    const units = planUnits(options, config, trained);
    const notes: string[] = [];
    if (options.policies.some(isBounded))
      for (const length of options.lengths) {
        const { window, shrunk } = cacheShape(length, options, config, trained);
        if (shrunk) notes.push(`window ${window} at ${length} tokens: the paper's default does not fit the model's ${trained}-token context (sinks + window + stride)`);
      }
    // Everything the model can refuse is checked before a run folder exists.
    for (const unit of units) notes.push(...engine.validate({ policy: createPolicy(unit.policy), stride: unit.stride, totalTokens: unit.length + config.maxNewTokens }));
    const frame = framePrompt(engine.llamaModel, { system: config.system, question: config.question, answerPrefix: config.answerPrefix });
    const builder = new HaystackBuilder(
      config,
      { prefix: frame.prefix, suffix: frame.suffix, continuation: (text) => tokenizeContinuation(engine.llamaModel, text) },
      options.filler === "words" ? loadDictionaryWords(config.wordTiers) : [],
    );
    builder.build({ length: Math.min(...options.lengths), depthBin: options.depths[0]!, index: 0, seed: options.seed, filler: options.filler });
    const parallel = options.parallel ?? 1;
    const samples = new SampleCache(parallel + 1);
    return {
      units,
      notes,
      titleParts: [`prompt format ${frame.format}`, ...(parallel > 1 ? [`${parallel} at once`] : [])],
      parallel,
      tables: (runId, records) => passkeyTables([{ runId, records }]),
      runUnit: async (unit, context) => {
        const sample = samples.get(sampleId(unit), () =>
          builder.build({ length: unit.length, depthBin: unit.depthBin, index: unit.index, seed: options.seed, filler: options.filler }),
        );
        return runUnit(unit, sample, options, config, context);
      },
    };
  },
  unitKey: (unit) => unitKey(sampleId(unit), policyKey(unit.policy.name, unit.budget)),
  recordKey,
  unitTokens: (unit) => unit.length,
  unitLabel: (unit) => `${formatLength(unit.length)} · depth ≤${unit.depthBin} · key ${unit.index + 1}/${unit.keys} · ${policyLabel(unit.policy.name, unit.budget)}`,
  progressName: "records (keys × policies)",
  unitCapacity: (unit) => createPolicy(unit.policy).capacity,
  savedTables: (folders: readonly RunFolder[]) => passkeyTables(folders.map((folder) => ({ runId: folder.id, records: folder.records<PasskeyRecord>(recordKey) }))),
};

/** Streams one sample through one policy and generates the answer; false when interrupted. */
async function runUnit(unit: Unit, sample: PasskeySample, options: PasskeyOptions, config: PasskeyConfig, context: UnitContext<PasskeyRecord>): Promise<boolean> {
  const engine: Engine = context.engine;
  const stream = await engine.openStream({ policy: createPolicy(unit.policy), stride: unit.stride, totalTokens: sample.tokens.length + config.maxNewTokens });
  try {
    const started = performance.now();
    if (!(await context.feed(stream, sample.tokens))) return false;
    const prefillMs = performance.now() - started;
    // what the model can still read of the key when it starts answering
    const keyRetained = stream.retained(sample.keyPosition, sample.keyPosition + sample.keyLength).map((index) => index - sample.keyPosition);
    const answerTokens = await stream.generate({ maxTokens: config.maxNewTokens });
    const generateMs = performance.now() - started - prefillMs;
    const answer = engine.detokenize(answerTokens);
    context.save(
      {
        task: "passkey",
        runId: context.runId,
        sampleId: sample.id,
        length: unit.length,
        depthBin: unit.depthBin,
        index: unit.index,
        seed: options.seed,
        filler: options.filler,
        policy: policyRecord(unit.policy, unit.stride, stream.rankedByAttention, unit.budget),
        model: recordedModel(engine),
        promptTokens: sample.tokens.length,
        keyPosition: sample.keyPosition,
        keyTokens: sample.keyLength,
        keyRetained,
        depth: sample.depth,
        key: sample.key,
        answer,
        score: scoreAnswer(answer, sample.key),
        cachedTokens: stream.cachedTokens,
        evictedTokens: stream.counters.evicted,
        timings: { prefillMs, generateMs, ...stream.timings },
        prefillTokensPerSecond: sample.tokens.length / (prefillMs / 1000),
        hardware: recordedHardware(engine),
        finishedAt: new Date().toISOString(),
      },
      sample.tokens.length,
    );
    return true;
  } finally {
    await engine.closeStream(stream);
  }
}
