import { UsageError } from "../../errors.js";
import { Random, seedFrom } from "../../util/random.js";
import type { PasskeyConfig } from "./config.js";

export type Filler = "words" | "grass";
export const FILLERS: readonly Filler[] = ["words", "grass"];

export interface SampleRequest {
  /** Prompt length in tokens, exactly. */
  length: number;
  /** Depth bin d: the key block starts at a depth drawn uniformly in [d − width, d] of the prompt. */
  depthBin: number;
  /** Index of the sample within its (length, depth) cell. */
  index: number;
  seed: number;
  filler: Filler;
}

export interface PasskeySample {
  id: string;
  request: SampleRequest;
  key: string;
  /** Token index where the key block starts in the prompt. */
  keyPosition: number;
  /** Tokens of the key block (the sentence that states the key), from keyPosition. */
  keyLength: number;
  /** keyPosition / length. */
  depth: number;
  tokens: number[];
}

/** The tokenizer pieces a builder needs; the engine provides them from the model. */
export interface PromptTokens {
  prefix: readonly number[];
  suffix: readonly number[];
  /** Tokens of text continuing a sequence (no added BOS or leading space). */
  continuation: (text: string) => number[];
}

/**
 * Builds passkey prompts of an exact token length from whole filler units (words or "grass" sentences),
 * deterministically from (seed, length, depth bin, index, filler): every policy sees the same samples,
 * and a resumed run rebuilds them identically.
 */
export class HaystackBuilder {
  private readonly unitTokens = new Map<string, number[]>();
  private singleTokenWords: string[] | undefined;

  constructor(
    private readonly config: PasskeyConfig,
    private readonly prompt: PromptTokens,
    private readonly words: readonly string[],
  ) {}

  build(request: SampleRequest): PasskeySample {
    const { length, depthBin, index, seed } = request;
    const rng = new Random(seedFrom(seed, length, depthBin, index, request.filler));
    const key = String(rng.int(10 ** (this.config.keyDigits - 1), 10 ** this.config.keyDigits - 1));
    const keyTokens = this.tokensOf(` ${this.config.keyBlock.replaceAll("{key}", key)}`);
    const frame = this.prompt.prefix.length + this.prompt.suffix.length + keyTokens.length;
    const fillerBudget = length - frame;
    if (fillerBudget < 1) throw new UsageError(`--len ${length} is too short for the passkey prompt, which needs more than ${frame} tokens`);

    const { tokens: filler, boundaries } = this.fill(fillerBudget, request.filler, rng);
    const depthLow = Math.max(0, depthBin - this.config.depthBinWidth);
    const targetDepth = depthLow + rng.uniform() * (depthBin - depthLow);
    const target = targetDepth * length - this.prompt.prefix.length;
    const split = nearest(boundaries, target);

    const tokens = [...this.prompt.prefix, ...filler.slice(0, split), ...keyTokens, ...filler.slice(split), ...this.prompt.suffix];
    const keyPosition = this.prompt.prefix.length + split;
    return {
      id: `${length}-${depthBin}-${index}`,
      request,
      key,
      keyPosition,
      keyLength: keyTokens.length,
      depth: keyPosition / length,
      tokens,
    };
  }

  /** Filler of exactly `budget` tokens and the token offsets where a unit starts (0 and budget included). */
  private fill(budget: number, filler: Filler, rng: Random): { tokens: number[]; boundaries: number[] } {
    const tokens: number[] = [];
    const boundaries = [0];
    let sentence = 0;
    while (tokens.length < budget) {
      const remaining = budget - tokens.length;
      let unit: number[];
      if (filler === "grass") {
        unit = this.tokensOf(` ${this.config.grassFiller[sentence++ % this.config.grassFiller.length]}`).slice(0, remaining);
      } else {
        unit = this.tokensOf(` ${rng.pick(this.words)}`);
        // Near the end, only a word that fits keeps the length exact without cutting a word.
        if (unit.length > remaining) unit = this.tokensOf(` ${rng.pick(this.shortWords())}`).slice(0, remaining);
      }
      tokens.push(...unit);
      boundaries.push(tokens.length);
    }
    return { tokens, boundaries };
  }

  private shortWords(): string[] {
    this.singleTokenWords ??= this.words.filter((word) => this.tokensOf(` ${word}`).length === 1);
    if (this.singleTokenWords.length === 0) this.singleTokenWords = [...this.words];
    return this.singleTokenWords;
  }

  private tokensOf(text: string): number[] {
    let tokens = this.unitTokens.get(text);
    if (!tokens) {
      tokens = this.prompt.continuation(text);
      this.unitTokens.set(text, tokens);
    }
    return tokens;
  }
}

/** The value of `sorted` closest to `target` (ties: the earlier). */
function nearest(sorted: readonly number[], target: number): number {
  let best = sorted[0]!;
  for (const value of sorted) if (Math.abs(value - target) < Math.abs(best - target)) best = value;
  return best;
}

/** Per-digit accuracy of the first digits of the answer against the key (missing digits count as wrong). */
export function scoreAnswer(answer: string, key: string): number {
  const digits = answer.match(/\d/g) ?? [];
  let correct = 0;
  for (let position = 0; position < key.length; position++) if (digits[position] === key[position]) correct += 1;
  return correct / key.length;
}
