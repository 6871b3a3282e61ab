/**
 * Exact aggregation: an open-addressing hash table over typed arrays with fixed-width keys.
 *
 * Key = 10 × 32-bit words: source address (4 words), destination address (4), ports,
 * and proto | family | presence bits | VLAN. IPv4 and IPv6 live in the same table (IPv4 in
 * word 0, family in the key). Fields not in the task's key are stored as zero, so one table
 * type serves every subset of key fields. Entries are dense; a slot array of twice the
 * entry capacity (linear probing) points into them. Nothing is allocated per packet.
 *
 * @module
 */

import {
  FAMILY_NONE,
  FLAG_HAS_PORTS,
  FLAG_HAS_TCP_FLAGS,
  type PacketBatch,
  VLAN_NONE,
} from "./batch.ts";
import type { KeyField } from "./key_fields.ts";

export const KEY_WORDS = 10;
const W_PORTS = 8;
const W_META = 9;
const META_PORTS_PRESENT = 1 << 11;
const META_VLAN_PRESENT = 1 << 12;
const INITIAL_CAPACITY = 1024;
/** Default upper bound on distinct keys per table (≈ 90 MB at the bound). */
export const FLOWS_MAX_DEFAULT = 1 << 20;

/** Which parts of the key a task keeps. */
export interface KeyMask {
  srcIp: boolean;
  dstIp: boolean;
  proto: boolean;
  srcPort: boolean;
  dstPort: boolean;
  vlan: boolean;
}

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

export class FlowTable {
  readonly mask: KeyMask;
  readonly flowsMax: number;
  /** Distinct keys stored. */
  size = 0;
  /** Packets and bytes that found the table full (counted, never silently lost). */
  overflowPackets = 0;
  overflowBytes = 0;
  private capacity: number;
  private slots: Int32Array;
  private slotMask: number;
  keys: Uint32Array;
  hashes: Uint32Array;
  packets: Float64Array;
  bytes: Float64Array;
  firstSec: Uint32Array;
  firstNsec: Uint32Array;
  lastSec: Uint32Array;
  lastNsec: Uint32Array;
  tcpFlags: Uint16Array;
  private readonly k = new Uint32Array(KEY_WORDS);

  constructor(fields: readonly KeyField[], flowsMax = FLOWS_MAX_DEFAULT) {
    if (!Number.isInteger(flowsMax) || flowsMax < 1 || flowsMax > 1 << 26) {
      throw new RangeError(`Invalid flow table limit ${flowsMax}: 1..67108864`);
    }
    this.mask = keyMask(fields);
    this.flowsMax = flowsMax;
    this.capacity = Math.min(INITIAL_CAPACITY, flowsMax);
    this.slots = new Int32Array(0);
    this.slotMask = 0;
    this.keys = new Uint32Array(0);
    this.hashes = new Uint32Array(0);
    this.packets = new Float64Array(0);
    this.bytes = new Float64Array(0);
    this.firstSec = new Uint32Array(0);
    this.firstNsec = new Uint32Array(0);
    this.lastSec = new Uint32Array(0);
    this.lastNsec = new Uint32Array(0);
    this.tcpFlags = new Uint16Array(0);
    this.resize(this.capacity);
  }

  /** Bytes held by the table's arrays (for the ≤ 150 B/flow budget). */
  get allocatedBytes(): number {
    return this.slots.byteLength + this.keys.byteLength + this.hashes.byteLength +
      this.packets.byteLength + this.bytes.byteLength + this.firstSec.byteLength * 4 +
      this.tcpFlags.byteLength;
  }

  private resize(capacity: number): void {
    const grow = <T extends Uint32Array | Float64Array | Uint16Array>(old: T, n: number): T => {
      const next = new (old.constructor as { new (n: number): T })(n);
      next.set(old.subarray(0, Math.min(old.length, n)) as unknown as ArrayLike<number>);
      return next;
    };
    this.keys = grow(this.keys, capacity * KEY_WORDS);
    this.hashes = grow(this.hashes, capacity);
    this.packets = grow(this.packets, capacity);
    this.bytes = grow(this.bytes, capacity);
    this.firstSec = grow(this.firstSec, capacity);
    this.firstNsec = grow(this.firstNsec, capacity);
    this.lastSec = grow(this.lastSec, capacity);
    this.lastNsec = grow(this.lastNsec, capacity);
    this.tcpFlags = grow(this.tcpFlags, capacity);
    let slotCount = 2;
    while (slotCount < capacity * 2) slotCount *= 2;
    this.slots = new Int32Array(slotCount);
    this.slotMask = slotCount - 1;
    for (let e = 0; e < this.size; e++) {
      let s = this.hashes[e]! & this.slotMask;
      while (this.slots[s] !== 0) s = (s + 1) & this.slotMask;
      this.slots[s] = e + 1;
    }
    this.capacity = capacity;
  }

  /** Empties the table in place, keeping its memory (window rotation). */
  clear(): void {
    this.slots.fill(0);
    this.size = 0;
    this.overflowPackets = 0;
    this.overflowBytes = 0;
  }

  /** Adds every IP packet of a decoded batch. */
  addBatch(batch: PacketBatch): void {
    const n = batch.length;
    const m = this.mask;
    const k = this.k;
    for (let i = 0; i < n; i++) {
      const family = batch.family[i]!;
      if (family === FAMILY_NONE) continue;
      const w = i * 4;
      const fl = batch.flags[i]!;
      const hasPorts = (fl & FLAG_HAS_PORTS) !== 0;
      if (m.srcIp) {
        k[0] = batch.src[w]!,
          k[1] = batch.src[w + 1]!,
          k[2] = batch.src[w + 2]!,
          k[3] = batch.src[w + 3]!;
      } else k[0] = 0, k[1] = 0, k[2] = 0, k[3] = 0;
      if (m.dstIp) {
        k[4] = batch.dst[w]!,
          k[5] = batch.dst[w + 1]!,
          k[6] = batch.dst[w + 2]!,
          k[7] = batch.dst[w + 3]!;
      } else k[4] = 0, k[5] = 0, k[6] = 0, k[7] = 0;
      let ports = 0;
      let meta = 0;
      if (hasPorts && (m.srcPort || m.dstPort)) {
        if (m.srcPort) ports = batch.srcPort[i]! << 16;
        if (m.dstPort) ports |= batch.dstPort[i]!;
        meta = META_PORTS_PRESENT;
      }
      k[W_PORTS] = ports >>> 0;
      if (m.proto) meta |= batch.proto[i]!;
      if (m.srcIp || m.dstIp) meta |= family << 8;
      if (m.vlan) {
        const v = batch.vlan[i]!;
        if (v !== VLAN_NONE) meta |= META_VLAN_PRESENT | (v << 16);
      }
      k[W_META] = meta >>> 0;
      const e = this.findOrInsert(k);
      const wire = batch.wireLen[i]!;
      if (e < 0) {
        this.overflowPackets++;
        this.overflowBytes += wire;
        continue;
      }
      this.account(e, batch, i, wire, fl);
    }
  }

  private account(e: number, batch: PacketBatch, i: number, wire: number, fl: number): void {
    const sec = batch.tsSec[i]!;
    this.packets[e]! += 1;
    this.bytes[e]! += wire;
    if ((fl & FLAG_HAS_TCP_FLAGS) !== 0) this.tcpFlags[e]! |= batch.tcpFlags[i]!;
    if (sec !== sec) return; // no timestamp (pcapng SPB)
    const nsec = batch.tsNsec[i]!;
    if (this.firstSec[e] === 0xffffffff) { // first timestamped packet of this key
      this.firstSec[e] = sec,
        this.firstNsec[e] = nsec,
        this.lastSec[e] = sec,
        this.lastNsec[e] = nsec;
      return;
    }
    const fs = this.firstSec[e]!;
    if (sec < fs || (sec === fs && nsec < this.firstNsec[e]!)) {
      this.firstSec[e] = sec, this.firstNsec[e] = nsec;
    }
    const ls = this.lastSec[e]!;
    if (sec > ls || (sec === ls && nsec > this.lastNsec[e]!)) {
      this.lastSec[e] = sec, this.lastNsec[e] = nsec;
    }
  }

  /** Returns the entry index for key `k`, inserting it; -1 when the table is full. */
  private findOrInsert(k: Uint32Array): number {
    let h = 0x9747b28c;
    for (let j = 0; j < KEY_WORDS; j++) {
      let x = Math.imul(k[j]!, 0xcc9e2d51);
      x = (x << 15) | (x >>> 17);
      h ^= Math.imul(x, 0x1b873593);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    h >>>= 0;
    const keys = this.keys;
    let s = h & this.slotMask;
    for (;;) {
      const slot = this.slots[s]!;
      if (slot === 0) break;
      const e = slot - 1;
      if (this.hashes[e] === h) {
        const o = e * KEY_WORDS;
        if (
          keys[o] === k[0] && keys[o + 1] === k[1] && keys[o + 2] === k[2] &&
          keys[o + 3] === k[3] && keys[o + 4] === k[4] && keys[o + 5] === k[5] &&
          keys[o + 6] === k[6] && keys[o + 7] === k[7] && keys[o + 8] === k[8] &&
          keys[o + 9] === k[9]
        ) return e;
      }
      s = (s + 1) & this.slotMask;
    }
    if (this.size === this.capacity) {
      if (this.capacity >= this.flowsMax) return -1;
      this.resize(Math.min(this.capacity * 2, this.flowsMax));
      return this.findOrInsert(k);
    }
    const e = this.size++;
    this.slots[s] = e + 1;
    this.hashes[e] = h;
    this.keys.set(k, e * KEY_WORDS);
    this.packets[e] = 0;
    this.bytes[e] = 0;
    this.tcpFlags[e] = 0;
    this.firstSec[e] = 0xffffffff;
    return e;
  }
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
  const o = e * KEY_WORDS;
  const meta = t.keys[o + W_META]!;
  const ports = t.keys[o + W_PORTS]!;
  const portsPresent = (meta & META_PORTS_PRESENT) !== 0;
  return {
    family: (meta >>> 8) & 0x7,
    src: t.keys.slice(o, o + 4),
    dst: t.keys.slice(o + 4, o + 8),
    proto: t.mask.proto ? meta & 0xff : null,
    srcPort: portsPresent && t.mask.srcPort ? ports >>> 16 : null,
    dstPort: portsPresent && t.mask.dstPort ? ports & 0xffff : null,
    vlan: (meta & META_VLAN_PRESENT) !== 0 ? meta >>> 16 : null,
  };
}
