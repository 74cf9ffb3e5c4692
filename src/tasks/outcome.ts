/** The parts of a record every task writes the same way: the model, the hardware, and a finished stream's outcome. */
import type { Engine } from "../engine/engine.js";
import type { PolicyStream } from "../engine/stream.js";

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
