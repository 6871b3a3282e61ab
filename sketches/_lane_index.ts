/**
 * A fixed-size open-addressing index from a key's two hash lanes to an entry number, for the
 * keyed parts of sketches (the heavy-hitter store, the spread candidates). Linear probing at
 * load ≤ 1/2; deletion shifts the rest of the probe run back, so no tombstones build up.
 *
 * A slot is four int32 words — lane a, lane b, entry + 1 (0 = empty), spare — so a probe
 * reads one 16-byte slot and a hit needs no second memory access: this lookup runs for every
 * packet of every keyed sketch.
 *
 * @module
 */

/** Entries an index can hold. */
export const LANE_INDEX_MAX = 1 << 24;
const SLOT_WORDS = 4;

export class LaneIndex {
  /** Lanes of each entry by entry number (for serialising and merging). */
  readonly a: Int32Array;
  readonly b: Int32Array;
  private readonly slots: Int32Array;
  private readonly mask: number;

  constructor(entries: number) {
    if (!Number.isInteger(entries) || entries < 1 || entries > LANE_INDEX_MAX) {
      throw new RangeError(`Invalid index size ${entries}: 1..${LANE_INDEX_MAX}`);
    }
    this.a = new Int32Array(entries);
    this.b = new Int32Array(entries);
    let s = 2;
    while (s < entries * 2) s *= 2;
    this.slots = new Int32Array(s * SLOT_WORDS);
    this.mask = s - 1;
  }

  get memoryBytes(): number {
    return this.a.byteLength + this.b.byteLength + this.slots.byteLength;
  }

  /** Entry holding lanes (a, b), or -1. */
  find(a: number, b: number): number {
    const m = this.mask, t = this.slots;
    for (let s = a & m;; s = (s + 1) & m) {
      const o = s * SLOT_WORDS;
      const v = t[o + 2]!;
      if (v === 0) return -1;
      if (t[o] === a && t[o + 1] === b) return v - 1;
    }
  }

  /** Records entry e under lanes (a, b); e must not be indexed. */
  insert(e: number, a: number, b: number): void {
    this.a[e] = a, this.b[e] = b;
    const m = this.mask, t = this.slots;
    let s = a & m;
    while (t[s * SLOT_WORDS + 2] !== 0) s = (s + 1) & m;
    const o = s * SLOT_WORDS;
    t[o] = a, t[o + 1] = b, t[o + 2] = e + 1;
  }

  /** Removes entry e (which must be indexed). */
  remove(e: number): void {
    const m = this.mask, t = this.slots;
    let s = this.a[e]! & m;
    while (t[s * SLOT_WORDS + 2] !== e + 1) s = (s + 1) & m;
    let hole = s;
    for (let u = (s + 1) & m;; u = (u + 1) & m) {
      const o = u * SLOT_WORDS;
      if (t[o + 2] === 0) break;
      const home = t[o]! & m;
      // The slot may move back into the hole unless its home lies cyclically in (hole, u].
      if (((u - home) & m) >= ((u - hole) & m)) {
        t.copyWithin(hole * SLOT_WORDS, o, o + SLOT_WORDS);
        hole = u;
      }
    }
    t.fill(0, hole * SLOT_WORDS, (hole + 1) * SLOT_WORDS);
  }

  clear(): void {
    this.slots.fill(0);
  }
}
