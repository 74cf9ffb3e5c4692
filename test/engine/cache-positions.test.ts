import assert from "node:assert/strict";
import { test } from "node:test";
import { CachePositions } from "../../src/engine/cache-positions.js";
import { Random } from "../../src/util/random.js";

test("the ledger follows appends and evictions as a plain list of stream indices does", () => {
  const rng = new Random(11);
  const ledger = new CachePositions();
  let expected: number[] = [];
  let seen = 0;
  for (let step = 0; step < 400; step++) {
    const appended = rng.int(1, 3000);
    ledger.append(appended);
    for (let offset = 0; offset < appended; offset++) expected.push(seen + offset);
    seen += appended;
    const evict = expected.map((_, position) => position).filter(() => rng.uniform() < 0.4);
    ledger.evict(evict);
    const gone = new Set(evict);
    expected = expected.filter((_, position) => !gone.has(position));
    assert.equal(ledger.length, expected.length);
    const start = rng.int(0, seen);
    const end = rng.int(start, seen);
    assert.deepEqual(ledger.retained(start, end), expected.filter((index) => index >= start && index < end), `step ${step}: [${start}, ${end})`);
  }
});

test("a span the cache dropped entirely, kept whole, or kept in part", () => {
  const ledger = new CachePositions();
  ledger.append(10);
  ledger.evict([2, 3, 4, 7]);
  assert.deepEqual(ledger.retained(2, 5), []);
  assert.deepEqual(ledger.retained(5, 7), [5, 6]);
  assert.deepEqual(ledger.retained(6, 9), [6, 8]);
  assert.deepEqual(ledger.retained(0, 100), [0, 1, 5, 6, 8, 9]);
});

test("evicting a position the cache does not have is an error, not a silent miscount", () => {
  const ledger = new CachePositions();
  ledger.append(4);
  assert.throws(() => ledger.evict([1, 4]), /outside the cache/);
});
