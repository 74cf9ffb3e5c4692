import { RECENT_PERCENT, validateRecentPercent } from "./h2o.js";
import { SINKS, WINDOW } from "./parameters.js";
import type { PolicyConfig, PolicyDefinition } from "./policy.js";
import { EVICTION_SEED, RandomlyThinnedCache } from "./random.js";
import { splitWindow } from "./ranked.js";

/**
 * BigBird's sparse pattern (Zaheer et al. 2020) as a cache: global tokens (the sinks), a sliding window of the
 * newest tokens, and a seeded random sample of the older ones.
 */
export class BigBirdPolicy extends RandomlyThinnedCache {
  constructor(config: PolicyConfig) {
    super(config, splitWindow(config.window, Number(config.recentPercent ?? RECENT_PERCENT.default)).recent, "bigbird-policy");
  }
}

export const bigbird: PolicyDefinition = {
  name: "bigbird",
  description: "BigBird-style: the sinks (global tokens), a recent window and a seeded random sample of the older tokens",
  parameters: [SINKS, WINDOW, RECENT_PERCENT, EVICTION_SEED],
  bounded: true,
  signals: [],
  validate: validateRecentPercent,
  create: (config) => new BigBirdPolicy(config),
  describe: (record) => {
    const { recent, ranked } = splitWindow(record.window, Number(record.recentPercent));
    return `${record.sinks} sinks + ${recent} recent + ${ranked} random (seed ${String(record.evictionSeed)}), stride ${record.stride}`;
  },
};
