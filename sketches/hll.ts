/**
 * HyperLogLog distinct counting over 64-bit hashes (two 32-bit lanes), with two estimators:
 *
 * - Ertl's improved raw estimator ("New cardinality estimation algorithms for HyperLogLog
 *   sketches", 2017, algorithm 6): a function of the register histogram only, unbiased from
 *   0 to far beyond 10^9 without HLL++'s empirical bias tables or a linear-counting switch.
 *   Used for merged and deserialised sketches.
 * - The historic inverse probability (HIP) estimator (Cohen 2014; Ting 2014): a sketch fed
 *   directly keeps a running sum of 1/P(change) at each register change, about 20 % smaller
 *   error (0.83/√m against 1.04/√m). It describes one stream, so a merge drops it.
 *
 * Registers are bytes holding 0..q+1 with q = 64 − p. Merging is a register-wise max, so a
 * sketch merged from parts holds the same registers, byte for byte, as one fed everything.
 *
 * @example
 * ```ts
 * import { HyperLogLog } from "./hll.ts";
 * const h = new HyperLogLog(12);
 * for (let i = 0; i < 1000; i++) h.add(Math.imul(i, 0x9e3779b1), Math.imul(i, 0x85ebca77));
 * console.log(Math.round(h.estimate()));
 * ```
 *
 * @module
 */

import { begin, checkSeeds, expectLength, HEADER_BYTES, open, SketchKind } from "./_serial.ts";

export const HLL_P_MIN = 4;
export const HLL_P_MAX = 18;
const VERSION = 1;
/** 2^-k for every register value. */
const POW2_NEG = new Float64Array(66).map((_, k) => Math.pow(2, -k));

export class HyperLogLog {
  readonly p: number;
  readonly m: number;
  /** q = bits of the hash left for the rank; registers hold 0..q+1. */
  readonly q: number;
  readonly registers: Uint8Array;
  /** Σ 2^-register, kept as registers change (the HIP estimator's change probability × m). */
  private sum: number;
  private hip = 0;
  /** False once the sketch has been merged or read back: HIP then no longer applies. */
  hipValid = true;

  /** The hash seed of the lanes this sketch was filled with (kept in its bytes; see _serial.ts). */
  seed = 0;

  constructor(p: number) {
    if (!Number.isInteger(p) || p < HLL_P_MIN || p > HLL_P_MAX) {
      throw new RangeError(`Invalid HyperLogLog precision ${p}: ${HLL_P_MIN}..${HLL_P_MAX}`);
    }
    this.p = p;
    this.m = 1 << p;
    this.q = 64 - p;
    this.registers = new Uint8Array(this.m);
    this.sum = this.m;
  }

  /** Bytes of sketch state (the registers). */
  get memoryBytes(): number {
    return this.m;
  }

  /**
   * Adds one hashed item: lane `a`'s top p bits pick the register, the other 64 − p bits
   * (rest of `a`, then `b`) give the rank of their first 1 bit.
   */
  add(a: number, b: number): void {
    const j = a >>> (32 - this.p);
    const r = rankOf(a, b, this.p);
    const old = this.registers[j]!;
    if (r <= old) return;
    this.hip += this.m / this.sum;
    this.sum += POW2_NEG[r]! - POW2_NEG[old]!;
    this.registers[j] = r;
  }

  /**
   * Adds items j in [from, to) with lanes (a[i], b[i]) where i = list[j] (or j without a
   * list), skipping those whose `keep[i]` is 0 (non-IP packets): one loop with the sketch's
   * fields in locals. Returns the items added.
   */
  addMany(
    a: Int32Array,
    b: Int32Array,
    keep: Uint8Array,
    from: number,
    to: number,
    list: Int32Array | null,
  ): number {
    const p = this.p, shift = 32 - p, regs = this.registers, m = this.m;
    let sum = this.sum, hip = this.hip, n = 0;
    for (let j = from; j < to; j++) {
      const i = list === null ? j : list[j]!;
      if (keep[i] === 0) continue;
      n++;
      const x = a[i]!;
      const k = x >>> shift;
      const rest = x << p;
      const r = rest !== 0 ? Math.clz32(rest) + 1 : shift + Math.clz32(b[i]!) + 1;
      const old = regs[k]!;
      if (r <= old) continue;
      hip += m / sum;
      sum += POW2_NEG[r]! - POW2_NEG[old]!;
      regs[k] = r;
    }
    this.sum = sum, this.hip = hip;
    return n;
  }

  /** The HIP estimate while valid, else Ertl's estimate. */
  estimate(): number {
    return this.hipValid ? this.hip : this.ertl();
  }

  /** Ertl's improved raw estimator over the register histogram. */
  ertl(): number {
    return ertlEstimate(this.registers, 0, this.p);
  }

  /** Register-wise max with `other` (same precision). */
  merge(other: HyperLogLog): void {
    checkSeeds(this.seed, other.seed, "HyperLogLogs");
    if (other.p !== this.p) {
      throw new RangeError(`Cannot merge HyperLogLog p=${other.p} into p=${this.p}`);
    }
    const r = this.registers, o = other.registers;
    for (let j = 0; j < this.m; j++) if (o[j]! > r[j]!) r[j] = o[j]!;
    this.hipValid = false;
  }

  clear(): void {
    this.registers.fill(0);
    this.sum = this.m;
    this.hip = 0;
    this.hipValid = true;
  }

  /** Header, p, then the m registers. */
  serialize(): Uint8Array {
    const { bytes, full } = begin(SketchKind.hll, VERSION, 1 + this.m, this.seed);
    bytes[HEADER_BYTES] = this.p;
    bytes.set(this.registers, HEADER_BYTES + 1);
    return full;
  }

  static deserialize(raw: Uint8Array): HyperLogLog {
    const { bytes, seed } = open(raw, SketchKind.hll, VERSION, "HyperLogLog");
    const p = bytes[HEADER_BYTES] ?? 0;
    const h = new HyperLogLog(p);
    h.seed = seed;
    expectLength(bytes, HEADER_BYTES + 1 + h.m, "HyperLogLog");
    h.registers.set(bytes.subarray(HEADER_BYTES + 1));
    for (let j = 0; j < h.m; j++) {
      if (h.registers[j]! > h.q + 1) throw new RangeError("Cannot read HyperLogLog: bad register");
    }
    h.hipValid = false;
    return h;
  }
}

/**
 * Rank of a hash whose top `p` bits of lane `a` picked the register: position of the first 1
 * in the remaining 64 − p bits (rest of `a`, then `b`), from 1 to 65 − p.
 */
export function rankOf(a: number, b: number, p: number): number {
  const rest = a << p;
  return rest !== 0 ? Math.clz32(rest) + 1 : 32 - p + Math.clz32(b) + 1;
}

/** HIP bookkeeping: 2^-r for a register value r. */
export function pow2Neg(r: number): number {
  return POW2_NEG[r]!;
}

/** Ertl's estimate over the 2^p registers at `regs[o..]` (q = 64 − p). */
export function ertlEstimate(regs: Uint8Array, o: number, p: number): number {
  const m = 1 << p, q = 64 - p;
  const c = new Float64Array(q + 2);
  for (let j = 0; j < m; j++) c[regs[o + j]!]!++;
  let z = m * tau(1 - c[q + 1]! / m);
  for (let k = q; k >= 1; k--) z = 0.5 * (z + c[k]!);
  z += m * sigma(c[0]! / m);
  return (m * m) / (2 * Math.LN2) / z;
}

/** σ(x) = x + Σ_{k≥1} x^(2^k) 2^(k−1), for the share of empty registers (Ertl, eq. 41). */
function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1, z = x, zPrev: number;
  do {
    x *= x;
    zPrev = z;
    z += x * y;
    y += y;
  } while (z !== zPrev);
  return z;
}

/** τ(x) for the share of saturated registers (Ertl, eq. 40). */
function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1, z = 1 - x, zPrev: number;
  do {
    x = Math.sqrt(x);
    zPrev = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
  } while (z !== zPrev);
  return z / 3;
}
