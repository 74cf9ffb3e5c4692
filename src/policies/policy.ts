/**
 * A cache policy decides which tokens stay in a bounded KV cache (PROTOCOLS §1). Policies are pure: they see
 * only counts and optional importance scores, never llama.cpp; the engine applies their decisions.
 *
 * The cache always holds tokens in stream order, so a token is named by its position in the cache.
 */

/**
 * The policies the CLI knows, in the order tables list them. `cascading` ranks tokens by attention where llama.cpp
 * measures it (the attention-scores extension) and is strided elsewhere; `cascading-strided` never uses scores.
 */
export const POLICY_NAMES = ["full", "sink-window", "cascading-strided", "cascading"] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

/** Whether the policy is a cascade of sub-caches (its `cascades` counts). */
export function isCascading(name: PolicyName): boolean {
  return name === "cascading" || name === "cascading-strided";
}

/** Everything that determines a policy's decisions; recorded with every result. */
export interface PolicyConfig {
  name: PolicyName;
  /** First tokens of the stream that are never evicted (ignored by `full`). */
  sinks: number;
  /** Tokens kept after the sinks (ignored by `full`). */
  window: number;
  /** Number of sub-caches of `window / cascades` slots (cascading only; 1 equals sink-window). */
  cascades: number;
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
   * `appended` tokens were evaluated and appended at the end of the cache. Runs the policy's token-by-token
   * update over them and returns the positions (0-based, ascending, in the cache after the append) to evict.
   * `attention` is given when the backend can measure it; without it every token scores the same.
   */
  update(appended: number, attention?: ChunkAttention): number[];
}
