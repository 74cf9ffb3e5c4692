import type { LlamaContext, LlamaModel } from "node-llama-cpp";
import { UsageError } from "../errors.js";
import { takeLlamaError } from "./llama.js";
import type { KvCacheType } from "./engine-info.js";

/**
 * Idle contexts kept for reuse beyond the ones in use: a run alternates between a few cache sizes, and allocating a
 * KV cache is slow. Streams open at the same time each get their own context.
 */
const IDLE_CONTEXTS_KEPT = 2;

/** The settings every context of one engine shares. */
export interface ContextSettings {
  threads: number;
  flashAttention: boolean;
  kvCacheType: KvCacheType;
}

/** The engine's llama.cpp contexts: one per open stream, and a few idle ones kept for the next streams. */
export class ContextPool {
  /**
   * Contexts no stream uses, least recently used first, with the size they were asked for (node-llama-cpp rounds
   * the size it reports up to a multiple of 256).
   */
  private readonly idle: { size: number; batch: number; context: LlamaContext }[] = [];
  private readonly inUse = new Map<LlamaContext, { size: number; batch: number }>();

  constructor(
    private readonly model: LlamaModel,
    private readonly settings: ContextSettings,
  ) {}

  /** An idle context of exactly `size` cells and `batch` (so that results never depend on what ran before), or a new one. */
  async acquire(size: number, batch: number): Promise<LlamaContext> {
    const index = this.idle.findIndex((entry) => entry.size === size && entry.batch === batch);
    const context = index >= 0 ? this.idle.splice(index, 1)[0]!.context : await this.create(size, batch);
    this.inUse.set(context, { size, batch });
    return context;
  }

  /** Takes a context back once its stream is done with it, keeping the most recent ones idle. */
  async release(context: LlamaContext): Promise<void> {
    this.idle.push({ ...this.inUse.get(context)!, context });
    this.inUse.delete(context);
    while (this.idle.length > IDLE_CONTEXTS_KEPT) await this.idle.shift()!.context.dispose();
  }

  /** Frees the KV caches of idle contexts. */
  async disposeIdle(): Promise<void> {
    for (const { context } of this.idle.splice(0)) await context.dispose();
  }

  async disposeAll(): Promise<void> {
    for (const context of [...this.idle.map((entry) => entry.context), ...this.inUse.keys()]) await context.dispose();
    this.idle.length = 0;
    this.inUse.clear();
  }

  private async create(size: number, batch: number): Promise<LlamaContext> {
    // Room first: the least recently used idle contexts go before a new KV cache is allocated.
    while (this.idle.length > 0 && this.idle.length + this.inUse.size >= IDLE_CONTEXTS_KEPT) await this.idle.shift()!.context.dispose();
    try {
      return await this.model.createContext({
        contextSize: size,
        sequences: 1,
        threads: this.settings.threads,
        batchSize: batch,
        swaFullCache: true,
        flashAttention: this.settings.flashAttention,
        experimentalKvCacheKeyType: this.settings.kvCacheType,
        experimentalKvCacheValueType: this.settings.kvCacheType,
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
      const cause = takeLlamaError();
      throw new UsageError(`cannot create a context of ${size} tokens: ${reason}${cause ? ` (llama.cpp: ${cause})` : ""}`);
    }
  }
}
