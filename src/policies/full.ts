import type { CachePolicy, PolicyConfig, PolicyDefinition } from "./policy.js";

/** The quadratic baseline: every token stays, so the context must hold the whole stream. */
export class FullPolicy implements CachePolicy {
  readonly config: Readonly<PolicyConfig>;
  readonly capacity = Infinity;
  readonly attentionDecay = undefined;
  private streamLength = 0;

  constructor(config: PolicyConfig) {
    this.config = Object.freeze({ ...config });
  }

  update(appended: number): number[] {
    this.streamLength += appended;
    return [];
  }

  /** 1-based stream indices of the cached tokens, in cache order. */
  retained(): number[] {
    return Array.from({ length: this.streamLength }, (_, k) => k + 1);
  }
}

export const full: PolicyDefinition = {
  name: "full",
  description: "the full cache: every token stays (the quadratic baseline; the context must hold the whole stream)",
  parameters: [],
  bounded: false,
  signals: [],
  create: (config) => new FullPolicy(config),
  describe: () => "full cache",
};
