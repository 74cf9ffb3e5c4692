/**
 * The held-out BookSum split. The paper evaluates on "a held-out 5%" of Long-Data-Collections' booksum file without
 * saying which rows: here a seeded Fisher–Yates shuffle of the row numbers (xoshiro128**, integer arithmetic only,
 * so every machine draws the same rows) and the first ⌈fraction · rows⌉ of it, returned in file order.
 */
import { Random } from "../../util/random.js";

export function heldOutRows(rows: number, fraction: number, seed: number): number[] {
  const order = Array.from({ length: rows }, (_, index) => index);
  const random = new Random(seed, "booksum-split");
  for (let i = rows - 1; i > 0; i--) {
    const j = Math.floor(random.uniform() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.slice(0, Math.ceil(fraction * rows)).sort((a, b) => a - b);
}
