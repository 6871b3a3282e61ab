/**
 * Heavy hitters by packets or by bytes: HeavyKeeper (Yang et al., ToN 2019) as the filter in
 * front of a keyed top-K store that counts exactly once a key is in it.
 *
 * HeavyKeeper keeps d rows of (fingerprint, count) buckets. A key that owns its bucket counts
 * up; a key that finds another there decays the owner's count with probability b^-count and
 * takes the bucket when it reaches zero. Small keys keep knocking each other out while a heavy
 * key's count, once past a few dozen, is almost never decayed. The store holds the K largest
 * candidates (a min-heap on the counted weight plus an open-addressing index by hash). A key
 * enters the store with its HeavyKeeper estimate — a slight undercount of what it sent before
 * — and from then on every packet is counted exactly, so the only error of a stored key is
 * from before it got in; it is large keys, which get in early, that must be exact. A key
 * evicted from the store hands its count back to its buckets, so if it returns it resumes
 * near its true count.
 *
 * Keys are compared by their 64-bit hash (two lanes); the 10 key words are copied only when a
 * key enters the store, so they can be listed.
 *
 * Merging two sketches (windows or collectors) adds the counts of keys both stores hold and
 * keeps the K largest; a key only one side held is short by at most the other side's smallest
 * stored weight (`minWeight()`), which `merge` returns as the error bound.
 *
 * @module
 */

import { begin, checkSeeds, expectLength, HEADER_BYTES, open, SketchKind } from "./_serial.ts";
import { LANE_INDEX_MAX, LaneIndex, SLOT_ENTRY, SLOT_TAG } from "./_lane_index.ts";

const VERSION = 1;
/** Words of a key, the flow table's layout (collector/flow_table.ts). */
export const HH_KEY_WORDS = 10;
/** HeavyKeeper rows, decay base and the store's share of memory (bench/ACCURACY.md). */
export interface HeavyKeeperShape {
  rows: number;
  decayBase: number;
  storeShare: number;
}
export const HK_SHAPE: HeavyKeeperShape = { rows: 2, decayBase: 1.08, storeShare: 0.4 };
export const HK_ROWS_MAX = 4;
/** Bytes per decay step in bytes mode, so a 1500-byte packet weighs like a few packets. */
const BYTES_UNIT = 256;
/** Bucket counts are in these units: packets, or 64 bytes in bytes mode (16-bit counts). */
const BYTES_PER_COUNT = 64; // = 1 << 6, see unitsOf
/** Bytes per stored key besides its index: key words, packets and bytes, heap weight, heap
 * slot and position. */
const STORE_ENTRY_BYTES = HH_KEY_WORDS * 4 + 16 + 8 + 4 + 4;
/**
 * A bucket is one int32: a 16-bit fingerprint (the top of lane b) above a 16-bit count. Half
 * the size of a (fingerprint, count) pair of words, so twice the buckets for the budget, which
 * is what slow keys need to survive decay (bench/ACCURACY.md); a false fingerprint match
 * (1 in 65,536) only adds another key's packets to an estimate.
 */
const BUCKET_BYTES = 4;
/** Bucket counts saturate here; a key this large is in the store long before. */
const COUNT_MAX = 0xffff;
export const HH_MEMORY_MIN = 4096;
/** 64 MiB: the store then holds about 290k keys, within the index's limit. */
export const HH_MEMORY_MAX = 1 << 26;

/** Where the key words of packet `i` come from when it enters the store. */
export interface KeySource {
  writeKey(i: number, out: Int32Array, o: number): void;
}

export class HeavyHitters {
  readonly byBytes: boolean;
  /** The memory budget the sketch was made for; its shape follows from it. */
  readonly budget: number;
  readonly capacity: number;
  readonly width: number;
  private readonly widthMask: number;
  /** Buckets: fingerprint << 16 | count, row after row. */
  private readonly buckets: Int32Array;
  /** Store: key words, hash lanes, exact counters. */
  readonly keys: Int32Array;
  private readonly index: LaneIndex;
  /** Exact counters of stored keys, packets and bytes side by side (one cache line). */
  private readonly counts: Float64Array;
  /**
   * Min-heap of store entries on `hw`, a snapshot of each entry's weight. Weights only grow, so
   * a snapshot is a lower bound and counting a packet never touches the heap; the root is
   * brought up to date only when the minimum is needed (`least`).
   */
  private readonly heap: Int32Array;
  private readonly pos: Int32Array;
  private readonly hw: Float64Array;
  size = 0;
  private rand = 0x9e3779b9;

  private readonly rows: number;
  private readonly decay: Float64Array;

  /** The hash seed of the lanes this sketch was filled with (kept in its bytes; see _serial.ts). */
  seed = 0;

  constructor(memoryBytes: number, byBytes: boolean, shape: HeavyKeeperShape = HK_SHAPE) {
    if (
      !Number.isInteger(memoryBytes) || memoryBytes < HH_MEMORY_MIN || memoryBytes > HH_MEMORY_MAX
    ) {
      throw new RangeError(
        `Invalid heavy-hitter memory ${memoryBytes} B: ${HH_MEMORY_MIN}..${HH_MEMORY_MAX}`,
      );
    }
    this.byBytes = byBytes;
    this.budget = memoryBytes;
    // Buckets get a power-of-two width (an index is then a mask) at most their share of the
    // budget; the store gets the rest.
    const { rows, decayBase, storeShare } = shape;
    if (!Number.isInteger(rows) || rows < 1 || rows > HK_ROWS_MAX || !(decayBase > 1)) {
      throw new RangeError(`Invalid HeavyKeeper shape ${JSON.stringify(shape)}`);
    }
    this.rows = rows;
    // decay[x]: b^-x scaled to 2^32, compared with a 32-bit random number; beyond
    // 32 ln 2 / ln b steps it is below 1 (never decays), so the table stops there.
    const steps = Math.min(4096, Math.ceil((32 * Math.LN2) / Math.log(decayBase)) + 1);
    this.decay = new Float64Array(steps).map((_, x) =>
      Math.floor(Math.pow(decayBase, -x) * 4294967296)
    );
    const rowBuckets = memoryBytes * (1 - storeShare) / (rows * BUCKET_BYTES);
    this.width = 16;
    while (this.width * 2 <= rowBuckets) this.width *= 2;
    this.widthMask = this.width - 1;
    const left = memoryBytes - rows * this.width * BUCKET_BYTES - this.decay.byteLength;
    let fit = Math.floor(left / (STORE_ENTRY_BYTES + 16));
    while (fit > 16 && fit * STORE_ENTRY_BYTES + LaneIndex.bytesFor(fit) > left) fit--;
    this.capacity = Math.max(16, fit);
    if (this.capacity > LANE_INDEX_MAX) throw new RangeError("Heavy-hitter memory too large");
    this.buckets = new Int32Array(rows * this.width);
    const k = this.capacity;
    this.keys = new Int32Array(k * HH_KEY_WORDS);
    this.index = new LaneIndex(k);
    this.counts = new Float64Array(k * 2);
    this.heap = new Int32Array(k);
    this.pos = new Int32Array(k);
    this.hw = new Float64Array(k);
  }

  get memoryBytes(): number {
    return this.buckets.byteLength + this.decay.byteLength + this.keys.byteLength +
      this.index.memoryBytes + this.counts.byteLength + this.hw.byteLength +
      this.heap.byteLength + this.pos.byteLength;
  }

  packets(e: number): number {
    return this.counts[e * 2]!;
  }
  bytes(e: number): number {
    return this.counts[e * 2 + 1]!;
  }
  private weightOf(e: number): number {
    return this.counts[e * 2 + (this.byBytes ? 1 : 0)]!;
  }
  /** The smallest weight in the store (0 until it is full): the bound on a missed key. */
  minWeight(): number {
    return this.size < this.capacity ? 0 : this.least();
  }

  /** The smallest weight in the store, after bringing the heap root up to date. */
  private least(): number {
    for (;;) {
      const e = this.heap[0]!;
      const w = this.weightOf(e);
      if (this.hw[e] === w) return w;
      this.hw[e] = w;
      this.siftDown(0);
    }
  }

  /**
   * Counts packets j in [from, to) — packet i = list[j], or j without a list — with lanes
   * (a[i], b[i]) and `wire[i]` bytes, skipping those whose `keep[i]` is 0. Stored keys (most
   * packets) are found and counted inline with the fields in locals; the others go through
   * `add`. Returns the packets counted.
   */
  addMany(
    a: Int32Array,
    b: Int32Array,
    wire: Uint32Array,
    keep: Uint8Array,
    from: number,
    to: number,
    list: Int32Array | null,
    src: KeySource,
  ): number {
    const idx = this.index, slots = idx.slots, mask = idx.mask, ia = idx.a, ib = idx.b;
    const counts = this.counts;
    let n = 0;
    for (let j = from; j < to; j++) {
      const i = list === null ? j : list[j]!;
      if (keep[i] === 0) continue;
      n++;
      const x = a[i]!, y = b[i]!, tag = x & SLOT_TAG;
      let e = -1;
      for (let s = x & mask;; s = (s + 1) & mask) {
        const v = slots[s]!;
        if (v === 0) break;
        if ((v & SLOT_TAG) !== tag) continue;
        const c = (v & SLOT_ENTRY) - 1;
        if (ia[c] === x && ib[c] === y) {
          e = c;
          break;
        }
      }
      if (e >= 0) counts[e * 2]!++, counts[e * 2 + 1]! += wire[i]!;
      else this.add(x, y, wire[i]!, src, i);
    }
    return n;
  }

  /** Counts one packet of `bytes` bytes for the key with lanes (a, b); see KeySource. */
  add(a: number, b: number, bytes: number, src: KeySource, i: number): void {
    const e = this.index.find(a, b);
    if (e >= 0) {
      this.counts[e * 2]!++;
      this.counts[e * 2 + 1]! += bytes;
      return;
    }
    const w = this.byBytes ? bytes : 1;
    // At least this packet: a key whose rows were all held by others still sent it.
    const est = Math.max(this.keep(a, b, w), w);
    if (this.size < this.capacity) this.insert(this.size++, true, a, b, est, w, bytes, src, i);
    else if (est > this.hw[this.heap[0]!]! && est > this.least()) {
      const victim = this.heap[0]!;
      this.giveBack(victim);
      this.index.remove(victim);
      this.insert(victim, false, a, b, est, w, bytes, src, i);
    }
  }

  /** Index of row r's bucket for lanes (a, b): rows index by a + r·b (Kirsch–Mitzenmacher). */
  private bucket(r: number, a: number, b: number): number {
    return r * this.width + ((a + Math.imul(r, b | 1)) & this.widthMask);
  }

  /** Bucket count units per weight unit's worth: 1 for packets, 1/64 for bytes. */
  private unitsOf(weight: number): number {
    if (!this.byBytes) return weight;
    // Rounded to the nearest 64 bytes, at least 1; weights above 2^31 saturate anyway.
    return Math.max(1, (Math.min(weight, 0x7fffffff) + BYTES_PER_COUNT / 2) >>> 6);
  }

  /**
   * HeavyKeeper update of every row for a packet of weight `w` (1, or its bytes); returns the
   * key's estimate (largest matching count) in weight units, 0 if no row holds the key.
   */
  private keep(a: number, b: number, w: number): number {
    let est = 0;
    const u = this.unitsOf(w);
    const perStep = this.byBytes ? BYTES_UNIT / BYTES_PER_COUNT : 1;
    const fp = b >>> 16;
    const bk = this.buckets;
    for (let r = 0; r < this.rows; r++) {
      const j = this.bucket(r, a, b);
      const v = bk[j]!;
      const c = v & COUNT_MAX;
      if (v >>> 16 === fp && c !== 0) {
        const n = Math.min(c + u, COUNT_MAX);
        bk[j] = (fp << 16) | n;
        if (n > est) est = n;
      } else if (c === 0) {
        bk[j] = (fp << 16) | u;
        if (u > est) est = u;
      } else {
        const x = Math.floor(c / perStep);
        if (x < this.decay.length && this.next() < this.decay[x]!) {
          if (c <= u) {
            bk[j] = (fp << 16) | u;
            if (u > est) est = u;
          } else bk[j] = v - u;
        }
      }
    }
    // This packet counts exactly; only what came before is in 64-byte units.
    if (!this.byBytes || est === 0) return est;
    return (est - u) * BYTES_PER_COUNT + w;
  }

  /**
   * An evicted key's counted weight goes back to its buckets (taking over a smaller owner),
   * so if it comes back its estimate resumes near its true count instead of from what
   * decay left: without this, keys just under the store's minimum lost most of their count
   * on every round trip.
   */
  private giveBack(e: number): void {
    const a = this.index.a[e]!, b = this.index.b[e]!;
    const u = Math.min(this.unitsOf(this.weightOf(e)), COUNT_MAX);
    const fp = b >>> 16;
    const bk = this.buckets;
    for (let r = 0; r < this.rows; r++) {
      const j = this.bucket(r, a, b);
      const v = bk[j]!, c = v & COUNT_MAX;
      if ((v >>> 16 === fp && c !== 0) || c < u) bk[j] = (fp << 16) | Math.max(c, u);
    }
  }

  /** xorshift32: the decay coin; seeded the same every run so results repeat. */
  private next(): number {
    let x = this.rand;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rand = x;
    return x >>> 0;
  }

  /** Fills entry e (fresh: a new one at the heap's end; else the evicted minimum, at its root). */
  private insert(
    e: number,
    fresh: boolean,
    a: number,
    b: number,
    est: number,
    w: number,
    bytes: number,
    src: KeySource,
    i: number,
  ): void {
    // The estimate counts the weight before and including this packet; the other measure is
    // scaled from this packet's size (documented as an estimate for the part before entry).
    const c = this.counts;
    if (this.byBytes) c[e * 2 + 1] = est, c[e * 2] = Math.max(1, Math.round(est / w));
    else c[e * 2] = est, c[e * 2 + 1] = est * bytes;
    src.writeKey(i, this.keys, e * HH_KEY_WORDS);
    this.place(e, fresh, a, b);
  }

  /** Indexes entry e and restores the heap around it. */
  private place(e: number, fresh: boolean, a: number, b: number): void {
    this.index.insert(e, a, b);
    this.hw[e] = this.weightOf(e);
    if (fresh) {
      const p = this.size - 1;
      this.heap[p] = e, this.pos[e] = p;
      this.siftUp(p);
    } else this.siftDown(this.pos[e]!);
  }

  private siftUp(p: number): void {
    const h = this.heap;
    const e = h[p]!;
    const w = this.hw[e]!;
    while (p > 0) {
      const up = (p - 1) >> 1;
      if (this.hw[h[up]!]! <= w) break;
      h[p] = h[up]!, this.pos[h[p]!] = p;
      p = up;
    }
    h[p] = e, this.pos[e] = p;
  }

  private siftDown(p: number): void {
    const h = this.heap, n = this.size;
    const e = h[p]!;
    const w = this.hw[e]!;
    for (;;) {
      let c = 2 * p + 1;
      if (c >= n) break;
      if (c + 1 < n && this.hw[h[c + 1]!]! < this.hw[h[c]!]!) c++;
      if (this.hw[h[c]!]! >= w) break;
      h[p] = h[c]!, this.pos[h[p]!] = p;
      p = c;
    }
    h[p] = e, this.pos[e] = p;
  }

  /** Store entries by weight, largest first (off the hot path: allocates). */
  top(n = this.size): number[] {
    const es = Array.from({ length: this.size }, (_, e) => e);
    es.sort((x, y) => this.weightOf(y) - this.weightOf(x));
    return es.slice(0, n);
  }

  /**
   * Adds `other`'s stored keys into this one; returns the error bound of a key held on one
   * side only (the other side's smallest stored weight, summed over both sides).
   */
  merge(other: HeavyHitters): number {
    checkSeeds(this.seed, other.seed, "heavy-hitter sketches");
    if (other.byBytes !== this.byBytes) throw new RangeError("Cannot merge: packets vs bytes");
    const bound = this.minWeight() + other.minWeight();
    const src = {
      writeKey: (i: number, out: Int32Array, o: number) => {
        for (let j = 0; j < HH_KEY_WORDS; j++) out[o + j] = other.keys[i * HH_KEY_WORDS + j]!;
      },
    };
    for (let f = 0; f < other.size; f++) {
      const a = other.index.a[f]!, b = other.index.b[f]!;
      const e = this.index.find(a, b);
      if (e >= 0) {
        this.counts[e * 2]! += other.packets(f), this.counts[e * 2 + 1]! += other.bytes(f);
        continue;
      }
      const w = other.weightOf(f);
      const fresh = this.size < this.capacity;
      let slot: number;
      if (fresh) slot = this.size++;
      else if (w > this.least()) {
        slot = this.heap[0]!;
        this.index.remove(slot);
      } else continue;
      this.counts[slot * 2] = other.packets(f), this.counts[slot * 2 + 1] = other.bytes(f);
      src.writeKey(f, this.keys, slot * HH_KEY_WORDS);
      this.place(slot, fresh, a, b);
    }
    return bound;
  }

  clear(): void {
    this.buckets.fill(0), this.index.clear();
    this.size = 0;
    this.rand = 0x9e3779b9;
  }

  /**
   * Header; memory budget (u32), by-bytes (u8), buckets included (u8), stored keys (u32);
   * the buckets (i32: 16-bit fingerprint << 16 | 16-bit count) unless left out; then per stored key its 10 words,
   * two lanes, packets and bytes (f64). Without buckets (`withFilter` false: what the store
   * keeps per window) the bytes are the keys and counts that listing and merging need; a
   * sketch read back from them counts on with empty buckets.
   */
  serialize(withFilter = true): Uint8Array {
    const nb = withFilter ? this.buckets.length : 0;
    const per = HH_KEY_WORDS * 4 + 8 + 16;
    const body = 10 + nb * 4 + this.size * per;
    const { bytes, view, full } = begin(SketchKind.heavyHitters, VERSION, body, this.seed);
    let o = HEADER_BYTES;
    view.setUint32(o, this.budget, true), o += 4;
    bytes[o++] = this.byBytes ? 1 : 0;
    bytes[o++] = withFilter ? 1 : 0;
    view.setUint32(o, this.size, true), o += 4;
    for (let j = 0; j < nb; j++) view.setInt32(o, this.buckets[j]!, true), o += 4;
    for (let e = 0; e < this.size; e++) {
      for (let j = 0; j < HH_KEY_WORDS; j++) {
        view.setInt32(o, this.keys[e * HH_KEY_WORDS + j]!, true), o += 4;
      }
      view.setInt32(o, this.index.a[e]!, true), view.setInt32(o + 4, this.index.b[e]!, true);
      o += 8;
      view.setFloat64(o, this.packets(e), true), view.setFloat64(o + 8, this.bytes(e), true);
      o += 16;
    }
    return full;
  }

  static deserialize(raw: Uint8Array): HeavyHitters {
    const { bytes, view, seed } = open(raw, SketchKind.heavyHitters, VERSION, "heavy hitters");
    if (bytes.length < HEADER_BYTES + 10) expectLength(bytes, HEADER_BYTES + 10, "heavy hitters");
    let o = HEADER_BYTES;
    const h = new HeavyHitters(view.getUint32(o, true), bytes[o + 4] === 1);
    h.seed = seed;
    const nb = bytes[o + 5] === 1 ? h.buckets.length : 0;
    const size = view.getUint32(o + 6, true);
    o += 10;
    const per = HH_KEY_WORDS * 4 + 8 + 16;
    if (size > h.capacity) throw new RangeError("Cannot read heavy hitters: too many keys");
    expectLength(bytes, HEADER_BYTES + 10 + nb * 4 + size * per, "heavy hitters");
    for (let j = 0; j < nb; j++) h.buckets[j] = view.getInt32(o, true), o += 4;
    for (let e = 0; e < size; e++) {
      for (let j = 0; j < HH_KEY_WORDS; j++) {
        h.keys[e * HH_KEY_WORDS + j] = view.getInt32(o, true), o += 4;
      }
      const a = view.getInt32(o, true), b = view.getInt32(o + 4, true);
      o += 8;
      h.counts[e * 2] = view.getFloat64(o, true),
        h.counts[e * 2 + 1] = view.getFloat64(o + 8, true);
      o += 16;
      h.size = e + 1;
      h.place(e, true, a, b);
    }
    return h;
  }
}
