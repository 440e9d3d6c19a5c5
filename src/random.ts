/**
 * Randomness from the CSPRNG: a uniform integer below a bound (rejection sampling, so no value
 * is more likely than another) and a uniform random permutation (Fisher–Yates). Mixes shuffle
 * their batches with it; clients draw their loop rounds.
 *
 * @module
 */

/** Shuffles `items` in place with a fresh uniform random permutation; returns it. */
export function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomBelow(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

const word = new Uint32Array(1);

/** A uniform random integer in [0, bound), bound ≤ 2^32. */
export function randomBelow(bound: number): number {
  // Reject the top of the 32-bit range that would bias the modulo.
  const limit = 0x1_0000_0000 - (0x1_0000_0000 % bound);
  for (;;) {
    crypto.getRandomValues(word);
    if (word[0] < limit) return word[0] % bound;
  }
}
