/**
 * An independent reference for the attention-scores extension (not a test file itself): a Llama forward pass in
 * TypeScript, in double precision, from an F32 GGUF's weights, with a KV cache that evicts and renumbers as the
 * engine's does, re-rotating the kept keys by the position shift as llama.cpp's K-shift does. For an F16 cache it
 * rounds what llama.cpp's CPU path rounds: the cached keys (after RoPE, and again after each shift) and values,
 * and the queries and softmax weights that its matrix products with the F16 cache convert to F16.
 *
 * For each chunk it returns, per cached token, Σ_j β^(q-1-j) a_j: a_j is the softmax weight query j gives the
 * token, max over the query heads of each KV-head group, summed over the KV heads and the layers.
 */
import { readGgufHeader, readTensorBytes, getKv } from "../../src/gguf/reader.js";
import { GgmlType } from "../../src/gguf/types.js";
import { roundToF16 } from "../../src/gguf/f16.js";

interface Layer {
  attnNorm: Float32Array;
  wq: Float32Array;
  wk: Float32Array;
  wv: Float32Array;
  wo: Float32Array;
  ffnNorm: Float32Array;
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
  /** Per cached token: its key (rotated at its position) and value, n_head_kv × head size each. */
  keys: Float64Array[];
  values: Float64Array[];
}

/** y = W x for a GGUF matrix of ne0 = x.length inputs and ne1 outputs. */
function matVec(weights: Float32Array, x: Float64Array, outputs: number): Float64Array {
  const inputs = x.length;
  const y = new Float64Array(outputs);
  for (let o = 0; o < outputs; o++) {
    let sum = 0;
    for (let i = 0; i < inputs; i++) sum += weights[o * inputs + i]! * x[i]!;
    y[o] = sum;
  }
  return y;
}

function rmsNorm(x: Float64Array, weight: Float32Array, epsilon: number): Float64Array {
  let squares = 0;
  for (const value of x) squares += value * value;
  const scale = 1 / Math.sqrt(squares / x.length + epsilon);
  return x.map((value, i) => value * scale * weight[i]!);
}

export class LlamaReference {
  private readonly layers: Layer[];
  private positions = 0;

  private constructor(
    private readonly embeddings: Float32Array,
    layers: Omit<Layer, "keys" | "values">[],
    private readonly shape: { width: number; heads: number; kvHeads: number; headSize: number; feedForward: number; epsilon: number; ropeBase: number },
    private readonly round: (value: number) => number,
  ) {
    this.layers = layers.map((layer) => ({ ...layer, keys: [], values: [] }));
  }

  static async load(path: string, cache: "F16" | "F32"): Promise<LlamaReference> {
    const info = await readGgufHeader(path);
    const number = (key: string, fallback?: number) => {
      const value = getKv(info.metadata, key);
      if (value === undefined && fallback !== undefined) return fallback;
      if (value === undefined || typeof value.value !== "number") throw new Error(`no ${key}`);
      return value.value;
    };
    const tensor = async (name: string) => {
      if (info.tensors.find((t) => t.name === name)?.type !== GgmlType.F32) throw new Error(`${name} is not F32`);
      const bytes = await readTensorBytes(path, info, name);
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    };
    const width = number("llama.embedding_length");
    const heads = number("llama.attention.head_count");
    const shape = {
      width,
      heads,
      kvHeads: number("llama.attention.head_count_kv", heads),
      headSize: width / heads,
      feedForward: number("llama.feed_forward_length"),
      epsilon: number("llama.attention.layer_norm_rms_epsilon"),
      ropeBase: number("llama.rope.freq_base", 10000),
    };
    const layers = [];
    for (let index = 0; index < number("llama.block_count"); index++) {
      const blk = (name: string) => tensor(`blk.${index}.${name}.weight`);
      layers.push({
        attnNorm: await blk("attn_norm"),
        wq: await blk("attn_q"),
        wk: await blk("attn_k"),
        wv: await blk("attn_v"),
        wo: await blk("attn_output"),
        ffnNorm: await blk("ffn_norm"),
        gate: await blk("ffn_gate"),
        up: await blk("ffn_up"),
        down: await blk("ffn_down"),
      });
    }
    return new LlamaReference(await tensor("token_embd.weight"), layers, shape, cache === "F16" ? roundToF16 : (value) => value);
  }

  /** Tokens in the cache. */
  get cached(): number {
    return this.positions;
  }

  /** Evaluates a chunk (appended to the cache); per cached token after the append, the decayed attention sum. */
  evaluate(tokens: readonly number[], beta: number): Float64Array {
    const total = this.positions + tokens.length;
    const received = new Float64Array(total);
    tokens.forEach((token, j) => {
      const weight = Math.pow(beta, tokens.length - 1 - j);
      const attention = this.step(token);
      for (let cell = 0; cell < attention.length; cell++) received[cell]! += weight * attention[cell]!;
    });
    return received;
  }

  /** Drops the cached tokens at `evicted` (ascending positions) and renumbers the rest, re-rotating their keys. */
  evict(evicted: readonly number[]): void {
    const drop = new Set(evicted);
    for (const layer of this.layers) {
      const keys: Float64Array[] = [];
      const values: Float64Array[] = [];
      let below = 0;
      for (let position = 0; position < layer.keys.length; position++) {
        if (drop.has(position)) {
          below++;
          continue;
        }
        const key = layer.keys[position]!;
        if (below > 0) this.rotate(key, -below, true);
        keys.push(key);
        values.push(layer.values[position]!);
      }
      layer.keys = keys;
      layer.values = values;
    }
    this.positions -= evicted.length;
  }

  /** One token through every layer; the attention each cached token (itself included) received from it. */
  private step(token: number): Float64Array {
    const { width, heads, kvHeads, headSize, feedForward, epsilon } = this.shape;
    const position = this.positions++;
    const attention = new Float64Array(this.positions);
    let x = Float64Array.from(this.embeddings.subarray(token * width, (token + 1) * width));
    const group = heads / kvHeads;
    for (const layer of this.layers) {
      const h = rmsNorm(x, layer.attnNorm, epsilon);
      const q = matVec(layer.wq, h, width);
      const k = matVec(layer.wk, h, kvHeads * headSize);
      const v = matVec(layer.wv, h, kvHeads * headSize);
      for (let head = 0; head < heads; head++) this.rotate(q.subarray(head * headSize, (head + 1) * headSize), position, false);
      for (let i = 0; i < q.length; i++) q[i] = this.round(q[i]!);
      this.rotate(k, position, true);
      layer.keys.push(k);
      layer.values.push(v.map(this.round));
      const out = new Float64Array(width);
      const groupMax = new Float64Array(kvHeads * this.positions);
      for (let head = 0; head < heads; head++) {
        const kvHead = Math.floor(head / group);
        const logits = layer.keys.map((key) => {
          let dot = 0;
          for (let d = 0; d < headSize; d++) dot += q[head * headSize + d]! * key[kvHead * headSize + d]!;
          return dot / Math.sqrt(headSize);
        });
        const largest = Math.max(...logits);
        const exps = logits.map((logit) => Math.exp(logit - largest));
        const sum = exps.reduce((a, b) => a + b, 0);
        exps.forEach((e, cell) => {
          const weight = e / sum;
          const slot = kvHead * this.positions + cell;
          groupMax[slot] = Math.max(groupMax[slot]!, weight);
          const rounded = this.round(weight);
          for (let d = 0; d < headSize; d++) out[head * headSize + d]! += rounded * layer.values[cell]![kvHead * headSize + d]!;
        });
      }
      for (let cell = 0; cell < this.positions; cell++) for (let kvHead = 0; kvHead < kvHeads; kvHead++) attention[cell]! += groupMax[kvHead * this.positions + cell]!;
      const projected = matVec(layer.wo, out, width);
      x = x.map((value, i) => value + projected[i]!);
      const f = rmsNorm(x, layer.ffnNorm, epsilon);
      const gate = matVec(layer.gate, f, feedForward);
      const up = matVec(layer.up, f, feedForward);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
      const down = matVec(layer.down, act, width);
      x = x.map((value, i) => value + down[i]!);
    }
    return attention;
  }

  /** llama.cpp's NORM RoPE (adjacent pairs) by `by` positions on every head of `vector`, in place. */
  private rotate(vector: Float64Array, by: number, cached: boolean): void {
    const { headSize, ropeBase } = this.shape;
    for (let base = 0; base < vector.length; base += headSize) {
      for (let i = 0; i < headSize; i += 2) {
        const theta = by * Math.pow(ropeBase, -i / headSize);
        const [x0, x1] = [vector[base + i]!, vector[base + i + 1]!];
        vector[base + i] = x0 * Math.cos(theta) - x1 * Math.sin(theta);
        vector[base + i + 1] = x0 * Math.sin(theta) + x1 * Math.cos(theta);
      }
    }
    if (cached) for (let i = 0; i < vector.length; i++) vector[i] = this.round(vector[i]!);
  }
}
