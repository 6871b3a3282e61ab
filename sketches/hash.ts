/**
 * 64-bit hashing built from two 32-bit lanes, for every sketch.
 *
 * JavaScript has no fast 64-bit integer multiply (BigInt allocates), so a 64-bit hash is two
 * independent 32-bit lanes computed side by side: lane A is a murmur3 round, lane B an xxHash32
 * round, each with its own seed and finaliser. A sketch takes its bucket index from one lane
 * and its fingerprint or rank bits from the other, which is what a 64-bit hash would give it.
 *
 * @example
 * ```ts
 * import { hashWords, laneA, laneB } from "./hash.ts";
 * const out = new Int32Array(2);
 * hashWords(new Int32Array([0x0a000001]), 0, 1, out);
 * console.log(out[0] !== out[1]);
 * ```
 *
 * @module
 */

const SEED_A = 0x3c6ef372;
const SEED_B = 0x2545f491;
const P1 = 0x9e3779b1 | 0, P2 = 0x85ebca77 | 0, P3 = 0xc2b2ae3d | 0;

/** Lane A: mixes word `k` into state `h` (murmur3 x86_32 body). */
export function stepA(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Lane B: mixes word `k` into state `h` (xxHash32 round). */
export function stepB(h: number, k: number): number {
  h = (h + Math.imul(k, P2)) | 0;
  h = (h << 13) | (h >>> 19);
  return Math.imul(h, P1);
}

/** Lane A's finaliser (murmur3 fmix32): every input bit flips each output bit with p ≈ 1/2. */
export function finishA(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Lane B's finaliser (xxHash32 avalanche). */
export function finishB(h: number): number {
  h ^= h >>> 15;
  h = Math.imul(h, P2);
  h ^= h >>> 13;
  h = Math.imul(h, P3);
  return h ^ (h >>> 16);
}

export function laneA(seedWord: number): number {
  return SEED_A ^ seedWord;
}
export function laneB(seedWord: number): number {
  return SEED_B ^ Math.imul(seedWord, P3);
}

/** Hashes `n` words of `a` from `o` into out[0] (lane A) and out[1] (lane B). */
export function hashWords(a: Int32Array, o: number, n: number, out: Int32Array, seed = 0): void {
  let h1 = laneA(seed ^ n), h2 = laneB(seed ^ n);
  for (let j = 0; j < n; j++) {
    const k = a[o + j]!;
    h1 = stepA(h1, k);
    h2 = stepB(h2, k);
  }
  out[0] = finishA(h1);
  out[1] = finishB(h2);
}

/**
 * Lanes of a key that is one address plus a meta word (family, presence bits): `x` is the
 * address's first word, `y` the other three folded into one (zero for IPv4). Cheaper than
 * word-by-word mixing, and for IPv4 each lane is a bijection of the address, so two sources
 * never share lanes; for IPv6 the two lanes combine (x, y) differently, so both collide only
 * by chance (about 2^-64 per pair).
 */
export function addrLaneA(meta: number, x: number, y: number): number {
  return finishA(SEED_A ^ Math.imul(meta, 0x27d4eb2f) ^ x ^ Math.imul(y, P2));
}
export function addrLaneB(meta: number, x: number, y: number): number {
  return finishB(SEED_B ^ Math.imul(meta, 0x165667b1) ^ Math.imul(x, P3) ^ y);
}

/**
 * Combines a key's lanes with an element's lanes into the lanes of the (key, element) pair
 * (super-spreader sketches count distinct pairs per key).
 */
export function pairA(ka: number, ea: number): number {
  return finishA(stepA(stepA(SEED_A, ka), ea));
}
export function pairB(kb: number, eb: number): number {
  return finishB(stepB(stepB(SEED_B, kb), eb));
}

/**
 * Hashes bytes `b[off, off + len)` and the number `num` into out[0] (lane A) and out[1]
 * (lane B), four bytes per step: for text keys (DNS names, HTTP hosts and paths).
 */
export function hashBytes(
  b: Uint8Array,
  off: number,
  len: number,
  num: number,
  out: Int32Array,
): void {
  let h1 = laneA(num ^ len), h2 = laneB(num ^ len);
  const end = off + len, whole = off + (len & ~3);
  let p = off;
  for (; p < whole; p += 4) {
    const k = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
    h1 = stepA(h1, k), h2 = stepB(h2, k);
  }
  if (p < end) {
    let k = 0;
    for (let s = 0; p < end; p++, s += 8) k |= b[p]! << s;
    h1 = stepA(h1, k), h2 = stepB(h2, k);
  }
  out[0] = finishA(h1 ^ num);
  out[1] = finishB(h2 ^ num);
}
