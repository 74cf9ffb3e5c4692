import { TokenBias, type ControlledEvaluateInputItem, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from "node-llama-cpp";
import { UsageError } from "../errors.js";
import type { CachePolicy } from "../policies/policy.js";
import { policyDefinition } from "../policies/registry.js";
import { CachePositions } from "./cache-positions.js";
import { decodeTimings, discardQueuedEviction, evictBatched, queueEviction, takeAttention, takeQueuedEviction, type EvictionPath } from "./extension-runtime.js";

/** Said once per process: llama.cpp declined the batched eviction (a memory other than the unified KV cache). */
let declineNoted = false;
/** Said once per process: llama.cpp measured no attention for this model (its attention is not the unified KV cache's). */
let noAttentionNoted = false;

/** Where the time of a stream went, in milliseconds. */
export interface StreamTimings {
  /** Model evaluation of the chunks (llama.cpp decode plus reading the requested logits). */
  evaluateMs: number;
  /** The policy's decision after each chunk (with reading llama.cpp's attention measurement, when it ranks by it). */
  policyMs: number;
  /**
   * Applying the decision to the KV cache outside llama.cpp's decode (removal and renumbering, or queuing it into the
   * next decode; the keys' re-rotation runs in the next evaluation).
   */
  eraseMs: number;
  /** The eviction llama.cpp applied at the end of a chunk's decode while the backends computed: part of evaluateMs. */
  evictInDecodeMs: number;
}

export interface StreamCounters {
  /** Tokens evaluated so far (prompt and generated). */
  tokensSeen: number;
  /** Tokens removed from the cache so far. */
  evicted: number;
  chunks: number;
}

export interface FeedOptions {
  /** Compute log p(token[i+1] | …) for every fed token but the last. */
  logProbabilities?: boolean;
  /** Called after each chunk with the number of tokens of this feed done so far. */
  onChunk?: (done: number, total: number) => void;
  /** Tokens the first generated token may not be (transformers' min_length: end-of-text held back one step). */
  neverNext?: readonly number[];
}

export interface FeedResult {
  /** `logProbabilities[i]` is log p(tokens[i+1]); empty unless asked for. */
  logProbabilities: Float64Array;
}

export interface GenerateOptions {
  maxTokens: number;
  /** Stop after one of these tokens (the token is kept), as transformers' extra eos_token_id values do. */
  stopTokens?: readonly number[];
}

/** Raised when node-llama-cpp would evict on its own: that would silently change what the policy measures. */
export class ContextShiftError extends Error {
  override readonly name = "ContextShiftError";
}

/**
 * One token stream through a bounded cache: chunks of `stride` tokens are evaluated, then the policy decides
 * which tokens leave and the engine removes them, compacting the positions of the kept tokens (docs/protocols.md §1), in
 * one call: the batched-eviction extension where the binaries have it, else node-llama-cpp's
 * `eraseContextTokenRanges`. A policy that needs nothing from the chunk (no attention) decides before it where the
 * binaries can evict inside the decode (eviction-in-decode): llama.cpp then removes the tokens while the GPU still
 * computes the chunk, with the same result. Generation is the same with chunks of one token, evicting after each.
 */
export class PolicyStream {
  readonly timings: StreamTimings = { evaluateMs: 0, policyMs: 0, eraseMs: 0, evictInDecodeMs: 0 };
  readonly counters: StreamCounters = { tokensSeen: 0, evicted: 0, chunks: 0 };
  /** The stream index of every token the cache holds. */
  private readonly positions = new CachePositions();
  /** Greedy choice for the token after the last one fed; null before any feed. */
  private nextToken: Token | null = null;
  /** How evictions leave the cache; falls back to stock once llama.cpp declines the batched eviction (it would every time). */
  private eviction: EvictionPath;
  /** Whether every chunk so far gave the policy llama.cpp's attention measurement (false: the strided cascade). */
  private attentionGiven: boolean;

  constructor(
    private readonly sequence: LlamaContextSequence,
    private readonly model: LlamaModel,
    readonly policy: CachePolicy,
    readonly stride: number,
    eviction: EvictionPath = "stock",
    attentionScores = false,
  ) {
    this.eviction = eviction;
    this.attentionGiven = attentionScores;
  }

  /** Whether the policy ranked tokens by measured attention in every chunk (what a record's `scores` says). */
  get rankedByAttention(): boolean {
    return this.attentionGiven;
  }

  /** Tokens the KV cache holds now. */
  get cachedTokens(): number {
    return this.sequence.nextTokenIndex;
  }

  /**
   * Milliseconds per phase of llama.cpp's decode (extensions.DECODE_PHASES) since the stream opened, where the
   * engine times them (the decode-timings extension); else undefined.
   */
  decodePhasesMs(): number[] | undefined {
    return decodeTimings(this.sequence.context);
  }

  /** The context whose KV cache this stream's sequence lives in. */
  get context(): LlamaContext {
    return this.sequence.context;
  }

  /**
   * Which of the stream's tokens [start, end) the cache holds now (stream indices, ascending; the stream counts
   * every token fed or generated since the stream opened).
   */
  retained(start: number, end: number): number[] {
    return this.positions.retained(start, end);
  }

  /** The token ids the KV cache holds now, in cache order. */
  cachedTokenIds(): number[] {
    return [...this.sequence.contextTokens];
  }

  async dispose(): Promise<void> {
    discardQueuedEviction(this.sequence);
    await this.sequence.dispose();
  }

  async feed(tokens: readonly number[], options: FeedOptions = {}): Promise<FeedResult> {
    const logProbabilities = new Float64Array(options.logProbabilities ? Math.max(0, tokens.length - 1) : 0);
    for (let start = 0; start < tokens.length; start += this.stride) {
      const end = Math.min(tokens.length, start + this.stride);
      const input: ControlledEvaluateInputItem[] = [];
      for (let index = start; index < end; index++) {
        const token = tokens[index]! as Token;
        if (index === tokens.length - 1) input.push([token, { generateNext: { token: true, options: this.nextOptions(options.neverNext) } }]);
        else if (options.logProbabilities)
          // The greedy choice is the max logit; node-llama-cpp's own `includeMax` adds the max only when it
          // is already in the filter (3.22.1), so the selected token stands in for it.
          input.push([token, { generateNext: { logits: { filter: { tokens: [tokens[index + 1]! as Token], includeSelected: true } }, totalLogitWeight: true } }]);
        else input.push(token);
      }
      const queued = this.decideBeforeChunk(end - start);
      const outputs = await this.evaluateObserved(input).catch((error: unknown) => {
        if (queued) discardQueuedEviction(this.sequence);
        throw error;
      });
      if (options.logProbabilities) {
        for (let index = start; index < end && index < tokens.length - 1; index++) {
          const next = outputs[index - start]?.next;
          logProbabilities[index] = logProbabilityOf(tokens[index + 1]! as Token, next?.logits, next?.totalLogitWeight);
        }
      }
      if (end === tokens.length) this.nextToken = outputs[end - 1 - start]?.next.token ?? null;
      if (queued) await this.finishQueuedEviction(queued);
      else await this.applyPolicy(end - start);
      options.onChunk?.(end, tokens.length);
    }
    return { logProbabilities };
  }

  /** Greedy decoding under the policy, continuing from the last fed token. Returns the generated tokens. */
  async generate(options: GenerateOptions): Promise<number[]> {
    const generated: Token[] = [];
    while (generated.length < options.maxTokens && this.nextToken !== null && !this.model.isEogToken(this.nextToken)) {
      const token = this.nextToken;
      generated.push(token);
      if (options.stopTokens?.includes(token)) break;
      if (generated.length === options.maxTokens) break;
      const [output] = await this.evaluateChunk([[token, { generateNext: { token: true } }]]);
      this.nextToken = output?.next.token ?? null;
      await this.applyPolicy(1);
    }
    return generated;
  }

  private nextOptions(never: readonly number[] | undefined) {
    if (never === undefined || never.length === 0) return undefined;
    return { tokenBias: new TokenBias(this.model.tokenizer).set(never as Token[], "never") };
  }

  /**
   * One chunk; where the policy observes only its last queries (SnapKV), those go in a decode of their own after the
   * rest, whose attention is dropped: what the policy then reads is exactly the attention of the observed queries.
   */
  private async evaluateObserved(input: ControlledEvaluateInputItem[]) {
    const observed = this.policy.observedQueries;
    if (!this.attentionGiven || observed === undefined || input.length <= observed) return this.evaluateChunk(input);
    const split = input.length - observed;
    const first = await this.evaluateChunk(input.slice(0, split), false);
    takeAttention(this.sequence);
    const last = await this.evaluateChunk(input.slice(split));
    return Array.from({ length: input.length }, (_, index) => (index < split ? first[index] : last[index - split]));
  }

  private async evaluateChunk(input: ControlledEvaluateInputItem[], wholeChunk = true) {
    const free = this.sequence.contextSize - 1 - this.sequence.nextTokenIndex;
    if (input.length > free)
      throw new ContextShiftError(`chunk of ${input.length} tokens does not fit the ${free} free cells of the context; node-llama-cpp would shift the context`);
    const started = performance.now();
    const outputs = await this.sequence.controlledEvaluate(input);
    this.timings.evaluateMs += performance.now() - started;
    this.counters.tokensSeen += input.length;
    this.positions.append(input.length);
    if (wholeChunk) this.counters.chunks += 1;
    return outputs;
  }

  private async applyPolicy(appended: number): Promise<void> {
    const decided = performance.now();
    const evict = this.policy.update(appended, this.attentionGiven ? this.attention() : undefined);
    this.timings.policyMs += performance.now() - decided;
    await this.evict(evict);
  }

  /**
   * Before a chunk of `appended` tokens: where the policy's decision cannot depend on the chunk (no attention) and
   * llama.cpp can evict inside the decode, decides now and queues the eviction for the end of the chunk's decode.
   * Undefined when the policy decides after the chunk.
   */
  private decideBeforeChunk(appended: number): number[] | undefined {
    if (this.eviction !== "in-decode" || this.attentionGiven) return undefined;
    const decided = performance.now();
    const evict = this.policy.update(appended);
    const queuing = performance.now();
    this.timings.policyMs += queuing - decided;
    // not queued (token predictions loaded): finishQueuedEviction finds nothing applied and evicts after the chunk
    if (evict.length > 0) queueEviction(this.sequence, evict, this.sequence.nextTokenIndex + appended - 1);
    this.timings.eraseMs += performance.now() - queuing;
    return evict;
  }

  /** After the chunk: the queued eviction's outcome, and the eviction done now where llama.cpp did not apply it. */
  private async finishQueuedEviction(evict: number[]): Promise<void> {
    if (evict.length === 0) return;
    const started = performance.now();
    const expected = this.sequence.nextTokenIndex - evict.length;
    const outcome = takeQueuedEviction(this.sequence, evict);
    this.timings.eraseMs += performance.now() - started;
    if (!outcome.applied) {
      if (outcome.declined) this.declined();
      return this.evict(evict);
    }
    this.timings.evictInDecodeMs += outcome.nativeMs;
    this.evicted(evict, expected);
  }

  /** Removes the positions from the cache now, in one pass where the binaries can, else by ranges. */
  private async evict(evict: readonly number[]): Promise<void> {
    if (evict.length === 0) return;
    const erasing = performance.now();
    const expected = this.sequence.nextTokenIndex - evict.length;
    if (!(this.eviction !== "stock" && this.evictInOnePass(evict))) await this.sequence.eraseContextTokenRanges(toRanges(evict));
    this.timings.eraseMs += performance.now() - erasing;
    this.evicted(evict, expected);
  }

  /** Counts an eviction, and checks that the cache holds what the policy left. */
  private evicted(positions: readonly number[], expected: number): void {
    this.counters.evicted += positions.length;
    this.positions.evict(positions);
    if (this.sequence.nextTokenIndex !== expected || this.positions.length !== expected)
      throw new ContextShiftError(`cache holds ${this.sequence.nextTokenIndex} tokens after eviction (${this.positions.length} by the stream's count), expected ${expected}`);
  }

  private attention() {
    const measured = takeAttention(this.sequence);
    if (measured !== undefined) return measured;
    const { name } = this.policy.config;
    if (policyDefinition(name).withoutSignals === undefined) throw new UsageError(`llama.cpp measured no attention for this model's cache, and ${name} ranks tokens by it`);
    this.attentionGiven = false;
    if (!noAttentionNoted) process.stderr.write("note: llama.cpp measured no attention for this model's cache; the cascade runs strided\n");
    noAttentionNoted = true;
    return undefined;
  }

  private evictInOnePass(positions: readonly number[]): boolean {
    if (evictBatched(this.sequence, positions)) return true;
    this.declined();
    return false;
  }

  private declined(): void {
    this.eviction = "stock";
    if (!declineNoted) process.stderr.write("note: llama.cpp declined the batched eviction for this model's cache; erasing by ranges (stock path)\n");
    declineNoted = true;
  }
}

/** Ascending positions → the fewest half-open ranges covering them. */
export function toRanges(positions: readonly number[]): { start: number; end: number }[] {
  const ranges: { start: number; end: number }[] = [];
  for (const position of positions) {
    const last = ranges[ranges.length - 1];
    if (last && last.end === position) last.end += 1;
    else ranges.push({ start: position, end: position + 1 });
  }
  return ranges;
}

/** log softmax of one token from its logit, the max logit and Σ exp(logit − max): no full-vocabulary map. */
function logProbabilityOf(token: Token, logits: Map<Token, number> | undefined, totalWeight: number | undefined): number {
  const logit = logits?.get(token);
  if (logit === undefined || totalWeight === undefined || !logits) return Number.NaN;
  const maxLogit = Math.max(...logits.values());
  return logit - maxLogit - Math.log(totalWeight);
}
