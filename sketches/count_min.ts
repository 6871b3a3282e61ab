/**
 * Count-Min sketch (Cormode & Muthukrishnan 2005) for point queries of any key: d rows of w
 * counters; an update adds to one counter per row, a query takes the row minimum, which never
 * underestimates.
 *
 * Conservative update (Estan & Varghese 2002) raises each of the d counters only as far as the
 * new minimum needs (on the skewed byte-weighted stream of the tests, 0.55 of the standard
 * update's total overestimate at 4 × 1024). It depends on
 * the order of updates, so merged conservative sketches are an upper bound that still never
 * underestimates, not the bytes one sketch would hold; the standard update is a plain sum, so
 * merging standard sketches gives exactly the counters of one sketch fed everything.
 *
 * Counters are float64 so byte counts of a busy window cannot wrap; they hold whole numbers
 * exactly up to 2^53. Row r's counter index comes from both lanes (Kirsch–Mitzenmacher), and
 * w is a power of two so the index is a mask.
 *
 * @example
 * ```ts
 * import { CountMin } from "./count_min.ts";
 * const cm = new CountMin(4, 1024, true);
 * cm.add(123, 456, 1500);
 * console.log(cm.query(123, 456)); // 1500
 * ```
 *
 * @module
 */

import { begin, checkSeeds, expectLength, HEADER_BYTES, open, SketchKind } from "./_serial.ts";

const VERSION = 1;
export const CM_DEPTH_MAX = 16;
export const CM_WIDTH_MAX = 1 << 24;

export class CountMin {
  readonly depth: number;
  readonly width: number;
  readonly conservative: boolean;
  readonly counters: Float64Array;
  private readonly maskW: number;
  /** Sum of all weights added (for error bounds: ε·total with ε = e/w). */
  total = 0;

  /** The hash seed of the lanes this sketch was filled with (kept in its bytes; see _serial.ts). */
  seed = 0;

  constructor(depth: number, width: number, conservative: boolean) {
    if (!Number.isInteger(depth) || depth < 1 || depth > CM_DEPTH_MAX) {
      throw new RangeError(`Invalid Count-Min depth ${depth}: 1..${CM_DEPTH_MAX}`);
    }
    if (!Number.isInteger(width) || width < 2 || width > CM_WIDTH_MAX || (width & (width - 1))) {
      throw new RangeError(`Invalid Count-Min width ${width}: a power of two up to 2^24`);
    }
    this.depth = depth;
    this.width = width;
    this.conservative = conservative;
    this.maskW = width - 1;
    this.counters = new Float64Array(depth * width);
  }

  /** The widest sketch of `depth` rows that fits `bytes` (8 bytes per counter). */
  static forBudget(bytes: number, depth: number, conservative: boolean): CountMin {
    let w = 2;
    while (w * 2 * depth * 8 <= bytes && w < CM_WIDTH_MAX) w *= 2;
    return new CountMin(depth, w, conservative);
  }

  get memoryBytes(): number {
    return this.counters.byteLength;
  }

  add(a: number, b: number, weight: number): void {
    const c = this.counters, mw = this.maskW, w = this.width;
    const step = b | 1;
    this.total += weight;
    if (!this.conservative) {
      for (let r = 0, h = a; r < this.depth; r++, h = (h + step) | 0) {
        c[r * w + (h & mw)]! += weight;
      }
      return;
    }
    let min = Infinity;
    for (let r = 0, h = a; r < this.depth; r++, h = (h + step) | 0) {
      const v = c[r * w + (h & mw)]!;
      if (v < min) min = v;
    }
    const target = min + weight;
    for (let r = 0, h = a; r < this.depth; r++, h = (h + step) | 0) {
      const i = r * w + (h & mw);
      if (c[i]! < target) c[i] = target;
    }
  }

  /** Estimated weight of the key with lanes (a, b): never below the true value. */
  query(a: number, b: number): number {
    const c = this.counters, mw = this.maskW, w = this.width;
    const step = b | 1;
    let min = Infinity;
    for (let r = 0, h = a; r < this.depth; r++, h = (h + step) | 0) {
      const v = c[r * w + (h & mw)]!;
      if (v < min) min = v;
    }
    return min;
  }

  /** Adds `other`'s counters (same shape). Exact for standard sketches; see the module note. */
  merge(other: CountMin): void {
    checkSeeds(this.seed, other.seed, "Count-Min sketches");
    if (other.depth !== this.depth || other.width !== this.width) {
      throw new RangeError(
        `Cannot merge Count-Min ${other.depth}×${other.width} into ${this.depth}×${this.width}`,
      );
    }
    const c = this.counters, o = other.counters;
    for (let i = 0; i < c.length; i++) c[i]! += o[i]!;
    this.total += other.total;
  }

  clear(): void {
    this.counters.fill(0);
    this.total = 0;
  }

  /** Header, depth (u8), log2 width (u8), conservative (u8), total (f64), counters (f64). */
  serialize(): Uint8Array {
    const { bytes, view, full } = begin(
      SketchKind.countMin,
      VERSION,
      11 + this.counters.byteLength,
      this.seed,
    );
    bytes[HEADER_BYTES] = this.depth;
    bytes[HEADER_BYTES + 1] = Math.log2(this.width);
    bytes[HEADER_BYTES + 2] = this.conservative ? 1 : 0;
    view.setFloat64(HEADER_BYTES + 3, this.total, true);
    const o = HEADER_BYTES + 11;
    for (let i = 0; i < this.counters.length; i++) {
      view.setFloat64(o + i * 8, this.counters[i]!, true);
    }
    return full;
  }

  static deserialize(raw: Uint8Array): CountMin {
    const { bytes, view, seed } = open(raw, SketchKind.countMin, VERSION, "Count-Min");
    if (bytes.length < HEADER_BYTES + 11) expectLength(bytes, HEADER_BYTES + 11, "Count-Min");
    const logW = bytes[HEADER_BYTES + 1]!;
    if (logW < 1 || logW > 24) throw new RangeError(`Cannot read Count-Min: width 2^${logW}`);
    const cm = new CountMin(bytes[HEADER_BYTES]!, 1 << logW, bytes[HEADER_BYTES + 2] === 1);
    expectLength(bytes, HEADER_BYTES + 11 + cm.counters.byteLength, "Count-Min");
    cm.total = view.getFloat64(HEADER_BYTES + 3, true);
    cm.seed = seed;
    const o = HEADER_BYTES + 11;
    for (let i = 0; i < cm.counters.length; i++) cm.counters[i] = view.getFloat64(o + i * 8, true);
    return cm;
  }
}
