/**
 * A per-window aggregation table keyed by text plus a number (a DNS name and query type; an
 * HTTP host, method and path): fixed float64 counters per key, keys copied once into an
 * arena when first seen, so counting a packet whose key is already there copies nothing and
 * allocates nothing. Strings are made only when the window is written (`keyText`).
 *
 * Limits are checked at start: at most `entriesMax` keys and `arenaBytes` of key text per
 * window; a packet whose new key does not fit is counted in `overflow`, never lost silently.
 * The arrays start small and double up to those limits, so a quiet window costs little.
 *
 * @module
 */

import { LANE_INDEX_MAX, LaneIndex } from "../../sketches/mod.ts";
import { hashBytes } from "../../sketches/mod.ts";
import { KEY_SEED } from "../packet/mod.ts";
import type { TextRows } from "../export/mod.ts";

export class TextTable {
  size = 0;
  /** Packets whose key found the table (or its arena) full. */
  overflow = 0;
  readonly counters: number;
  readonly entriesMax: number;
  readonly arenaMax: number;
  private capacity = 0;
  private index: LaneIndex = new LaneIndex(1);
  private arena: Uint8Array;
  private arenaUsed = 0;
  private keyOff = new Int32Array(0);
  private keyLen = new Int32Array(0);
  keyNum = new Int32Array(0);
  /** counters per entry, entry after entry. */
  values = new Float64Array(0);
  private readonly lanes = new Int32Array(2);

  constructor(counters: number, entriesMax: number, arenaBytes: number) {
    if (!Number.isInteger(entriesMax) || entriesMax < 1 || entriesMax > LANE_INDEX_MAX) {
      throw new RangeError(`Invalid text table size ${entriesMax}: 1..${LANE_INDEX_MAX}`);
    }
    if (!Number.isInteger(arenaBytes) || arenaBytes < 1 || arenaBytes > 1 << 28) {
      throw new RangeError(`Invalid text table arena ${arenaBytes} B: 1..2^28`);
    }
    this.counters = counters;
    this.entriesMax = entriesMax;
    this.arenaMax = arenaBytes;
    this.arena = new Uint8Array(Math.min(arenaBytes, INITIAL_ARENA));
    this.grow(Math.min(entriesMax, INITIAL_ENTRIES));
  }

  /** Re-makes the arrays for `capacity` entries, keeping the entries (and their lanes). */
  private grow(capacity: number): void {
    const old = this.index;
    this.index = new LaneIndex(capacity);
    for (let e = 0; e < this.size; e++) this.index.insert(e, old.a[e]!, old.b[e]!);
    const copy = <T extends Int32Array | Float64Array>(a: T, n: number, make: (n: number) => T) => {
      const b = make(n);
      b.set(a.subarray(0, Math.min(a.length, n)));
      return b;
    };
    this.keyOff = copy(this.keyOff, capacity, (n) => new Int32Array(n));
    this.keyLen = copy(this.keyLen, capacity, (n) => new Int32Array(n));
    this.keyNum = copy(this.keyNum, capacity, (n) => new Int32Array(n));
    this.values = copy(this.values, capacity * this.counters, (n) => new Float64Array(n));
    this.capacity = capacity;
  }

  /**
   * The entry of key (bytes `b[off, off + len)`, `num`), inserted with zero counters if new;
   * -1 when it is new and does not fit (counted in `overflow`).
   */
  entry(b: Uint8Array, off: number, len: number, num: number): number {
    hashBytes(b, off, len, num ^ KEY_SEED, this.lanes);
    const a = this.lanes[0]!, h = this.lanes[1]!;
    const e = this.index.find(a, h);
    if (e >= 0) return e;
    if (this.size === this.capacity && this.capacity < this.entriesMax) {
      this.grow(Math.min(this.capacity * 2, this.entriesMax));
    }
    while (this.arenaUsed + len > this.arena.length && this.arena.length < this.arenaMax) {
      const bigger = new Uint8Array(Math.min(this.arena.length * 2, this.arenaMax));
      bigger.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = bigger;
    }
    if (this.size === this.capacity || this.arenaUsed + len > this.arena.length) {
      this.overflow++;
      return -1;
    }
    const n = this.size++;
    this.arena.set(b.subarray(off, off + len), this.arenaUsed);
    this.keyOff[n] = this.arenaUsed, this.keyLen[n] = len, this.keyNum[n] = num;
    this.arenaUsed += len;
    this.values.fill(0, n * this.counters, (n + 1) * this.counters);
    this.index.insert(n, a, h);
    return n;
  }

  /**
   * Hands the rows over as they are (no copy, no strings) and starts empty on fresh arrays,
   * which grow again as keys come.
   */
  handOver(): TextRows {
    const out: TextRows = {
      length: this.size,
      arena: this.arena,
      offsets: this.keyOff,
      lengths: this.keyLen,
      nums: this.keyNum,
      values: this.values,
      counters: this.counters,
    };
    this.index = new LaneIndex(1);
    this.keyOff = new Int32Array(0), this.keyLen = new Int32Array(0);
    this.keyNum = new Int32Array(0), this.values = new Float64Array(0);
    this.arena = new Uint8Array(Math.min(this.arenaMax, INITIAL_ARENA));
    this.capacity = 0, this.size = 0, this.arenaUsed = 0, this.overflow = 0;
    this.grow(Math.min(this.entriesMax, INITIAL_ENTRIES));
    return out;
  }

  /** Entry e's key text (allocates: at window writes). */
  keyText(e: number): string {
    const o = this.keyOff[e]!;
    return TEXT.decode(this.arena.subarray(o, o + this.keyLen[e]!));
  }

  clear(): void {
    if (this.size === 0 && this.overflow === 0) return; // windows without any: nothing to wipe
    this.index.clear();
    this.size = 0;
    this.arenaUsed = 0;
    this.overflow = 0;
  }
}

const TEXT = new TextDecoder("latin1");
const INITIAL_ENTRIES = 1024;
const INITIAL_ARENA = 64 * 1024;
