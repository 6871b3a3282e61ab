/**
 * The hash of a 10-word (40-byte) flow key, shared by the flow table and the flow tracker:
 * one multiply per word, then murmur3's finaliser to spread the bits. Seeded per process.
 *
 * @module
 */

/**
 * A seed drawn per process (per thread: each table and tracker lives in one), so traffic
 * crafted to collide in a known hash cannot pile its flows into one bucket chain.
 */
export const KEY_SEED: number = crypto.getRandomValues(new Int32Array(1))[0]!;

export function hashKey(a: Int32Array, o: number): number {
  let h = Math.imul(a[o]! ^ KEY_SEED, 0xcc9e2d51);
  h = Math.imul(h ^ a[o + 1]!, 0x1b873593) ^ Math.imul(a[o + 2]! ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ a[o + 3]!, 0xc2b2ae35) ^ Math.imul(a[o + 4]! ^ (h >>> 13), 0xcc9e2d51);
  h = Math.imul(h ^ a[o + 5]!, 0x1b873593) ^ Math.imul(a[o + 6]! ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ a[o + 7]!, 0xc2b2ae35) ^ Math.imul(a[o + 8]! ^ (h >>> 13), 0xcc9e2d51);
  h = Math.imul(h ^ a[o + 9]!, 0x1b873593);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
