import { Engine } from "../../engine/engine.js";
import { UsageError } from "../../errors.js";
import { createPolicy } from "../../policies/index.js";
import type { PolicyConfig, PolicyName } from "../../policies/policy.js";
import type { Table } from "../../printers/table.js";
import type { RunFolder } from "../../results/run-folder.js";
import { loadPasskeyConfig, type PasskeyConfig } from "./config.js";
import { HaystackBuilder, scoreAnswer, type Filler, type PasskeySample } from "./haystack.js";
import { unitKey, type PasskeyRecord } from "./record.js";
import { passkeyTables } from "./summary.js";
import { framePrompt, tokenizeContinuation } from "../../engine/prompt.js";
import { loadDictionaryWords } from "./words.js";
import { feedWithProgress, finishRun, openRunFolder, recordedHardware, recordedModel, type RunSettings } from "../lifecycle.js";

/** What a passkey run is asked to do; stored in `run.json` so that `--resume` repeats it exactly. */
export interface PasskeyOptions {
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
  model: string;
}

interface Unit {
  length: number;
  depthBin: number;
  index: number;
  policy: PolicyConfig;
  stride: number;
}

/**
 * The cache shape for one haystack length. Defaults follow the paper's passkey setting (64 sinks, a 32,768-token
 * window, stride 4,096) and shrink for short haystacks: window = largest power of two ≤ length/4, stride = window/2,
 * so that `--len 4K` still evicts. A default window is also halved until sinks + window + stride fits the model's
 * trained context (`shrunk` says so); a window given with --window is kept as given.
 */
export function cacheShape(length: number, options: PasskeyOptions, config: PasskeyConfig, trainedContext = Infinity) {
  const sinks = options.sinks ?? config.defaults.sinks;
  const strideFor = (window: number) => options.stride ?? Math.max(1, Math.min(config.defaults.stride, window / 2));
  const paperWindow = Math.min(config.defaults.window, 2 ** Math.floor(Math.log2(Math.max(1, length / 4))));
  let window = options.window ?? paperWindow;
  if (options.window === undefined) while (window > 1 && sinks + window + strideFor(window) > trainedContext) window /= 2;
  return { sinks, window, stride: strideFor(window), shrunk: window !== (options.window ?? paperWindow) };
}

/** All units of a run in order, validated before any model is loaded (and again with the model's context). */
export function planUnits(options: PasskeyOptions, config: PasskeyConfig, trainedContext = Infinity): Unit[] {
  const units: Unit[] = [];
  for (const length of options.lengths) {
    const { sinks, window, stride } = cacheShape(length, options, config, trainedContext);
    const policies = options.policies.map((name) => {
      const policy: PolicyConfig = { name, sinks, window, cascades: options.cascades };
      const capacity = createPolicy(policy).capacity;
      if (Number.isFinite(capacity) && length <= capacity)
        throw new UsageError(`haystack of ${length} tokens is shorter than the ${name} cache (--sinks ${sinks} + --window ${window} = ${capacity}): nothing would be evicted`);
      return policy;
    });
    for (const depthBin of options.depths)
      for (let index = 0; index < options.samples; index++) for (const policy of policies) units.push({ length, depthBin, index, policy, stride });
  }
  return units;
}

export async function runPasskey(options: PasskeyOptions, settings: RunSettings, resume?: RunFolder): Promise<void> {
  const config = loadPasskeyConfig();
  planUnits(options, config);
  const engine = await Engine.open({ model: options.model, gpu: settings.gpu, threads: settings.threads, flashAttention: settings.flashAttention });
  try {
    const trained = engine.modelInfo.trainContextSize;
    const units = planUnits(options, config, trained);
    if (options.policies.some((name) => name !== "full"))
      for (const length of options.lengths) {
        const { window, shrunk } = cacheShape(length, options, config, trained);
        if (shrunk) process.stderr.write(`note: window ${window} at ${length} tokens: the paper's default does not fit the model's ${trained}-token context (sinks + window + stride)\n`);
      }
    // Everything the model can refuse is checked before a run folder exists.
    const warnings = new Set<string>();
    for (const unit of units) {
      for (const note of engine.validate({ policy: createPolicy(unit.policy), stride: unit.stride, totalTokens: unit.length + config.maxNewTokens })) warnings.add(note);
    }
    const frame = framePrompt(engine.llamaModel, { system: config.system, question: config.question, answerPrefix: config.answerPrefix });
    const builder = new HaystackBuilder(
      config,
      { prefix: frame.prefix, suffix: frame.suffix, continuation: (text) => tokenizeContinuation(engine.llamaModel, text) },
      options.filler === "words" ? loadDictionaryWords(config.wordTiers) : [],
    );
    builder.build({ length: Math.min(...options.lengths), depthBin: options.depths[0]!, index: 0, seed: options.seed, filler: options.filler });
    for (const warning of warnings) process.stderr.write(`note: ${warning}\n`);
    const folder = openRunFolder("passkey", engine, settings, { options }, resume);
    const records = folder.records<PasskeyRecord>();
    const done = new Set(records.map((record) => unitKey(record.sampleId, record.policy.name)));
    const pending = units.filter((unit) => !done.has(unitKey(`${unit.length}-${unit.depthBin}-${unit.index}`, unit.policy.name)));

    const tables = (): Table[] => passkeyTables([{ runId: folder.id, records }]);
    settings.reporter.start({
      title: `passkey · ${engine.modelInfo.name} · ${engine.hardware.gpu || "cpu"} · prompt format ${frame.format} · run ${folder.id}`,
      totalUnits: units.length,
      doneUnits: units.length - pending.length,
      totalTokens: pending.reduce((sum, unit) => sum + unit.length, 0),
      tables,
    });

    let sample: PasskeySample | undefined;
    for (const unit of pending) {
      if (settings.signal.aborted) break;
      const sampleId = `${unit.length}-${unit.depthBin}-${unit.index}`;
      if (sample?.id !== sampleId)
        sample = builder.build({ length: unit.length, depthBin: unit.depthBin, index: unit.index, seed: options.seed, filler: options.filler });
      const record = await runUnit(engine, unit, sample, options, config, folder.id, settings);
      if (!record) break;
      folder.append(record);
      records.push(record);
      settings.reporter.unitDone(record);
    }
    settings.reporter.stop();
    finishRun(folder, tables(), settings, { task: "passkey", done: records.length, total: units.length, units: "samples" });
  } finally {
    await engine.close();
  }
}

/** Streams one sample through one policy and generates the answer; undefined when interrupted. */
async function runUnit(
  engine: Engine,
  unit: Unit,
  sample: PasskeySample,
  options: PasskeyOptions,
  config: PasskeyConfig,
  runId: string,
  settings: RunSettings,
): Promise<PasskeyRecord | undefined> {
  const policy = createPolicy(unit.policy);
  const stream = await engine.openStream({ policy, stride: unit.stride, totalTokens: sample.tokens.length + config.maxNewTokens });
  try {
    const started = performance.now();
    if (!(await feedWithProgress(stream, sample.tokens, settings, `${sample.id} · ${unit.policy.name}`))) return undefined;
    const prefillMs = performance.now() - started;
    const answerTokens = await stream.generate({ maxTokens: config.maxNewTokens });
    const generateMs = performance.now() - started - prefillMs;
    const answer = engine.detokenize(answerTokens);
    const { sinks, window, cascades } = unit.policy;
    return {
      task: "passkey",
      runId,
      sampleId: sample.id,
      length: unit.length,
      depthBin: unit.depthBin,
      index: unit.index,
      seed: options.seed,
      filler: options.filler,
      policy: { name: unit.policy.name, sinks, window, cascades, stride: unit.stride, scores: stream.rankedByAttention },
      model: recordedModel(engine),
      promptTokens: sample.tokens.length,
      keyPosition: sample.keyPosition,
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
    };
  } finally {
    await engine.closeStream(stream);
  }
}
