/**
 * A cache policy decides which tokens stay in a bounded KV cache (docs/protocols.md §1). Policies are pure: they
 * see only counts and optional importance scores, never llama.cpp; the engine applies their decisions.
 *
 * The cache always holds tokens in stream order, so a token is named by its position in the cache.
 *
 * Each policy is one module exporting a `PolicyDefinition` (what it is, which parameters it reads, what signals it
 * needs) and the registry (`registry.ts`) lists them; everything else (the CLI's flags, validation, tables) is
 * derived from the definitions.
 */

/** A policy's name as the CLI, the run folders and the tables spell it; one of the registry's. */
export type PolicyName = string;

/** What a policy can ask the engine to measure for it. */
export type Signal = "attention-scores";

/** One parameter of a policy: its key in the config and the records, and its CLI flag. */
export interface PolicyParameter {
  readonly key: string;
  readonly flag: string;
  readonly help: string;
  /** Smallest allowed value of a whole-number parameter. */
  readonly minimum: number;
  /** A named choice instead of a number: the names allowed. */
  readonly choices?: readonly string[];
  /** The value where neither the command nor the task sets one. */
  readonly default?: number | string;
}

/**
 * Everything that determines a policy's decisions; recorded with every result. `sinks`, `window` and `cascades`
 * are in every config (a policy that does not read one ignores it); a policy's own parameters join them by key.
 */
export interface PolicyConfig {
  name: PolicyName;
  /** First tokens of the stream that are never evicted. */
  sinks: number;
  /** Tokens kept after the sinks. */
  window: number;
  /** Number of sub-caches of `window / cascades` slots (1 equals sink-window). */
  cascades: number;
  [parameter: string]: unknown;
}

/** Everything about the policy as it ran, so a record is meaningful on its own. */
export interface PolicyRecord extends PolicyConfig {
  stride: number;
  /** Whether attention scores ranked tokens (false: the strided cascade, or a policy that needs none). */
  scores: boolean;
}

/**
 * The attention that the tokens of the cache received while one chunk was evaluated, reduced to one value per
 * token (over the query heads of each KV group, the KV heads and the layers). For a chunk of `queries` queries
 * and the policy's `attentionDecay` β, entry k is Σ_j β^(queries-1-j) · a_j(k), where a_j(k) is the attention
 * of query j on token k; tokens appended by the chunk only receive attention from queries at or after them.
 */
export interface ChunkAttention {
  queries: number;
  /** One value per token of the cache after the append, in cache order. */
  decayedSum: Float64Array;
}

export interface CachePolicy {
  readonly config: Readonly<PolicyConfig>;
  /** Most tokens the cache holds after a chunk; Infinity for the full cache. */
  readonly capacity: number;
  /**
   * β of the attention moving average when the policy ranks tokens by attention; undefined when it never
   * looks at scores (the engine then collects none).
   */
  readonly attentionDecay: number | undefined;
  /**
   * Where set, the attention a chunk hands the policy comes from the chunk's last `observedQueries` queries only
   * (SnapKV's observation window; fewer when the chunk is shorter); else from all of them.
   */
  readonly observedQueries?: number;
  /**
   * `appended` tokens were evaluated and appended at the end of the cache. Runs the policy's token-by-token
   * update over them and returns the positions (0-based, ascending, in the cache after the append) to evict.
   * `attention` is given when the backend can measure it; without it every token scores the same.
   */
  update(appended: number, attention?: ChunkAttention): number[];
}

/** A policy as the registry lists it: how to build it, and everything the CLI and the tables need to know. */
export interface PolicyDefinition {
  readonly name: PolicyName;
  /** One line for `--help` and the docs. */
  readonly description: string;
  /** The parameters it reads, in the order its description names them. */
  readonly parameters: readonly PolicyParameter[];
  /** Whether the cache stays bounded (false: it grows with the stream, and must fit the model's context). */
  readonly bounded: boolean;
  /** What the engine measures for it where it can. */
  readonly signals: readonly Signal[];
  /**
   * What the policy does where the binaries cannot measure its signals (cascading: "runs as the strided cascade");
   * absent: it needs them, and a run refuses to start without them.
   */
  readonly withoutSignals?: string;
  /** Checks beyond each parameter's minimum; throws a UsageError naming the flags. */
  validate?(config: PolicyConfig): void;
  /** A fresh policy for one stream (the config is already validated). */
  create(config: PolicyConfig): CachePolicy;
  /** How tables name the policy as it ran. */
  describe(record: PolicyRecord): string;
  /** What a per-sample budget's description adds after the sinks (e.g. the cascades). */
  describeLayout?(record: PolicyRecord): string;
}
