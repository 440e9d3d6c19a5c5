import assert from "node:assert/strict";
import { randomBelow, shuffle } from "../src/random.ts";

/** Chi-square statistic of observed counts against a uniform expectation. */
function chiSquare(counts: number[], expected: number): number {
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

Deno.test("shuffle returns a permutation of its input", () => {
  const items = Array.from({ length: 100 }, (_, i) => i);
  const out = shuffle([...items]);
  assert.deepEqual([...out].sort((a, b) => a - b), items);
  assert.notDeepEqual(out, items);
});

Deno.test("each input position lands at each output position uniformly (chi-square)", () => {
  const n = 5;
  const trials = 20_000;
  const counts = Array.from({ length: n * n }, () => 0);
  for (let t = 0; t < trials; t++) {
    const out = shuffle(Array.from({ length: n }, (_, i) => i));
    out.forEach((input, position) => counts[input * n + position]++);
  }
  // 24 degrees of freedom (approximately): the 0.9999 quantile is about 59.
  assert.ok(chiSquare(counts, trials / n) < 59, `chi-square ${chiSquare(counts, trials / n)}`);
});

Deno.test("randomBelow is uniform and stays in range", () => {
  const counts = [0, 0, 0];
  for (let i = 0; i < 30_000; i++) counts[randomBelow(3)]++;
  assert.ok(chiSquare(counts, 10_000) < 18.4, `counts ${counts}`);
  for (let i = 0; i < 1000; i++) {
    const v = randomBelow(7);
    assert.ok(Number.isInteger(v) && v >= 0 && v < 7);
  }
});
