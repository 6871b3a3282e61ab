/**
 * Spread: keys that meet many distinct elements — sources contacting many destinations
 * (super-spreaders) or many destination ports (scanners) — with their estimated spread.
 *
 * Two stages. SpreadSketch (Tang et al. 2020) keeps a multiresolution bitmap per bucket that
 * every source hashing there shares; at 512 KB and a couple of hundred thousand sources each
 * bucket would carry the distinct pairs of many sources, whose noise is of the order of the
 * 1,000 threshold itself. That is reasoning, not a measurement (no SpreadSketch was built
 * here); what was measured is this design's accuracy, in bench/ACCURACY.md.
 * 1. A filter of 2 rows of 64-bit linear-counting bitmaps indexed by the key. A (key, element)
 *    pair sets one bit per row; the row minimum of the distinct-count estimates is an upper
 *    bound-ish estimate of the key's spread that costs 8 bytes per cell.
 * 2. Keys whose filter estimate reaches `admitAt` become candidates with their own HyperLogLog
 *    (2^p registers, HIP estimator), counted exactly from then on; the filter estimate at
 *    entry is kept as the part seen before. When the candidate table is full a new key
 *    replaces the smallest of a few candidates looked at in turn (clock order), so a burst of
 *    false candidates cannot pin the table.
 *
 * Merging adds candidates key by key (register max; the estimate then uses Ertl's estimator),
 * so a key that was a candidate on one side only is short by what the other side saw of it
 * before admission, at most `admitAt` per side plus filter noise.
 *
 * @module
 */

import { begin, checkSeeds, expectLength, HEADER_BYTES, open, SketchKind } from "./_serial.ts";
import { LaneIndex } from "./_lane_index.ts";
import { pairA, pairB } from "./hash.ts";
import { ertlEstimate, pow2Neg, rankOf } from "./hll.ts";
import { HH_KEY_WORDS, type KeySource } from "./heavy_hitters.ts";

const VERSION = 1;
const ROWS = 2;
const FILTER_BITS = 64;
/** Candidates looked at to pick one to replace when the table is full. */
const EVICT_LOOK = 16;
export const SPREAD_MEMORY_MIN = 16 * 1024;
export const SPREAD_MEMORY_MAX = 1 << 28;
/** Share of the budget given to the filter; the rest holds candidates. */
const FILTER_SHARE = 0.5;

/** Linear counting over a 64-bit bitmap with `ones` bits set: −64 ln(zeros / 64). */
const LC = new Float64Array(FILTER_BITS + 1).map((_, ones) =>
  ones === FILTER_BITS ? Infinity : -FILTER_BITS * Math.log((FILTER_BITS - ones) / FILTER_BITS)
);

export interface SpreadOptions {
  memoryBytes: number;
  /** Spread from which a key is reported. */
  threshold: number;
  /** log2 of each candidate's HyperLogLog registers. */
  p?: number;
}

export class SpreadSketch {
  readonly budget: number;
  readonly threshold: number;
  readonly p: number;
  readonly admitAt: number;
  readonly width: number;
  readonly capacity: number;
  private readonly cells: Int32Array;
  /**
   * One bit per filter cell, set once the cell's estimate reaches `admitAt`. A candidate's
   * cells are always hot (cells only gain bits within a window), so a packet whose cells are
   * not both hot skips the candidate lookup: a 4 KB array in L1 instead of a hash probe.
   */
  private readonly hot: Int32Array;
  /** Read back without its filter: every packet must look candidates up. */
  private coldFilter = false;
  /** Candidate state: key words, registers, HIP sums and estimates, estimate at entry. */
  readonly keys: Int32Array;
  private readonly regs: Uint8Array;
  private readonly sum: Float64Array;
  private readonly hip: Float64Array;
  private readonly pre: Float64Array;
  private readonly index: LaneIndex;
  private merged = false;
  /** Bits set in the whole filter: the mean fill is the noise other keys add to a cell. */
  private ones = 0;
  size = 0;
  private clock = 0;

  /** The hash seed of the lanes this sketch was filled with (kept in its bytes; see _serial.ts). */
  seed = 0;

  constructor(opts: SpreadOptions) {
    const { memoryBytes, threshold } = opts;
    if (
      !Number.isInteger(memoryBytes) || memoryBytes < SPREAD_MEMORY_MIN ||
      memoryBytes > SPREAD_MEMORY_MAX
    ) {
      throw new RangeError(
        `Invalid spread memory ${memoryBytes} B: ${SPREAD_MEMORY_MIN}..${SPREAD_MEMORY_MAX}`,
      );
    }
    if (!Number.isInteger(threshold) || threshold < 2 || threshold > 1e9) {
      throw new RangeError(`Invalid spread threshold ${threshold}: 2..10^9`);
    }
    const p = opts.p ?? 9;
    if (!Number.isInteger(p) || p < 4 || p > 12) {
      throw new RangeError(`Invalid spread precision ${p}: 4..12`);
    }
    this.budget = memoryBytes, this.threshold = threshold, this.p = p;
    // Enter well below the threshold so little is missed before entry, but high enough that
    // the filter's noise (other keys in the same cells) rarely admits a small key.
    this.admitAt = Math.min(Math.max(4, Math.round(threshold / 32)), LC[48]!);
    // A power-of-two width, so a cell index is a mask; the candidates get the rest.
    this.width = 64;
    while (this.width * 2 * ROWS * 8 <= memoryBytes * FILTER_SHARE) this.width *= 2;
    this.cells = new Int32Array(ROWS * this.width * 2);
    this.hot = new Int32Array(Math.ceil((ROWS * this.width) / 32));
    const per = (1 << p) + HH_KEY_WORDS * 4 + 3 * 8 + 16;
    this.capacity = Math.max(4, Math.floor((memoryBytes - this.cells.byteLength) / per));
    const k = this.capacity;
    this.keys = new Int32Array(k * HH_KEY_WORDS);
    this.regs = new Uint8Array(k << p);
    this.sum = new Float64Array(k);
    this.hip = new Float64Array(k);
    this.pre = new Float64Array(k);
    this.index = new LaneIndex(k);
  }

  get memoryBytes(): number {
    return this.cells.byteLength + this.hot.byteLength + this.keys.byteLength +
      this.regs.byteLength +
      this.sum.byteLength * 3 + this.index.memoryBytes;
  }

  /**
   * Counts the element with lanes (ea, eb) for the key with lanes (a, b). `src.writeKey(i)`
   * gives the key words if the key becomes a candidate.
   */
  add(a: number, b: number, ea: number, eb: number, src: KeySource, i: number): void {
    const k0 = a & (this.width - 1), k1 = this.width + (b & (this.width - 1));
    const hot = this.hot;
    if (
      this.coldFilter ||
      ((hot[k0 >>> 5]! >>> (k0 & 31)) & (hot[k1 >>> 5]! >>> (k1 & 31)) & 1) !== 0
    ) {
      const e = this.index.find(a, b);
      if (e >= 0) {
        this.count(e, pairA(a, ea), pairB(b, eb));
        return;
      }
    }
    const x = filterBit(a, ea);
    const bit = 1 << (x & 31), word = x >>> 5;
    const j0 = k0 * 2 + word, j1 = k1 * 2 + word;
    const c0 = this.cells[j0]!, c1 = this.cells[j1]!;
    if ((c0 & bit) !== 0 && (c1 & bit) !== 0) return;
    this.cells[j0] = c0 | bit, this.cells[j1] = c1 | bit;
    this.ones += ((c0 & bit) === 0 ? 1 : 0) + ((c1 & bit) === 0 ? 1 : 0);
    const e0 = this.cellEstimate(k0 * 2), e1 = this.cellEstimate(k1 * 2);
    if (e0 >= this.admitAt) hot[k0 >>> 5]! |= 1 << (k0 & 31);
    if (e1 >= this.admitAt) hot[k1 >>> 5]! |= 1 << (k1 & 31);
    const est = Math.min(e0, e1);
    if (est >= this.admitAt) {
      this.admit(a, b, Math.max(0, est - this.noise()), pairA(a, ea), pairB(b, eb), src, i);
    }
  }

  /**
   * Counts packets j in [from, to) — packet i = list[j], or j without a list — skipping those
   * whose `keep[i]` is 0. The common case, a packet whose cells are not hot and whose filter
   * bits are already set, is decided inline with the fields in locals; the rest go through
   * `add`. Returns the packets counted.
   */
  addMany(
    a: Int32Array,
    b: Int32Array,
    ea: Int32Array,
    eb: Int32Array,
    keep: Uint8Array,
    from: number,
    to: number,
    list: Int32Array | null,
    src: KeySource,
  ): number {
    const hot = this.hot, cells = this.cells, wm = this.width - 1, width = this.width;
    const cold = this.coldFilter;
    let n = 0;
    for (let j = from; j < to; j++) {
      const i = list === null ? j : list[j]!;
      if (keep[i] === 0) continue;
      n++;
      const x = a[i]!, y = b[i]!, e = ea[i]!;
      const k0 = x & wm, k1 = width + (y & wm);
      if (!cold && ((hot[k0 >>> 5]! >>> (k0 & 31)) & (hot[k1 >>> 5]! >>> (k1 & 31)) & 1) === 0) {
        const q = filterBit(x, e);
        const bit = 1 << (q & 31), word = q >>> 5;
        if ((cells[k0 * 2 + word]! & cells[k1 * 2 + word]! & bit) !== 0) continue;
      }
      this.add(x, y, e, eb[i]!, src, i);
    }
    return n;
  }

  /** What a cell holds on average from all keys: linear counting at the mean fill. */
  private noise(): number {
    const mean = this.ones / (ROWS * this.width);
    return -FILTER_BITS * Math.log(1 - Math.min(mean, FILTER_BITS - 1) / FILTER_BITS);
  }

  /** Recomputes the hot bits from the cells (after reading back or merging). */
  private markHot(): void {
    this.hot.fill(0);
    for (let k = 0; k < ROWS * this.width; k++) {
      if (this.cellEstimate(k * 2) >= this.admitAt) this.hot[k >>> 5]! |= 1 << (k & 31);
    }
  }

  private cellEstimate(j: number): number {
    return LC[popcount(this.cells[j]!) + popcount(this.cells[j + 1]!)]!;
  }

  private count(e: number, pa: number, pb: number): void {
    const p = this.p;
    const j = (e << p) + (pa >>> (32 - p));
    const r = rankOf(pa, pb, p);
    const old = this.regs[j]!;
    if (r <= old) return;
    this.hip[e]! += (1 << p) / this.sum[e]!;
    this.sum[e]! += pow2Neg(r) - pow2Neg(old);
    this.regs[j] = r;
  }

  private admit(
    a: number,
    b: number,
    est: number,
    pa: number,
    pb: number,
    src: KeySource,
    i: number,
  ): void {
    let e: number;
    if (this.size < this.capacity) e = this.size++;
    else {
      e = -1;
      let least = est;
      for (let n = 0; n < EVICT_LOOK; n++) {
        const c = this.clock;
        this.clock = (c + 1) % this.capacity;
        const s = this.spreadOf(c);
        if (s < least) least = s, e = c;
      }
      if (e < 0) return;
      this.index.remove(e);
    }
    this.index.insert(e, a, b);
    src.writeKey(i, this.keys, e * HH_KEY_WORDS);
    this.regs.fill(0, e << this.p, (e + 1) << this.p);
    this.sum[e] = 1 << this.p, this.hip[e] = 0, this.pre[e] = est;
    this.count(e, pa, pb);
  }

  /** Estimated spread of candidate e: before entry (filter) + since entry (its HLL). */
  spreadOf(e: number): number {
    const since = this.merged ? ertlEstimate(this.regs, e << this.p, this.p) : this.hip[e]!;
    return this.pre[e]! + since;
  }

  /** Candidates whose spread reaches the threshold, largest first (allocates). */
  spreaders(): number[] {
    const out: number[] = [];
    for (let e = 0; e < this.size; e++) if (this.spreadOf(e) >= this.threshold) out.push(e);
    return out.sort((x, y) => this.spreadOf(y) - this.spreadOf(x));
  }

  /** Adds `other`'s candidates (same shape) key by key; see the module note on error. */
  merge(other: SpreadSketch): void {
    checkSeeds(this.seed, other.seed, "spread sketches");
    if (other.p !== this.p || other.width !== this.width || other.capacity !== this.capacity) {
      throw new RangeError("Cannot merge spread sketches of different shapes");
    }
    this.ones = 0;
    for (let j = 0; j < this.cells.length; j++) {
      this.cells[j]! |= other.cells[j]!;
      this.ones += popcount(this.cells[j]!);
    }
    this.coldFilter ||= other.coldFilter;
    this.markHot();
    const m = 1 << this.p;
    for (let f = 0; f < other.size; f++) {
      const a = other.index.a[f]!, b = other.index.b[f]!;
      let e = this.index.find(a, b);
      if (e < 0) {
        if (this.size >= this.capacity) continue;
        e = this.size++;
        this.index.insert(e, a, b);
        this.keys.set(
          other.keys.subarray(f * HH_KEY_WORDS, (f + 1) * HH_KEY_WORDS),
          e * HH_KEY_WORDS,
        );
        this.regs.fill(0, e * m, (e + 1) * m);
        this.pre[e] = 0;
      }
      this.pre[e] = Math.max(this.pre[e]!, other.pre[f]!);
      for (let j = 0; j < m; j++) {
        const v = other.regs[f * m + j]!;
        if (v > this.regs[e * m + j]!) this.regs[e * m + j] = v;
      }
    }
    this.merged = true;
  }

  clear(): void {
    this.cells.fill(0);
    this.hot.fill(0);
    this.coldFilter = false;
    this.ones = 0;
    this.index.clear();
    this.size = 0;
    this.clock = 0;
    this.merged = false;
  }

  /**
   * Header; budget (u32), threshold (u32), p (u8), filter included (u8), candidates (u32);
   * the filter cells (i32) unless left out (`withFilter` false, what the store keeps); per
   * candidate its key words, lanes, estimate at entry (f64), estimate since (f64, HIP or
   * Ertl) and registers.
   */
  serialize(withFilter = true): Uint8Array {
    const m = 1 << this.p;
    const per = HH_KEY_WORDS * 4 + 8 + 16 + m;
    const nc = withFilter ? this.cells.length : 0;
    const body = 14 + nc * 4 + this.size * per;
    const { bytes, view, full } = begin(SketchKind.spread, VERSION, body, this.seed);
    let o = HEADER_BYTES;
    view.setUint32(o, this.budget, true), view.setUint32(o + 4, this.threshold, true);
    bytes[o + 8] = this.p;
    bytes[o + 9] = withFilter ? 1 : 0;
    view.setUint32(o + 10, this.size, true);
    o += 14;
    for (let j = 0; j < nc; j++) view.setInt32(o, this.cells[j]!, true), o += 4;
    for (let e = 0; e < this.size; e++) {
      for (let j = 0; j < HH_KEY_WORDS; j++) {
        view.setInt32(o, this.keys[e * HH_KEY_WORDS + j]!, true), o += 4;
      }
      view.setInt32(o, this.index.a[e]!, true), view.setInt32(o + 4, this.index.b[e]!, true);
      view.setFloat64(o + 8, this.pre[e]!, true);
      view.setFloat64(o + 16, this.spreadOf(e) - this.pre[e]!, true);
      o += 24;
      bytes.set(this.regs.subarray(e * m, (e + 1) * m), o), o += m;
    }
    return full;
  }

  static deserialize(raw: Uint8Array): SpreadSketch {
    const { bytes, view, seed } = open(raw, SketchKind.spread, VERSION, "spread sketch");
    if (bytes.length < HEADER_BYTES + 14) expectLength(bytes, HEADER_BYTES + 14, "spread sketch");
    let o = HEADER_BYTES;
    const s = new SpreadSketch({
      memoryBytes: view.getUint32(o, true),
      threshold: view.getUint32(o + 4, true),
      p: bytes[o + 8]!,
    });
    s.seed = seed;
    const nc = bytes[o + 9] === 1 ? s.cells.length : 0;
    const size = view.getUint32(o + 10, true);
    o += 14;
    const m = 1 << s.p;
    const per = HH_KEY_WORDS * 4 + 8 + 16 + m;
    if (size > s.capacity) throw new RangeError("Cannot read spread sketch: too many candidates");
    expectLength(bytes, HEADER_BYTES + 14 + nc * 4 + size * per, "spread sketch");
    for (let j = 0; j < nc; j++) {
      s.cells[j] = view.getInt32(o, true), o += 4;
      s.ones += popcount(s.cells[j]!);
    }
    s.coldFilter = nc === 0;
    s.markHot();
    for (let e = 0; e < size; e++) {
      for (let j = 0; j < HH_KEY_WORDS; j++) {
        s.keys[e * HH_KEY_WORDS + j] = view.getInt32(o, true), o += 4;
      }
      s.index.insert(e, view.getInt32(o, true), view.getInt32(o + 4, true));
      s.pre[e] = view.getFloat64(o + 8, true);
      // The estimate since entry carries on as this candidate's running (HIP) estimate.
      s.hip[e] = view.getFloat64(o + 16, true);
      o += 24;
      s.regs.set(bytes.subarray(o, o + m), e * m), o += m;
      let sum = 0;
      for (let j = 0; j < m; j++) sum += pow2Neg(s.regs[e * m + j]!);
      s.sum[e] = sum;
      s.size = e + 1;
    }
    return s;
  }
}

/** The filter's 6 bits of a (key, element) pair: the top bits of one multiply of both lanes. */
function filterBit(a: number, ea: number): number {
  return Math.imul(ea ^ Math.imul(a, 0x2545f491), 0x9e3779b1) >>> 26;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
