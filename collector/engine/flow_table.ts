/**
 * Exact aggregation: an open-addressing hash table over typed arrays with fixed-width keys.
 *
 * Key = 10 × 32-bit words: source address (4 words), destination address (4), ports,
 * and proto | family | presence bits | VLAN. IPv4 and IPv6 live in the same table (IPv4 in
 * word 0, family in the key). Fields not in the task's key are stored as zero, so one table
 * type serves every subset of key fields. Records are dense; a power-of-two slot array at
 * most half full (linear probing) points into them. Nothing is allocated per packet.
 *
 * @module
 */

import {
  FAMILY_NONE,
  FLAG_HAS_PORTS,
  FLAG_HAS_TCP_FLAGS,
  hashKey,
  type KeyField,
  type PacketBatch,
  VLAN_NONE,
} from "../packet/mod.ts";
import { reserveWords } from "./_reserve.ts";
import { KEY, type KeyMask, TABLE_ROW, type TableRows } from "../export/mod.ts";

export const KEY_WORDS = KEY.WORDS;
const W_PORTS = KEY.PORTS;
const W_META = KEY.META;
const META_PORTS_PRESENT = KEY.META_PORTS_PRESENT;
const META_VLAN_PRESENT = KEY.META_VLAN_PRESENT;
const INITIAL_SLOTS = 2048;
const SLOT_INDEX = 0x07ffffff; // record + 1 ≤ 2^26 (the table limit) fits
const SLOT_TAG = ~SLOT_INDEX;

/** Default upper bound on distinct keys per table (≈ 90 MB of records and slots at the bound). */
export const FLOWS_MAX_DEFAULT = 1 << 20;
/**
 * Bytes per key a table may hold at worst: its record (80 B), slots just doubled (load ≤ 1/2:
 * 4 B · 4), its hint words (8 B), with room for the window's rows on their way to the store.
 */
export const TABLE_BYTES_PER_KEY = 136;
/** Default memory budget of the exact tables (`--memory`). */
export const TABLE_MEMORY_DEFAULT = 1 << 30;

/**
 * The key limit per table that keeps `tasks` exact tables, `windows` of them open at once,
 * within `memoryBytes` at the worst case (tables grow as keys come; this is a ceiling).
 */
export function flowsMaxFor(memoryBytes: number, tasks: number, windows = 2): number {
  const n = Math.floor(memoryBytes / (Math.max(1, tasks) * windows * TABLE_BYTES_PER_KEY));
  return Math.max(1, Math.min(1 << 26, n));
}

export type { KeyMask };

export function keyMask(fields: readonly KeyField[]): KeyMask {
  return {
    srcIp: fields.includes("src_ip"),
    dstIp: fields.includes("dst_ip"),
    proto: fields.includes("proto"),
    srcPort: fields.includes("src_port"),
    dstPort: fields.includes("dst_port"),
    vlan: fields.includes("vlan"),
  };
}

// Entry layout (TABLE_ROW, window_export.ts): one 80-byte record of 20 words per key, so an
// update touches one or two cache lines instead of one per field (a struct-of-arrays version of
// this table took about 1.6× as long per packet on the benchmark capture), and a window's rows
// are handed over as they are.
const E_SEC_HI = TABLE_ROW.SEC_HI;
const E_PKTS_LO = TABLE_ROW.PKTS_LO;
const E_PKTS_HI = TABLE_ROW.PKTS_HI;
const E_BYTES_LO = TABLE_ROW.BYTES_LO;
const E_BYTES_HI = TABLE_ROW.BYTES_HI;
const E_FIRST_SEC = TABLE_ROW.FIRST_SEC;
const E_FIRST_NSEC = TABLE_ROW.FIRST_NSEC;
const E_LAST_SEC = TABLE_ROW.LAST_SEC;
const E_LAST_NSEC = TABLE_ROW.LAST_NSEC;
const E_TCP_FLAGS = TABLE_ROW.TCP_FLAGS;
export const ENTRY_WORDS = TABLE_ROW.WORDS;
const TWO_32 = 4294967296;
/** E_FIRST_NSEC of a key without a timestamped packet yet (real values are < 10^9). */
const NO_TS = TABLE_ROW.NO_TIME;

export class FlowTable {
  readonly mask: KeyMask;
  readonly flowsMax: number;
  /** Distinct keys stored. */
  size = 0;
  /** Packets and bytes that found the table full (counted, never silently lost). */
  overflowPackets = 0;
  overflowBytes = 0;
  private capacity = 0;
  /**
   * Open addressing: a slot holds record + 1 (0 = empty) in its low 27 bits and the top 5 bits
   * of the key's hash above, so most probes that meet another key skip its record (a likely
   * cache miss) without growing the slot.
   */
  private slots = new Int32Array(0);
  private slotMask = 0;
  /** Entry records, ENTRY_WORDS words each. */
  private entries = new Int32Array(0);
  private readonly k = new Int32Array(KEY_WORDS);
  /** addBatchHinted's memory: entry + 1 per (tracker record, direction); 0 = not known. */
  private hintEntry = new Int32Array(0);

  constructor(fields: readonly KeyField[], flowsMax = FLOWS_MAX_DEFAULT) {
    if (!Number.isInteger(flowsMax) || flowsMax < 1 || flowsMax > 1 << 26) {
      throw new RangeError(`Invalid flow table limit ${flowsMax}: 1..67108864`);
    }
    this.mask = keyMask(fields);
    this.flowsMax = flowsMax;
    // The record array is reserved at the limit once: the kernel gives its pages as records
    // are first written, so a table costs what it holds, and it never grows by copy (a copy
    // of a million records took 140 ms of page faults on this VM, stalling the thread).
    this.capacity = flowsMax;
    this.entries = this.reserveEntries();
    this.rehash(INITIAL_SLOTS);
  }

  /** The records (TABLE_ROW layout, window_export.ts); valid until the next add. */
  get records(): Int32Array {
    return this.entries;
  }

  /** Bytes of the table's arrays in use (records written, slots, hints). */
  get allocatedBytes(): number {
    return this.slots.byteLength + this.size * ENTRY_WORDS * 4 + this.hintEntry.byteLength;
  }

  /** A fresh record array at the table's limit (reserved: pages come as rows are written). */
  private reserveEntries(): Int32Array<ArrayBuffer> {
    return reserveWords(this.capacity * ENTRY_WORDS, `an exact table of ${this.capacity} keys`);
  }

  /** Rebuilds the slot array at `slotCount` slots (a power of two). */
  private rehash(slotCount: number): void {
    this.slots = new Int32Array(slotCount);
    this.slotMask = slotCount - 1;
    const entries = this.entries;
    for (let e = 0; e < this.size; e++) {
      const h = hashKey(entries, e * ENTRY_WORDS);
      let s = h & this.slotMask;
      while (this.slots[s] !== 0) s = (s + 1) & this.slotMask;
      this.slots[s] = (e + 1) | (h & SLOT_TAG);
    }
  }

  /** Empties the table in place, keeping its memory (window rotation). */
  clear(): void {
    this.slots.fill(0);
    this.hintEntry.fill(0);
    this.size = 0;
    this.overflowPackets = 0;
    this.overflowBytes = 0;
  }

  /**
   * Hands the window's rows over as they are (no copy: the record array itself) and starts
   * the next window empty, on a fresh array of the same capacity (the kernel gives its pages
   * as they are first written).
   */
  handOver(): TableRows {
    const out: TableRows = {
      length: this.size,
      words: this.entries,
      mask: this.mask,
      overflowPackets: this.overflowPackets,
      overflowBytes: this.overflowBytes,
    };
    this.entries = this.reserveEntries();
    this.clear();
    return out;
  }

  packets(e: number): number {
    const o = e * ENTRY_WORDS;
    return (this.entries[o + E_PKTS_HI]! >>> 0) * TWO_32 + (this.entries[o + E_PKTS_LO]! >>> 0);
  }
  bytes(e: number): number {
    const o = e * ENTRY_WORDS;
    return (this.entries[o + E_BYTES_HI]! >>> 0) * TWO_32 + (this.entries[o + E_BYTES_LO]! >>> 0);
  }
  tcpFlags(e: number): number {
    return this.entries[e * ENTRY_WORDS + E_TCP_FLAGS]!;
  }
  /** [sec, nsec] of the first and last timestamped packet, or null if none had one. */
  firstTs(e: number): [number, number] | null {
    const o = e * ENTRY_WORDS;
    if (this.entries[o + E_FIRST_NSEC] === NO_TS) return null;
    const hi = this.entries[o + E_SEC_HI]! & 0xffff;
    return [hi * TWO_32 + (this.entries[o + E_FIRST_SEC]! >>> 0), this.entries[o + E_FIRST_NSEC]!];
  }
  lastTs(e: number): [number, number] | null {
    const o = e * ENTRY_WORDS;
    if (this.entries[o + E_FIRST_NSEC] === NO_TS) return null;
    const hi = this.entries[o + E_SEC_HI]! >>> 16;
    return [hi * TWO_32 + (this.entries[o + E_LAST_SEC]! >>> 0), this.entries[o + E_LAST_NSEC]!];
  }
  /** Key word `j` of entry `e`. */
  keyWord(e: number, j: number): number {
    return this.entries[e * ENTRY_WORDS + j]! >>> 0;
  }

  /**
   * Adds every entry of this table into `target`, whose key fields must be a subset of this
   * table's: a coarser view (e.g. sources from 5-tuples) without a second pass over packets.
   */
  rollupInto(target: FlowTable): void {
    const tm = target.mask;
    const sm = this.mask;
    for (const f of Object.keys(tm) as (keyof KeyMask)[]) {
      if (tm[f] && !sm[f]) {
        throw new RangeError(`Cannot roll up: the source table has no ${f} in its key`);
      }
    }
    const k = new Int32Array(KEY_WORDS);
    const t = this.entries;
    for (let e = 0; e < this.size; e++) {
      const o = e * ENTRY_WORDS;
      for (let j = 0; j < 4; j++) {
        k[j] = tm.srcIp ? t[o + j]! : 0;
        k[4 + j] = tm.dstIp ? t[o + 4 + j]! : 0;
      }
      const meta = t[o + W_META]!;
      let ports = t[o + W_PORTS]!;
      if (!tm.srcPort) ports &= 0xffff;
      if (!tm.dstPort) ports &= ~0xffff;
      let m = 0;
      if ((meta & META_PORTS_PRESENT) !== 0 && (tm.srcPort || tm.dstPort)) m |= META_PORTS_PRESENT;
      else ports = 0;
      if (tm.proto) m |= meta & 0xff;
      if (tm.srcIp || tm.dstIp) m |= meta & 0x700;
      if (tm.vlan) m |= meta & (META_VLAN_PRESENT | 0x0fff0000);
      k[W_PORTS] = ports;
      k[W_META] = m;
      const d = target.findOrInsert(k, 0, hashKey(k, 0));
      if (d < 0) {
        target.overflowPackets += this.packets(e);
        target.overflowBytes += this.bytes(e);
        continue;
      }
      target.mergeEntry(d * ENTRY_WORDS, t, o);
    }
  }

  /** Adds the counters of record `so` of `src` into record `o` of this table. */
  private mergeEntry(o: number, src: Int32Array, so: number): void {
    const t = this.entries;
    const pk = (t[o + E_PKTS_LO]! >>> 0) + (src[so + E_PKTS_LO]! >>> 0);
    t[o + E_PKTS_LO] = pk % TWO_32;
    t[o + E_PKTS_HI] = (t[o + E_PKTS_HI]! >>> 0) + (src[so + E_PKTS_HI]! >>> 0) +
      Math.floor(pk / TWO_32);
    const by = (t[o + E_BYTES_LO]! >>> 0) + (src[so + E_BYTES_LO]! >>> 0);
    t[o + E_BYTES_LO] = by % TWO_32;
    t[o + E_BYTES_HI] = (t[o + E_BYTES_HI]! >>> 0) + (src[so + E_BYTES_HI]! >>> 0) +
      Math.floor(by / TWO_32);
    t[o + E_TCP_FLAGS] = t[o + E_TCP_FLAGS]! | src[so + E_TCP_FLAGS]!;
    if (src[so + E_FIRST_NSEC] === NO_TS) return;
    const srcHi = src[so + E_SEC_HI]!;
    const fs = (srcHi & 0xffff) * TWO_32 + (src[so + E_FIRST_SEC]! >>> 0),
      fn = src[so + E_FIRST_NSEC]!;
    const ls = (srcHi >>> 16) * TWO_32 + (src[so + E_LAST_SEC]! >>> 0), ln = src[so + E_LAST_NSEC]!;
    const empty = t[o + E_FIRST_NSEC] === NO_TS;
    const hi = t[o + E_SEC_HI]!;
    const myFirst = (hi & 0xffff) * TWO_32 + (t[o + E_FIRST_SEC]! >>> 0);
    const myLast = (hi >>> 16) * TWO_32 + (t[o + E_LAST_SEC]! >>> 0);
    let firstHi = hi & 0xffff, lastHi = hi >>> 16;
    if (empty || fs < myFirst || (fs === myFirst && fn < t[o + E_FIRST_NSEC]!)) {
      t[o + E_FIRST_SEC] = fs % TWO_32, t[o + E_FIRST_NSEC] = fn, firstHi = srcHi & 0xffff;
    }
    if (empty || ls > myLast || (ls === myLast && ln > t[o + E_LAST_NSEC]!)) {
      t[o + E_LAST_SEC] = ls % TWO_32, t[o + E_LAST_NSEC] = ln, lastHi = srcHi >>> 16;
    }
    t[o + E_SEC_HI] = firstHi | (lastHi << 16);
  }

  /** Adds the IP packets of slots [from, to) of a decoded batch (default: all of it). */
  addBatch(batch: PacketBatch, from = 0, to = batch.length): void {
    const k = this.k;
    for (let i = from; i < to; i++) {
      if (batch.family[i] === FAMILY_NONE) continue;
      const e = this.findOrInsert(k, 0, this.buildKey(batch, i, k, 0));
      this.count(e, batch, i);
    }
  }

  /**
   * addBatch with the flow tracker's hints (FlowTracker.addBatch): a packet's table entry is
   * a function of its tracked flow and direction, since every key field is part of the
   * tracker's key. So the entry found for a (record, direction) is remembered for the window
   * and later packets of that flow skip the hash and slot probe (the lookup's cache misses).
   * A record taken for a new flow forgets both its directions. Same counts as addBatch.
   */
  addBatchHinted(batch: PacketBatch, from: number, to: number, hints: Int32Array): void {
    const k = this.k;
    for (let i = from; i < to; i++) {
      if (batch.family[i] === FAMILY_NONE) continue;
      const hint = hints[i]!;
      let e = -1, c = -1;
      if (hint >= 0) {
        c = hint >>> 1;
        if (c >= this.hintEntry.length) this.growHints(c);
        const cache = this.hintEntry;
        if ((hint & 1) !== 0) cache[c & ~1] = 0, cache[c | 1] = 0;
        else e = cache[c]! - 1;
      }
      if (e < 0) {
        e = this.findOrInsert(k, 0, this.buildKey(batch, i, k, 0));
        if (e >= 0 && c >= 0) this.hintEntry[c] = e + 1;
      }
      this.count(e, batch, i);
    }
  }

  /**
   * Forgets the remembered entries of tracker records that `hints[from..to)` says were reused
   * for another flow (the packets went to another window's table, which saw the reuse itself).
   */
  forgetReused(hints: Int32Array, from: number, to: number): void {
    const cache = this.hintEntry;
    for (let i = from; i < to; i++) {
      const hint = hints[i]!;
      if (hint < 0 || (hint & 1) === 0) continue;
      const c = hint >>> 1;
      if (c < cache.length) cache[c & ~1] = 0, cache[c | 1] = 0;
    }
  }

  /** Counts packet i into entry e, or as overflow when the table had no room (e < 0). */
  private count(e: number, batch: PacketBatch, i: number): void {
    const wire = batch.wireLen[i]!;
    if (e >= 0) this.account(e * ENTRY_WORDS, batch, i, wire, batch.flags[i]!);
    else this.overflowPackets++, this.overflowBytes += wire;
  }

  private growHints(c: number): void {
    let n = Math.max(1024, this.hintEntry.length);
    while (n <= (c | 1)) n *= 2;
    const bigger = new Int32Array(n);
    bigger.set(this.hintEntry);
    this.hintEntry = bigger;
  }

  /** Writes packet `i`'s masked key at `k[ko..ko+10)` and returns its hash. */
  private buildKey(batch: PacketBatch, i: number, k: Int32Array, ko: number): number {
    writeKey(batch, i, this.mask, k, ko);
    return hashKey(k, ko);
  }

  private account(o: number, batch: PacketBatch, i: number, wire: number, fl: number): void {
    const t = this.entries;
    const pk = (t[o + E_PKTS_LO]! >>> 0) + 1;
    if (pk === TWO_32) t[o + E_PKTS_LO] = 0, t[o + E_PKTS_HI]!++;
    else t[o + E_PKTS_LO] = pk;
    const by = (t[o + E_BYTES_LO]! >>> 0) + wire;
    if (by >= TWO_32) t[o + E_BYTES_LO] = by - TWO_32, t[o + E_BYTES_HI]!++;
    else t[o + E_BYTES_LO] = by;
    if ((fl & FLAG_HAS_TCP_FLAGS) !== 0) {
      t[o + E_TCP_FLAGS] = t[o + E_TCP_FLAGS]! | batch.tcpFlags[i]!;
    }
    const secAll = batch.tsSec[i]!;
    if (secAll !== secAll) return; // no timestamp (pcapng SPB)
    // Seconds are kept to 48 bits: 32 here, 16 in E_SEC_HI (captures carry odd values).
    const sec = secAll >>> 0;
    const secHi = secAll > 0xffffffff ? Math.min(Math.floor(secAll / TWO_32), 0xffff) : 0;
    const nsec = batch.tsNsec[i]!;
    const hiWord = t[o + E_SEC_HI]!;
    if (t[o + E_FIRST_NSEC] === NO_TS) {
      t[o + E_FIRST_SEC] = sec,
        t[o + E_FIRST_NSEC] = nsec,
        t[o + E_LAST_SEC] = sec,
        t[o + E_LAST_NSEC] = nsec;
      t[o + E_SEC_HI] = secHi | (secHi << 16);
      return;
    }
    const fHi = hiWord & 0xffff, lHi = hiWord >>> 16;
    const fs = t[o + E_FIRST_SEC]! >>> 0;
    if (
      secHi < fHi || (secHi === fHi && (sec < fs || (sec === fs && nsec < t[o + E_FIRST_NSEC]!)))
    ) {
      t[o + E_FIRST_SEC] = sec, t[o + E_FIRST_NSEC] = nsec;
      t[o + E_SEC_HI] = (t[o + E_SEC_HI]! & ~0xffff) | secHi;
    }
    const ls = t[o + E_LAST_SEC]! >>> 0;
    if (
      secHi > lHi || (secHi === lHi && (sec > ls || (sec === ls && nsec > t[o + E_LAST_NSEC]!)))
    ) {
      t[o + E_LAST_SEC] = sec, t[o + E_LAST_NSEC] = nsec;
      t[o + E_SEC_HI] = (t[o + E_SEC_HI]! & 0xffff) | (secHi << 16);
    }
  }

  /** Returns the record index for the key at `k[ko..]` with hash `h`, inserting it; -1 when full. */
  private findOrInsert(k: Int32Array, ko: number, h: number): number {
    const t = this.entries;
    const tag = h & SLOT_TAG;
    let s = h & this.slotMask;
    for (;;) {
      const slot = this.slots[s]!;
      if (slot === 0) break;
      const o = ((slot & SLOT_INDEX) - 1) * ENTRY_WORDS;
      if (
        (slot & SLOT_TAG) === tag && t[o] === k[ko] && t[o + 1] === k[ko + 1] &&
        t[o + 2] === k[ko + 2] &&
        t[o + 3] === k[ko + 3] && t[o + 4] === k[ko + 4] && t[o + 5] === k[ko + 5] &&
        t[o + 6] === k[ko + 6] && t[o + 7] === k[ko + 7] && t[o + 8] === k[ko + 8] &&
        t[o + 9] === k[ko + 9]
      ) return (slot & SLOT_INDEX) - 1;
      s = (s + 1) & this.slotMask;
    }
    if (this.size === this.capacity) return -1;
    if ((this.size + 1) * 2 > this.slots.length) {
      // Keep the load factor ≤ 1/2 so probes stay short; indexes stay valid across this.
      this.rehash(this.slots.length * 2);
      return this.findOrInsert(k, ko, h);
    }
    const e = this.size++;
    this.slots[s] = (e + 1) | tag;
    const o = e * ENTRY_WORDS;
    const entries = this.entries;
    for (let j = 0; j < KEY_WORDS; j++) entries[o + j] = k[ko + j]!;
    entries.fill(0, o + KEY_WORDS, o + ENTRY_WORDS);
    entries[o + E_FIRST_NSEC] = NO_TS;
    return e;
  }
}

/**
 * Writes packet `i`'s key under `m` at `k[ko..ko+10)`: fields outside the mask are zero, so
 * every subset of key fields shares one layout (the flow table's and the sketches').
 */
export function writeKey(
  batch: PacketBatch,
  i: number,
  m: KeyMask,
  k: Int32Array,
  ko: number,
): void {
  const w = i * 4;
  if (m.srcIp) {
    k[ko] = batch.src[w]!, k[ko + 1] = batch.src[w + 1]!;
    k[ko + 2] = batch.src[w + 2]!, k[ko + 3] = batch.src[w + 3]!;
  } else k[ko] = 0, k[ko + 1] = 0, k[ko + 2] = 0, k[ko + 3] = 0;
  if (m.dstIp) {
    k[ko + 4] = batch.dst[w]!, k[ko + 5] = batch.dst[w + 1]!;
    k[ko + 6] = batch.dst[w + 2]!, k[ko + 7] = batch.dst[w + 3]!;
  } else k[ko + 4] = 0, k[ko + 5] = 0, k[ko + 6] = 0, k[ko + 7] = 0;
  k[ko + W_PORTS] = keyPorts(batch, i, m);
  k[ko + W_META] = keyMeta(batch, i, m);
}

/** The ports word of packet i's key under `m`: 0 when the mask or the packet has no ports. */
export function keyPorts(batch: PacketBatch, i: number, m: KeyMask): number {
  if ((batch.flags[i]! & FLAG_HAS_PORTS) === 0 || !(m.srcPort || m.dstPort)) return 0;
  return (m.srcPort ? batch.srcPort[i]! << 16 : 0) | (m.dstPort ? batch.dstPort[i]! : 0);
}

/**
 * The meta word of packet i's key under `m`: proto, family (with an address), the ports
 * presence bit, and the VLAN presence bit and id.
 */
export function keyMeta(batch: PacketBatch, i: number, m: KeyMask): number {
  let meta = 0;
  if ((batch.flags[i]! & FLAG_HAS_PORTS) !== 0 && (m.srcPort || m.dstPort)) {
    meta = META_PORTS_PRESENT;
  }
  if (m.proto) meta |= batch.proto[i]!;
  if (m.srcIp || m.dstIp) meta |= batch.family[i]! << 8;
  if (m.vlan) {
    const v = batch.vlan[i]!;
    if (v !== VLAN_NONE) meta |= META_VLAN_PRESENT | (v << 16);
  }
  return meta;
}

/** Decoded view of one key, for reports. */
export interface FlowKeyView {
  family: number;
  src: Uint32Array;
  dst: Uint32Array;
  proto: number | null;
  srcPort: number | null;
  dstPort: number | null;
  vlan: number | null;
}

/** Reads entry `e`'s key back (off the hot path: allocates). */
export function readKey(t: FlowTable, e: number): FlowKeyView {
  const meta = t.keyWord(e, W_META);
  const ports = t.keyWord(e, W_PORTS);
  const src = new Uint32Array(4);
  const dst = new Uint32Array(4);
  for (let j = 0; j < 4; j++) src[j] = t.keyWord(e, j), dst[j] = t.keyWord(e, 4 + j);
  const portsPresent = (meta & META_PORTS_PRESENT) !== 0;
  return {
    family: (meta >>> 8) & 0x7,
    src,
    dst,
    proto: t.mask.proto ? meta & 0xff : null,
    srcPort: portsPresent && t.mask.srcPort ? ports >>> 16 : null,
    dstPort: portsPresent && t.mask.dstPort ? ports & 0xffff : null,
    vlan: (meta & META_VLAN_PRESENT) !== 0 ? meta >>> 16 : null,
  };
}
