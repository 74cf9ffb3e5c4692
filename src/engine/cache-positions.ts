/**
 * Which tokens of the stream the KV cache still holds, as their stream indices in cache order. The engine compacts
 * positions after each eviction, so the cache itself no longer says where a token came from; this ledger does, so
 * that a task can ask whether a span of its input (a passkey's key block) survived the policy.
 */
export class CachePositions {
  private indices = new Int32Array(1024);
  private size = 0;
  private seen = 0;

  /** Tokens in the cache. */
  get length(): number {
    return this.size;
  }

  /** `count` tokens were appended at the end of the cache, continuing the stream. */
  append(count: number): void {
    if (this.size + count > this.indices.length) {
      const grown = new Int32Array(Math.max(this.size + count, 2 * this.indices.length));
      grown.set(this.indices.subarray(0, this.size));
      this.indices = grown;
    }
    for (let offset = 0; offset < count; offset++) this.indices[this.size + offset] = this.seen + offset;
    this.size += count;
    this.seen += count;
  }

  /** Removes the tokens at these cache positions (ascending, as policies return them). */
  evict(positions: readonly number[]): void {
    let write = 0;
    let next = 0;
    for (let read = 0; read < this.size; read++) {
      if (next < positions.length && positions[next] === read) {
        next++;
        continue;
      }
      this.indices[write++] = this.indices[read]!;
    }
    if (next !== positions.length) throw new RangeError(`eviction of positions outside the cache (${this.size} tokens): ${positions.slice(next, next + 3).join(", ")}`);
    this.size = write;
  }

  /** Stream indices in [start, end) that the cache still holds, ascending. */
  retained(start: number, end: number): number[] {
    const kept: number[] = [];
    // cache order is stream order: binary search for the first index ≥ start
    let low = 0;
    let high = this.size;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.indices[middle]! < start) low = middle + 1;
      else high = middle;
    }
    for (let position = low; position < this.size && this.indices[position]! < end; position++) kept.push(this.indices[position]!);
    return kept;
  }
}
