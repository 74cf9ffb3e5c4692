import { SINKS, WINDOW } from "./parameters.js";
import type { CachePolicy, PolicyConfig, PolicyDefinition } from "./policy.js";

/** StreamingLLM: the first `sinks` tokens of the stream plus the last `window` tokens. */
export class SinkWindowPolicy implements CachePolicy {
  readonly config: Readonly<PolicyConfig>;
  readonly capacity: number;
  readonly attentionDecay = undefined;
  private streamLength = 0;
  private cacheSize = 0;

  constructor(config: PolicyConfig) {
    this.config = Object.freeze({ ...config });
    this.capacity = config.sinks + config.window;
  }

  update(appended: number): number[] {
    this.streamLength += appended;
    const total = this.cacheSize + appended;
    // Sinks are never evicted, so the cache always starts with every sink seen so far.
    const sinkCount = Math.min(this.config.sinks, this.streamLength);
    const excess = total - sinkCount - this.config.window;
    const evicted: number[] = [];
    for (let position = sinkCount; position < sinkCount + excess; position++) evicted.push(position);
    this.cacheSize = total - evicted.length;
    return evicted;
  }

  /** 1-based stream indices of the cached tokens, in cache order. */
  retained(): number[] {
    const sinkCount = Math.min(this.config.sinks, this.streamLength);
    const recent = this.cacheSize - sinkCount;
    const indices: number[] = [];
    for (let t = 1; t <= sinkCount; t++) indices.push(t);
    for (let t = this.streamLength - recent + 1; t <= this.streamLength; t++) indices.push(t);
    return indices;
  }
}

export const sinkWindow: PolicyDefinition = {
  name: "sink-window",
  description: "StreamingLLM: the attention sinks plus a sliding window of the latest tokens",
  parameters: [SINKS, WINDOW],
  bounded: true,
  signals: [],
  create: (config) => new SinkWindowPolicy(config),
  describe: (record) => `${record.sinks} sinks + ${record.window} window, stride ${record.stride}`,
};
