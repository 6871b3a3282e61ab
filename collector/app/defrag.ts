/**
 * IP fragment reassembly for the application layer (RFC 791 §3.2 for IPv4, RFC 8200 §4.5 for
 * IPv6), as tshark's reassembled view does it: a datagram's payload is whole once every
 * 8-byte unit up to the end given by its last fragment (More Fragments clear) has arrived, and
 * it is then read at the fragment that completed it. Flows and protocol counts stay per packet
 * (the decoders); only DNS and HTTP read reassembled datagrams.
 *
 * Datagrams are keyed by family, addresses, protocol (IPv6: the Fragment header's Next
 * Header) and identification. Later bytes overwrite earlier ones where fragments overlap.
 * Bounded: datagrams in progress (`datagramsMax`) and buffers (`buffers`, one datagram of up
 * to 65,535 payload bytes each, allocated at first use). A datagram that finds no room, has a
 * fragment cut short by the snaplen or one reaching past 65,535 bytes, or waits through two
 * sweeps (window ends) without a fragment, is dropped and counted in `lost`.
 *
 * @module
 */

import { PROTO_TCP, PROTO_UDP } from "../packet/mod.ts";
import {
  FAMILY_IPV4,
  FAMILY_IPV6,
  FAMILY_NONE,
  FLAG_FRAGMENT,
  type PacketBatch,
} from "../packet/mod.ts";
import { decodeExtensionChain, isWalkedExtension } from "../decode/mod.ts";
import { decodeTransport } from "../decode/mod.ts";
import { KeyedSlots, SlotBuffers } from "./_keyed_slots.ts";

/** Payload bytes of one datagram at most (the IPv4 total length field's range). */
export const DATAGRAM_MAX = 0xffff;
const UNITS = (DATAGRAM_MAX + 7) >>> 3;
const TCP = PROTO_TCP, UDP = PROTO_UDP;
const UNIT_WORDS = (UNITS + 31) >>> 5;

export class Defragmenter {
  /** Datagrams dropped unfinished (limits, cut or oversized fragments, idle). */
  lost = 0;
  /** The datagrams in progress. */
  private readonly slots: KeyedSlots;
  /** Per datagram: its buffer (-1: none, its fragments are only absorbed), end (-1: not known). */
  private readonly bufs: SlotBuffers;
  private readonly end: Int32Array;
  /** Per datagram: the furthest byte any fragment reached (a last fragment must not be short). */
  private readonly reach: Int32Array;
  /** Per datagram: 8-byte units received, and whether a fragment came since the last sweep. */
  private readonly units: Int32Array;
  private readonly touched: Uint8Array;
  private pool: Uint8Array | null = null;
  /** Per buffer: one bit per 8-byte unit received. */
  private covered: Int32Array | null = null;
  /** Where the datagram completed by the last `add` is (valid until the next `add`). */
  private doneOff = 0;

  constructor(datagramsMax = 1024, private readonly buffers = 64) {
    this.slots = new KeyedSlots(datagramsMax);
    this.bufs = new SlotBuffers(datagramsMax, buffers);
    this.end = new Int32Array(datagramsMax);
    this.reach = new Int32Array(datagramsMax);
    this.units = new Int32Array(datagramsMax);
    this.touched = new Uint8Array(datagramsMax);
  }

  /**
   * Adds fragment i (FLAG_FRAGMENT, fields fragId … fragNext). Returns the payload length of
   * the datagram it completes (its bytes at `pool[doneOff..]`), else -1.
   */
  private add(batch: PacketBatch, i: number): number {
    if (batch.family[i] === FAMILY_NONE || (batch.flags[i]! & FLAG_FRAGMENT) === 0) return -1;
    const info = batch.fragInfo[i]!;
    const from = info >>> 1, more = (info & 1) !== 0;
    const len = batch.fragDataLen[i]!;
    const d = this.datagram(batch, i);
    if (d < 0) return -1;
    this.touched[d] = 1;
    const b = this.bufs.of[d]!;
    if (b < 0) return -1;
    const to = from + len;
    const cut = batch.capLen[i]! < batch.wireLen[i]!;
    // A last fragment must agree with any other last one and reach at least as far as the
    // rest; the others carry whole 8-byte units (RFC 791) and stay below a known end.
    const badEnd = !more
      ? (this.end[d]! >= 0 && this.end[d] !== to) || this.reach[d]! > to
      : (len & 7) !== 0 || (this.end[d]! >= 0 && to > this.end[d]!);
    if (cut || to > DATAGRAM_MAX || badEnd) {
      this.drop(d, true);
      return -1;
    }
    if (!more) this.end[d] = to;
    if (to > this.reach[d]!) this.reach[d] = to;
    const pool = this.pool!, base = b * DATAGRAM_MAX;
    pool.set(batch.bytes.subarray(batch.fragDataOff[i]!, batch.fragDataOff[i]! + len), base + from);
    const cov = this.covered!, c0 = b * UNIT_WORDS;
    let units = this.units[d]!;
    for (let u = from >>> 3, last = (to + 7) >>> 3; u < last; u++) {
      const w = c0 + (u >>> 5), bit = 1 << (u & 31);
      if ((cov[w]! & bit) === 0) cov[w] = cov[w]! | bit, units++;
    }
    this.units[d] = units;
    const end = this.end[d]!;
    if (end < 0 || units < (end + 7) >>> 3) return -1;
    this.doneOff = base;
    this.drop(d, false);
    return end;
  }

  /**
   * Adds fragment i of a datagram that may carry TCP or UDP; when that completes the datagram,
   * fills row 0 of `whole` (a one-packet batch) with it — addresses, VLAN and time of the
   * fragment, the transport header decoded from the reassembled bytes (which `whole.bytes`
   * then points into, valid until the next add) — and returns true.
   */
  addInto(batch: PacketBatch, i: number, whole: PacketBatch): boolean {
    const next = batch.fragNext[i]!, v6 = batch.family[i] === FAMILY_IPV6;
    if (next !== TCP && next !== UDP && !(v6 && isWalkedExtension(next))) return false;
    const n = this.add(batch, i);
    if (n < 0) return false;
    const q = i * 4;
    whole.bytes = this.pool!;
    whole.family[0] = batch.family[i]!, whole.vlan[0] = batch.vlan[i]!;
    for (let j = 0; j < 4; j++) whole.src[j] = batch.src[q + j]!, whole.dst[j] = batch.dst[q + j]!;
    whole.tsSec[0] = batch.tsSec[i]!, whole.tsNsec[0] = batch.tsNsec[i]!;
    whole.capLen[0] = whole.wireLen[0] = n;
    whole.flags[0] = 0, whole.error[0] = 0, whole.proto[0] = next;
    whole.srcPort[0] = 0, whole.dstPort[0] = 0, whole.payloadLen[0] = 0;
    const off = this.doneOff;
    if (batch.family[i] === FAMILY_IPV4) decodeTransport(whole.bytes, off, off + n, next, whole, 0);
    else decodeExtensionChain(whole.bytes, off, off + n, next, false, whole, 0);
    whole.length = 1;
    return true;
  }

  /** The datagram of fragment i, made if new; -1 when there is no room. */
  private datagram(batch: PacketBatch, i: number): number {
    const k = this.slots, w = k.key, q = i * 4;
    for (let j = 0; j < 4; j++) w[j] = batch.src[q + j]!, w[4 + j] = batch.dst[q + j]!;
    w[8] = batch.fragId[i]!, w[9] = (batch.family[i]! << 8) | batch.fragNext[i]!;
    const s = k.find();
    if (s >= 0) return s;
    const n = k.add();
    if (n < 0) {
      this.lost++;
      return -1;
    }
    this.end[n] = -1, this.units[n] = 0, this.reach[n] = 0;
    if (!this.bufs.take(n)) this.lost++; // kept without a buffer: its fragments are absorbed
    else {
      const buf = this.bufs.of[n]!;
      this.pool ??= new Uint8Array(this.buffers * DATAGRAM_MAX);
      this.covered ??= new Int32Array(this.buffers * UNIT_WORDS);
      this.covered.fill(0, buf * UNIT_WORDS, (buf + 1) * UNIT_WORDS);
    }
    return n;
  }

  /** Frees datagram d (and its buffer); `lost` when it ends unfinished with a buffer. */
  private drop(d: number, unfinished: boolean): void {
    if (this.slots.live[d] === 0) return;
    if (unfinished && this.bufs.of[d]! >= 0) this.lost++;
    this.bufs.release(d);
    this.slots.drop(d);
  }

  /** At each window's end: drops datagrams that got no fragment since the previous sweep. */
  sweepIdle(): void {
    const k = this.slots;
    if (k.used === 0) return;
    for (let d = 0; d < k.max; d++) {
      if (k.live[d] === 0) continue;
      if (this.touched[d] === 0) this.drop(d, true);
      else this.touched[d] = 0;
    }
  }

  /** Datagrams in progress (for tests and limits). */
  get inProgress(): number {
    return this.slots.used;
  }
}
