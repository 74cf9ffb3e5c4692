import { UsageError } from "../errors.js";
import { SINKS, WINDOW } from "./parameters.js";
import type { ChunkAttention, PolicyConfig, PolicyDefinition, PolicyParameter } from "./policy.js";
import { RankedCache, splitWindow } from "./ranked.js";

/** H2O's split of the budget between the recent window and the heavy hitters (its default: half and half). */
export const RECENT_PERCENT: PolicyParameter = {
  key: "recentPercent",
  flag: "--recent-percent",
  help: "share of the window (%) kept as the newest tokens by h2o and bigbird; the rest is ranked (h2o) or random (bigbird)",
  minimum: 0,
  default: 50,
};

export function validateRecentPercent(config: PolicyConfig): void {
  if (Number(config.recentPercent) > 100) throw new UsageError(`--recent-percent must be at most 100 (got ${String(config.recentPercent)})`);
}

/**
 * H2O (Zhang et al. 2023), streaming: the sinks, the newest `recent` tokens, and the heavy hitters — the other
 * tokens with the most attention received since they entered the cache (β = 1: a plain sum over every query).
 */
export class H2oPolicy extends RankedCache {
  readonly attentionDecay = 1;

  constructor(config: PolicyConfig) {
    super(config, splitWindow(config.window, Number(config.recentPercent ?? RECENT_PERCENT.default)));
  }

  protected score(attention: ChunkAttention): void {
    attention.decayedSum.forEach((received, position) => (this.scores[position]! += received));
  }
}

export const h2o: PolicyDefinition = {
  name: "h2o",
  description: "H2O: the sinks, a recent window and the heavy hitters by attention summed since each token arrived (needs measured attention)",
  parameters: [SINKS, WINDOW, RECENT_PERCENT],
  bounded: true,
  signals: ["attention-scores"],
  validate: validateRecentPercent,
  create: (config) => new H2oPolicy(config),
  describe: (record) => {
    const { recent, ranked } = splitWindow(record.window, Number(record.recentPercent));
    return `${record.sinks} sinks + ${recent} recent + ${ranked} heavy hitters, stride ${record.stride}`;
  },
};
