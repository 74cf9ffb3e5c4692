import { SINKS, WINDOW } from "./parameters.js";
import type { ChunkAttention, PolicyConfig, PolicyDefinition } from "./policy.js";
import { RankedCache } from "./ranked.js";

/**
 * TOVA (Oren et al. 2024), streaming: after each chunk, the sinks and the `window` tokens that the chunk's newest
 * query attends to most (β = 0: that query alone; no memory of earlier chunks).
 */
export class TovaPolicy extends RankedCache {
  readonly attentionDecay = 0;

  constructor(config: PolicyConfig) {
    super(config, { recent: 0, ranked: config.window });
  }

  protected score(attention: ChunkAttention): void {
    attention.decayedSum.forEach((received, position) => (this.scores[position] = received));
  }
}

export const tova: PolicyDefinition = {
  name: "tova",
  description: "TOVA: the sinks plus the tokens the newest query attends to most (needs measured attention)",
  parameters: [SINKS, WINDOW],
  bounded: true,
  signals: ["attention-scores"],
  create: (config) => new TovaPolicy(config),
  describe: (record) => `${record.sinks} sinks + ${record.window} by the newest query's attention, stride ${record.stride}`,
};
