import { UsageError } from "../errors.js";
import { SINKS, WINDOW } from "./parameters.js";
import type { ChunkAttention, PolicyConfig, PolicyDefinition, PolicyParameter } from "./policy.js";
import { RankedCache } from "./ranked.js";

export const OBSERVE: PolicyParameter = { key: "observe", flag: "--observe", help: "snapkv: the last queries of each chunk whose attention ranks the tokens (its observation window)", minimum: 1, default: 32 };
export const POOL_KERNEL: PolicyParameter = { key: "poolKernel", flag: "--pool-kernel", help: "snapkv: width of the average pooling over neighbouring tokens' scores (odd)", minimum: 1, default: 5 };

/**
 * SnapKV (Li et al. 2024), streaming: after each chunk, the attention of its last `observe` queries, averaged over
 * `poolKernel` neighbouring cache positions (zero padding counted, as torch's avg_pool1d does), ranks the tokens
 * before the observation window; the sinks, the observation window and the best `window - observe` stay.
 * The scores are the chunk's alone: nothing carries over from earlier chunks.
 */
export class SnapKvPolicy extends RankedCache {
  readonly attentionDecay = 1;
  readonly observedQueries: number;
  private readonly kernel: number;

  constructor(config: PolicyConfig) {
    const observe = Number(config.observe ?? OBSERVE.default);
    super(config, { recent: observe, ranked: config.window - observe });
    this.observedQueries = observe;
    this.kernel = Number(config.poolKernel ?? POOL_KERNEL.default);
  }

  protected score(attention: ChunkAttention): void {
    const received = attention.decayedSum;
    const prefix = Math.max(0, received.length - this.observedQueries);
    const half = (this.kernel - 1) / 2;
    // a running sum over the kernel's span, clipped to the prefix (what lies outside counts as zero)
    let sum = 0;
    for (let k = 0; k < Math.min(half, prefix); k++) sum += received[k]!;
    for (let position = 0; position < prefix; position++) {
      if (position + half < prefix) sum += received[position + half]!;
      if (position - half - 1 >= 0) sum -= received[position - half - 1]!;
      this.scores[position] = sum / this.kernel;
    }
    for (let position = prefix; position < received.length; position++) this.scores[position] = received[position]!;
  }
}

function validate(config: PolicyConfig): void {
  const observe = Number(config.observe);
  const kernel = Number(config.poolKernel);
  if (kernel % 2 === 0) throw new UsageError(`--pool-kernel must be odd (got ${kernel})`);
  if (observe > config.window) throw new UsageError(`--observe ${observe} is larger than --window ${config.window}: the observation window is part of the cache`);
}

export const snapkv: PolicyDefinition = {
  name: "snapkv",
  description: "SnapKV: the sinks, the chunk's last queries (the observation window) and the tokens those queries attend to most, pooled over neighbours (needs measured attention)",
  parameters: [SINKS, WINDOW, OBSERVE, POOL_KERNEL],
  bounded: true,
  signals: ["attention-scores"],
  validate,
  create: (config) => new SnapKvPolicy(config),
  describe: (record) => `${record.sinks} sinks + ${record.window - Number(record.observe)} by the last ${String(record.observe)} queries' attention (pooled over ${String(record.poolKernel)}) + those ${String(record.observe)}, stride ${record.stride}`,
};
