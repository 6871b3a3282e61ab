/**
 * A fixed-size open-addressing index from a key's two hash lanes to an entry number, for the
 * keyed parts of sketches (the heavy-hitter store, the spread candidates). Linear probing at
 * load ≤ 1/2; deletion shifts the rest of the probe run back, so no tombstones build up.
 *
 * A slot is one int32: entry + 1 (0 = empty) in the low 20 bits and the top 12 bits of lane a
 * above, so a probe that meets another key almost never reads that key's lanes. (Slots of
 * four words holding both lanes measured no faster and cost 4× the memory.)
 *
 * @module
 */

/** Entries an index can hold (entry + 1 fits the slot's low 20 bits). */
export const LANE_INDEX_MAX = (1 << 20) - 2;
export const SLOT_ENTRY = 0xfffff;
export const SLOT_TAG = ~SLOT_ENTRY;

export class LaneIndex {
  /** Lanes of each entry by entry number. */
  readonly a: Int32Array;
  readonly b: Int32Array;
  /** Slots and mask, readable so a batch loop can probe inline (see HeavyHitters.addMany). */
  readonly slots: Int32Array;
  readonly mask: number;

  constructor(entries: number) {
    if (!Number.isInteger(entries) || entries < 1 || entries > LANE_INDEX_MAX) {
      throw new RangeError(`Invalid index size ${entries}: 1..${LANE_INDEX_MAX}`);
    }
    this.a = new Int32Array(entries);
    this.b = new Int32Array(entries);
    let s = 2;
    while (s < entries * 2) s *= 2;
    this.slots = new Int32Array(s);
    this.mask = s - 1;
  }

  /** Bytes an index of `entries` entries allocates. */
  static bytesFor(entries: number): number {
    let s = 2;
    while (s < entries * 2) s *= 2;
    return entries * 8 + s * 4;
  }

  get memoryBytes(): number {
    return this.a.byteLength + this.b.byteLength + this.slots.byteLength;
  }

  /** Entry holding lanes (a, b), or -1. */
  find(a: number, b: number): number {
    const m = this.mask, tag = a & SLOT_TAG;
    for (let s = a & m;; s = (s + 1) & m) {
      const v = this.slots[s]!;
      if (v === 0) return -1;
      if ((v & SLOT_TAG) !== tag) continue;
      const e = (v & SLOT_ENTRY) - 1;
      if (this.a[e] === a && this.b[e] === b) return e;
    }
  }

  /** Records entry e under lanes (a, b); e must not be indexed. */
  insert(e: number, a: number, b: number): void {
    this.a[e] = a, this.b[e] = b;
    const m = this.mask;
    let s = a & m;
    while (this.slots[s] !== 0) s = (s + 1) & m;
    this.slots[s] = (e + 1) | (a & SLOT_TAG);
  }

  /** Removes entry e (which must be indexed). */
  remove(e: number): void {
    const m = this.mask;
    let s = this.a[e]! & m;
    while ((this.slots[s]! & SLOT_ENTRY) !== e + 1) s = (s + 1) & m;
    let hole = s;
    for (let t = (s + 1) & m;; t = (t + 1) & m) {
      const v = this.slots[t]!;
      if (v === 0) break;
      const home = this.a[(v & SLOT_ENTRY) - 1]! & m;
      // v may move back into the hole unless its home lies cyclically in (hole, t].
      if (((t - home) & m) >= ((t - hole) & m)) {
        this.slots[hole] = v;
        hole = t;
      }
    }
    this.slots[hole] = 0;
  }

  clear(): void {
    this.slots.fill(0);
  }
}
