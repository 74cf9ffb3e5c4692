/**
 * The similarity of Python's `difflib.SequenceMatcher(None, a, b).ratio()` (default autojunk=True), to the last bit,
 * and fuzzywuzzy's `fuzz.ratio` built on it (the pure-Python path, without python-Levenshtein). LongBench scores its
 * code-completion tasks with the latter. Strings are compared as Python compares `str`: one element per Unicode code
 * point, so an emoji outside the BMP is one element, not two UTF-16 units.
 *
 * test/longbench/difflib.test.ts checks both against values Python wrote (tools/longbench/make-difflib-cases.py).
 */

/** Python's `SequenceMatcher(None, a, b).ratio()`: 2·M / (len(a) + len(b)), M the size of the matching blocks. */
export function sequenceRatio(a: string, b: string): number {
  const seqA = codePoints(a);
  const seqB = codePoints(b);
  const total = seqA.length + seqB.length;
  if (total === 0) return 1.0;
  let matched = 0;
  for (const block of matchingBlocks(seqA, seqB)) matched += block.size;
  return (2.0 * matched) / total;
}

/**
 * fuzzywuzzy's `fuzz.ratio(a, b)`: 100 for equal strings (two empty strings included), 0 when one of them is empty,
 * otherwise `int(round(100 * ratio))` with Python's round-half-to-even.
 */
export function fuzzRatio(a: string, b: string): number {
  if (a === b) return 100;
  if (a.length === 0 || b.length === 0) return 0;
  return roundHalfEven(100 * sequenceRatio(a, b));
}

/** Python's `round(x)` for a finite non-negative double: nearest integer, exact halves to the even one. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor; // exact for doubles of this size
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

interface MatchingBlock {
  a: number;
  b: number;
  size: number;
}

function codePoints(s: string): number[] {
  return Array.from(s, (ch) => ch.codePointAt(0)!);
}

/**
 * `get_matching_blocks()` less its final (len(a), len(b), 0) sentinel: the longest match of the whole range, then the
 * same on the pieces left and right of it, in Python's order (a stack of ranges), sorted, adjacent blocks merged.
 */
function matchingBlocks(a: readonly number[], b: readonly number[]): MatchingBlock[] {
  const finder = new LongestMatchFinder(a, b);
  const stack: [number, number, number, number][] = [[0, a.length, 0, b.length]];
  const found: MatchingBlock[] = [];
  while (stack.length > 0) {
    const [alo, ahi, blo, bhi] = stack.pop()!;
    const match = finder.find(alo, ahi, blo, bhi);
    if (match.size === 0) continue;
    found.push(match);
    if (alo < match.a && blo < match.b) stack.push([alo, match.a, blo, match.b]);
    if (match.a + match.size < ahi && match.b + match.size < bhi) stack.push([match.a + match.size, ahi, match.b + match.size, bhi]);
  }
  found.sort((x, y) => x.a - y.a || x.b - y.b || x.size - y.size);

  const merged: MatchingBlock[] = [];
  let current: MatchingBlock = { a: 0, b: 0, size: 0 };
  for (const block of found) {
    if (current.a + current.size === block.a && current.b + current.size === block.b) {
      current = { a: current.a, b: current.b, size: current.size + block.size };
    } else {
      if (current.size > 0) merged.push(current);
      current = block;
    }
  }
  if (current.size > 0) merged.push(current);
  return merged;
}

/**
 * `find_longest_match()` over one pair of sequences. The index of b (element → ascending positions) leaves out the
 * "popular" elements when b has 200 or more elements: those occurring more than len(b)//100 + 1 times. With no isjunk
 * function nothing is junk, so a popular element is still allowed to extend a match found through the index, on
 * either side, and even to make a match on its own at the corner (alo, blo) of a range where the index finds nothing.
 */
class LongestMatchFinder {
  private readonly index = new Map<number, number[]>();
  // Python's j2len dicts (previous row and current row), as arrays shifted by one (slot j+1 holds j) whose entries
  // count only when stamped with the row they were written in; the row counter runs on across calls.
  private readonly lengths: [Int32Array, Int32Array];
  private readonly stamps: [Float64Array, Float64Array];
  private row = 0;

  constructor(
    private readonly a: readonly number[],
    private readonly b: readonly number[],
  ) {
    b.forEach((element, j) => {
      const positions = this.index.get(element);
      if (positions) positions.push(j);
      else this.index.set(element, [j]);
    });
    if (b.length >= 200) {
      const limit = Math.floor(b.length / 100) + 1;
      for (const [element, positions] of this.index) if (positions.length > limit) this.index.delete(element);
    }
    this.lengths = [new Int32Array(b.length + 1), new Int32Array(b.length + 1)];
    this.stamps = [new Float64Array(b.length + 1), new Float64Array(b.length + 1)];
  }

  find(alo: number, ahi: number, blo: number, bhi: number): MatchingBlock {
    const { a, b } = this;
    let bestA = alo;
    let bestB = blo;
    let bestSize = 0;
    this.row += 1; // nothing from an earlier call is stamped with the row before this call's first
    for (let i = alo; i < ahi; i++) {
      const row = ++this.row;
      const current = row & 1;
      const curLengths = this.lengths[current];
      const curStamps = this.stamps[current];
      const prevLengths = this.lengths[current ^ 1];
      const prevStamps = this.stamps[current ^ 1];
      const positions = this.index.get(a[i]!);
      if (positions === undefined) continue;
      for (const j of positions) {
        if (j < blo) continue;
        if (j >= bhi) break;
        const k = (prevStamps[j] === row - 1 ? prevLengths[j]! : 0) + 1;
        curLengths[j + 1] = k;
        curStamps[j + 1] = row;
        if (k > bestSize) {
          bestA = i - k + 1;
          bestB = j - k + 1;
          bestSize = k;
        }
      }
    }
    // Widen by equal elements the index could not see (popular ones): backwards, then forwards. Python's second
    // pair of loops, for junk elements, never runs without an isjunk function.
    while (bestA > alo && bestB > blo && a[bestA - 1] === b[bestB - 1]) {
      bestA -= 1;
      bestB -= 1;
      bestSize += 1;
    }
    while (bestA + bestSize < ahi && bestB + bestSize < bhi && a[bestA + bestSize] === b[bestB + bestSize]) bestSize += 1;
    return { a: bestA, b: bestB, size: bestSize };
  }
}
