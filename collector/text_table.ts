/**
 * A per-window aggregation table keyed by text plus a number (a DNS name and query type; an
 * HTTP host, method and path): fixed float64 counters per key, keys copied once into an
 * arena when first seen, so counting a packet whose key is already there copies nothing and
 * allocates nothing. Strings are made only when the window is written (`keyText`).
 *
 * Limits are checked at start: at most `entriesMax` keys and `arenaBytes` of key text per
 * window; a packet whose new key does not fit is counted in `overflow`, never lost silently.
 *
 * @module
 */

import { LANE_INDEX_MAX, LaneIndex } from "../sketches/_lane_index.ts";
import { hashBytes } from "../sketches/hash.ts";

export class TextTable {
  size = 0;
  /** Packets whose key found the table (or its arena) full. */
  overflow = 0;
  readonly counters: number;
  readonly entriesMax: number;
  private readonly index: LaneIndex;
  private readonly arena: Uint8Array;
  private arenaUsed = 0;
  private readonly keyOff: Int32Array;
  private readonly keyLen: Int32Array;
  readonly keyNum: Int32Array;
  /** counters per entry, entry after entry. */
  readonly values: Float64Array;
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
    this.index = new LaneIndex(entriesMax);
    this.arena = new Uint8Array(arenaBytes);
    this.keyOff = new Int32Array(entriesMax);
    this.keyLen = new Int32Array(entriesMax);
    this.keyNum = new Int32Array(entriesMax);
    this.values = new Float64Array(entriesMax * counters);
  }

  /**
   * The entry of key (bytes `b[off, off + len)`, `num`), inserted with zero counters if new;
   * -1 when it is new and does not fit (counted in `overflow`).
   */
  entry(b: Uint8Array, off: number, len: number, num: number): number {
    hashBytes(b, off, len, num, this.lanes);
    const a = this.lanes[0]!, h = this.lanes[1]!;
    const e = this.index.find(a, h);
    if (e >= 0) return e;
    if (this.size === this.entriesMax || this.arenaUsed + len > this.arena.length) {
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

  /** Entry e's key text (allocates: at window writes). */
  keyText(e: number): string {
    const o = this.keyOff[e]!;
    return TEXT.decode(this.arena.subarray(o, o + this.keyLen[e]!));
  }

  clear(): void {
    this.index.clear();
    this.size = 0;
    this.arenaUsed = 0;
    this.overflow = 0;
  }
}

const TEXT = new TextDecoder("latin1");
