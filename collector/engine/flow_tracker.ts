/**
 * Flow lifecycle: bidirectional flows, their state and their end.
 *
 * A flow is keyed by its two endpoints in a canonical order (side A is the smaller
 * address/port), so both directions land on one record. The initiator is the sender of a SYN
 * (without ACK), else of the first packet. A flow closes when both sides sent a FIN or either
 * sent a RST; it is exported after a short linger (so the last ACK still counts for it), after
 * `idleSec` without packets, or periodically every `activeSec` while it continues (the record
 * then holds the counts since the previous export). At the end of input every open flow is
 * exported with reason `end`. All times are packet (event) times.
 *
 * Records live in one Int32Array (32 words each, counters as doubles through a Float64Array
 * view of the same buffer); exported records are copied to a {@link FlowRecords} buffer.
 *
 * @module
 */

import {
  FAMILY_NONE,
  FLAG_HAS_PORTS,
  FLAG_HAS_TCP_FLAGS,
  hashKey,
  type PacketBatch,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
  VLAN_NONE,
} from "../packet/mod.ts";
import { reserveWords } from "./_reserve.ts";
import { KEY, RECORD_ROW, type RecordRows } from "../export/mod.ts";

export const REASON_FIN = 1;
export const REASON_RST = 2;
export const REASON_IDLE = 3;
export const REASON_ACTIVE = 4;
export const REASON_END = 5;
export const REASON_NAMES = ["", "fin", "rst", "idle", "active", "end"] as const;

// The record layout is the window export's (RECORD_ROW): records are handed over as they are.
export const RECORD_WORDS = RECORD_ROW.WORDS;
// Key words 0..9: A address (4), B address (4), A port << 16 | B port, meta.
const R_PORTS = KEY.PORTS;
const R_META = KEY.META;
const R_STATE = RECORD_ROW.STATE;
const R_FLAGS = RECORD_ROW.FLAGS;
const R_SYN = RECORD_ROW.SYN;
const R_SYNACK = RECORD_ROW.SYNACK;
const R_FIN = RECORD_ROW.FIN;
const R_RST = RECORD_ROW.RST;
const R_START_SEC = RECORD_ROW.START_SEC;
const R_START_NSEC = RECORD_ROW.START_NSEC;
const R_LAST_SEC = RECORD_ROW.LAST_SEC;
const R_LAST_NSEC = RECORD_ROW.LAST_NSEC;
const R_CLOSE_SEC = 20;
const R_SEGMENT_SEC = 21;
/** Word where exported records carry their reason. */
export const R_REASON = RECORD_ROW.REASON;
// Doubles (index in the Float64Array view): packets and bytes per direction.
const D_PKTS_AB = RECORD_ROW.D_PKTS_AB;
const D_PKTS_BA = RECORD_ROW.D_PKTS_BA;
const D_BYTES_AB = RECORD_ROW.D_BYTES_AB;
const D_BYTES_BA = RECORD_ROW.D_BYTES_BA;

const S_FIN_A = 1;
const S_FIN_B = 2;
const S_CLOSING = 4;
const S_INITIATOR_B = RECORD_ROW.STATE_INITIATOR_B;
const S_SYN_SEEN = 16;
const S_RST = 32;

const META_PORTS_PRESENT = KEY.META_PORTS_PRESENT;
const META_VLAN_PRESENT = KEY.META_VLAN_PRESENT;

const NO_SEC = -1;

export interface FlowTrackerOptions {
  /** Export a flow after this long without packets. */
  idleSec: number;
  /** Export a long flow's counts this often while it continues. */
  activeSec: number;
  /** Keep a closed flow this long for its last ACKs before exporting it. */
  lingerSec: number;
  /** Flows tracked at once; packets of new flows beyond it are counted, not tracked. */
  flowsMax: number;
}

export const FLOW_TRACKER_DEFAULTS: FlowTrackerOptions = {
  idleSec: 60,
  activeSec: 300,
  lingerSec: 2,
  flowsMax: 1 << 20,
};

/** Exported flow records, same 32-word layout plus the reason, in a growable buffer. */
export class FlowRecords {
  // Set by adopt (the constructor calls it): the doubles always view the words' buffer.
  words!: Int32Array;
  doubles!: Float64Array;
  length = 0;
  constructor(capacity: number) {
    this.adopt(reserveWords(capacity * RECORD_WORDS, `${capacity} flow records`), 0);
  }
  /** Records `words` already holds (e.g. a buffer handed over from the helper thread). */
  static of(words: Int32Array, length: number): FlowRecords {
    const r = new FlowRecords(0);
    r.adopt(words, length);
    return r;
  }
  get capacity(): number {
    return this.words.length / RECORD_WORDS;
  }
  push(src: Int32Array, o: number, reason: number): void {
    if (this.length === this.capacity) {
      const n = Math.max(1024, this.capacity * 2);
      const bigger = reserveWords(n * RECORD_WORDS, `${n} flow records`);
      bigger.set(this.words);
      this.adopt(bigger, this.length);
    }
    const d = this.length * RECORD_WORDS;
    this.words.set(src.subarray(o, o + RECORD_WORDS), d);
    this.words[d + R_REASON] = reason;
    this.length++;
  }
  clear(): void {
    this.length = 0;
  }

  /** From now on the records are `words` (RECORD_WORDS each), of which `length` are used. */
  adopt(words: Int32Array, length: number): void {
    this.words = words;
    this.doubles = new Float64Array(words.buffer, words.byteOffset, words.length >>> 1);
    this.length = length;
  }

  /** Hands the records over as they are (no copy) and goes on with a fresh buffer. */
  take(): RecordRows {
    const out: RecordRows = { length: this.length, words: this.words };
    const n = Math.max(1, this.capacity);
    this.adopt(reserveWords(n * RECORD_WORDS, `${n} flow records`), 0);
    return out;
  }
}

/** No records (a late part, or no tracker). */
export const EMPTY_RECORDS: RecordRows = { length: 0, words: new Int32Array(0) };

/** Readable view of exported record `r` (off the hot path). */
export interface FlowRecordView {
  family: number;
  /** Initiator (src) and responder (dst) as 4 words each, with their ports or null. */
  src: Int32Array;
  dst: Int32Array;
  srcPort: number | null;
  dstPort: number | null;
  proto: number;
  vlan: number | null;
  packetsFwd: number;
  bytesFwd: number;
  packetsRev: number;
  bytesRev: number;
  startSec: number;
  startNsec: number;
  endSec: number;
  endNsec: number;
  tcpFlags: number;
  syn: number;
  synAck: number;
  fin: number;
  rst: number;
  reason: string;
}

export function readRecord(recs: FlowRecords, r: number): FlowRecordView {
  const w = recs.words;
  const o = r * RECORD_WORDS;
  const d = o / 2;
  const bInit = (w[o + R_STATE]! & S_INITIATOR_B) !== 0;
  const meta = w[o + R_META]!;
  const ports = w[o + R_PORTS]! >>> 0;
  const hasPorts = (meta & META_PORTS_PRESENT) !== 0;
  const a = w.slice(o, o + 4), b = w.slice(o + 4, o + 8);
  const pa = hasPorts ? ports >>> 16 : null, pb = hasPorts ? ports & 0xffff : null;
  const ab = [recs.doubles[d + D_PKTS_AB]!, recs.doubles[d + D_BYTES_AB]!];
  const ba = [recs.doubles[d + D_PKTS_BA]!, recs.doubles[d + D_BYTES_BA]!];
  return {
    family: (meta >>> 8) & 7,
    src: bInit ? b : a,
    dst: bInit ? a : b,
    srcPort: bInit ? pb : pa,
    dstPort: bInit ? pa : pb,
    proto: meta & 0xff,
    vlan: (meta & META_VLAN_PRESENT) !== 0 ? (meta >>> 16) & 0xfff : null,
    packetsFwd: bInit ? ba[0]! : ab[0]!,
    bytesFwd: bInit ? ba[1]! : ab[1]!,
    packetsRev: bInit ? ab[0]! : ba[0]!,
    bytesRev: bInit ? ab[1]! : ba[1]!,
    startSec: w[o + R_START_SEC]! >>> 0,
    startNsec: w[o + R_START_NSEC]!,
    endSec: w[o + R_LAST_SEC]! >>> 0,
    endNsec: w[o + R_LAST_NSEC]!,
    tcpFlags: w[o + R_FLAGS]!,
    syn: w[o + R_SYN]!,
    synAck: w[o + R_SYNACK]!,
    fin: w[o + R_FIN]!,
    rst: w[o + R_RST]!,
    reason: REASON_NAMES[w[o + R_REASON]!] ?? "?",
  };
}

export class FlowTracker {
  readonly opts: FlowTrackerOptions;
  /** Flows currently tracked. */
  size = 0;
  /** Packets of new flows that found the tracker full. */
  overflowPackets = 0;
  // Set by reserveRecords (the constructor calls it).
  private recs!: Int32Array;
  private dbl!: Float64Array;
  private capacity: number;
  private freeList: Int32Array;
  private freeCount = 0;
  private used = 0;
  /**
   * Open addressing, two words a slot: the key's hash, then record + 1 (0 = empty). The hash
   * lets probes skip other flows' records (each a likely cache miss) and lets deletion and
   * growth move slots without rehashing keys.
   */
  private slots: Int32Array;
  private slotMask: number;
  private readonly k = new Int32Array(10);
  private lastSweepSec = -1;
  /** Latest packet time seen, whole seconds (event-time clock). */
  nowSec = -1;

  constructor(readonly out: FlowRecords, opts: Partial<FlowTrackerOptions> = {}) {
    this.opts = { ...FLOW_TRACKER_DEFAULTS, ...opts };
    const o = this.opts;
    if (!(o.idleSec > 0 && o.activeSec > 0 && o.lingerSec >= 0)) {
      throw new RangeError("Flow timeouts must be positive");
    }
    if (!Number.isInteger(o.flowsMax) || o.flowsMax < 1 || o.flowsMax > 1 << 24) {
      throw new RangeError(`Invalid flow tracker limit ${o.flowsMax}: 1..16777216`);
    }
    // Reserved at the limit once (see FlowTable): pages come as records are first written,
    // and growing never copies (a copy of a million records took 355 ms on this VM).
    this.capacity = o.flowsMax;
    this.reserveRecords();
    this.freeList = reserveWords(this.capacity, `a flow tracker of ${this.capacity} flows`);
    this.slots = new Int32Array(2 * 2048);
    this.slotMask = 2047;
  }

  /**
   * Tracks slots [from, to) of a decoded batch. With `hints`, hints[i] tells where packet i
   * went, for the exact tables to skip their own lookup (FlowTable.addBatchHinted): -1 when it
   * is not tracked, else `(record << 2) | (fromB << 1) | isNew`, isNew when the record was
   * (re)used for this flow at this packet.
   */
  addBatch(batch: PacketBatch, from = 0, to = batch.length, hints?: Int32Array): void {
    for (let i = from; i < to; i++) {
      if (batch.family[i] === FAMILY_NONE) {
        if (hints !== undefined) hints[i] = -1;
        continue;
      }
      const sec = batch.tsSec[i]!;
      if (sec === sec && sec > this.nowSec) this.nowSec = Math.floor(sec);
      const h = this.packet(batch, i);
      if (hints !== undefined) hints[i] = h;
    }
    const sweepEvery = Math.max(1, Math.min(this.opts.idleSec, this.opts.activeSec) / 4);
    if (this.nowSec - this.lastSweepSec >= sweepEvery) this.sweep(false);
  }

  /**
   * The clock moves to `nowSec` without packets (a watermark from the wall clock): flows idle
   * or active for long enough are exported as a packet at that time would export them.
   */
  advance(nowSec: number): void {
    if (!(nowSec > this.nowSec)) return;
    this.nowSec = Math.floor(nowSec);
    const sweepEvery = Math.max(1, Math.min(this.opts.idleSec, this.opts.activeSec) / 4);
    if (this.nowSec - this.lastSweepSec >= sweepEvery) this.sweep(false);
  }

  /** Counts packet i into its flow; returns its hint (see addBatch). */
  private packet(batch: PacketBatch, i: number): number {
    const k = this.k;
    const w = i * 4;
    const fl = batch.flags[i]!;
    const hasPorts = (fl & FLAG_HAS_PORTS) !== 0;
    const sp = hasPorts ? batch.srcPort[i]! : 0, dp = hasPorts ? batch.dstPort[i]! : 0;
    // Canonical order: side A is the smaller (address, port).
    let cmp = 0;
    for (let j = 0; j < 4 && cmp === 0; j++) {
      const s = batch.src[w + j]! >>> 0, d = batch.dst[w + j]! >>> 0;
      cmp = s < d ? -1 : s > d ? 1 : 0;
    }
    if (cmp === 0) cmp = sp < dp ? -1 : sp > dp ? 1 : 0;
    const fromB = cmp > 0;
    for (let j = 0; j < 4; j++) {
      k[j] = fromB ? batch.dst[w + j]! : batch.src[w + j]!;
      k[4 + j] = fromB ? batch.src[w + j]! : batch.dst[w + j]!;
    }
    k[R_PORTS] = fromB ? (dp << 16) | sp : (sp << 16) | dp;
    let meta = batch.proto[i]! | (batch.family[i]! << 8);
    if (hasPorts) meta |= META_PORTS_PRESENT;
    const v = batch.vlan[i]!;
    if (v !== VLAN_NONE) meta |= META_VLAN_PRESENT | (v << 16);
    k[R_META] = meta;
    const tcp = (fl & FLAG_HAS_TCP_FLAGS) !== 0 ? batch.tcpFlags[i]! : 0;
    const isSyn = (tcp & (TCP_SYN | TCP_ACK)) === TCP_SYN;
    const h = hashKey(k, 0);
    let r = this.find(h);
    if (r >= 0 && isSyn && (this.recs[r * RECORD_WORDS + R_STATE]! & S_CLOSING) !== 0) {
      // A new connection reusing the tuple: the closed one ends here.
      this.export(r, this.closeReason(r));
      r = -1;
    }
    let isNew = 0;
    if (r < 0) {
      r = this.insert(h, fromB);
      if (r < 0) {
        this.overflowPackets++;
        return -1;
      }
      isNew = 1;
    }
    this.update(r, batch, i, fromB, tcp);
    return (r << 2) | (fromB ? 2 : 0) | isNew;
  }

  private update(r: number, batch: PacketBatch, i: number, fromB: boolean, tcp: number): void {
    const t = this.recs;
    const o = r * RECORD_WORDS;
    const d = o / 2;
    const wire = batch.wireLen[i]!;
    if (fromB) this.dbl[d + D_PKTS_BA]! += 1, this.dbl[d + D_BYTES_BA]! += wire;
    else this.dbl[d + D_PKTS_AB]! += 1, this.dbl[d + D_BYTES_AB]! += wire;
    const sec = batch.tsSec[i]!;
    if (sec === sec) {
      const s = Math.min(Math.max(0, sec), 0xffffffff);
      const ns = batch.tsNsec[i]!;
      const st = t[o + R_START_SEC]!;
      if (st === NO_SEC || s < st >>> 0 || (s === st >>> 0 && ns < t[o + R_START_NSEC]!)) {
        t[o + R_START_SEC] = s, t[o + R_START_NSEC] = ns;
      }
      const ls = t[o + R_LAST_SEC]!;
      if (ls === NO_SEC || s > ls >>> 0 || (s === ls >>> 0 && ns > t[o + R_LAST_NSEC]!)) {
        t[o + R_LAST_SEC] = s, t[o + R_LAST_NSEC] = ns;
      }
      if (t[o + R_SEGMENT_SEC] === NO_SEC) t[o + R_SEGMENT_SEC] = s;
    }
    if (tcp === 0) return;
    t[o + R_FLAGS] = t[o + R_FLAGS]! | tcp;
    let state = t[o + R_STATE]!;
    if ((tcp & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
      t[o + R_SYN]!++;
      if ((state & S_SYN_SEEN) === 0) {
        state |= S_SYN_SEEN;
        state = fromB ? state | S_INITIATOR_B : state & ~S_INITIATOR_B;
      }
    } else if ((tcp & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)) t[o + R_SYNACK]!++;
    if ((tcp & TCP_FIN) !== 0) {
      t[o + R_FIN]!++;
      state |= fromB ? S_FIN_B : S_FIN_A;
    }
    if ((tcp & TCP_RST) !== 0) {
      t[o + R_RST]!++;
      state |= S_RST;
    }
    const closed = (state & S_RST) !== 0 || (state & (S_FIN_A | S_FIN_B)) === (S_FIN_A | S_FIN_B);
    if (closed && (state & S_CLOSING) === 0) {
      state |= S_CLOSING;
      t[o + R_CLOSE_SEC] = t[o + R_LAST_SEC]!;
    }
    t[o + R_STATE] = state;
  }

  private closeReason(r: number): number {
    return (this.recs[r * RECORD_WORDS + R_STATE]! & S_RST) !== 0 ? REASON_RST : REASON_FIN;
  }

  private find(h: number): number {
    const k = this.k;
    const t = this.recs;
    const slots = this.slots;
    let s = h & this.slotMask;
    for (;;) {
      const slot = slots[2 * s + 1]!;
      if (slot === 0) return -1;
      const o = (slot - 1) * RECORD_WORDS;
      if (
        slots[2 * s] === h && t[o] === k[0] && t[o + 1] === k[1] && t[o + 2] === k[2] &&
        t[o + 3] === k[3] &&
        t[o + 4] === k[4] && t[o + 5] === k[5] && t[o + 6] === k[6] && t[o + 7] === k[7] &&
        t[o + 8] === k[8] && t[o + 9] === k[9]
      ) return slot - 1;
      s = (s + 1) & this.slotMask;
    }
  }

  private insert(h: number, fromB: boolean): number {
    if (this.size >= this.opts.flowsMax) return -1;
    let r: number;
    // size < flowsMax = capacity: a record is free or never used.
    if (this.freeCount > 0) r = this.freeList[--this.freeCount]!;
    else r = this.used++;
    if ((this.size + 1) * 2 > this.slotMask + 1) this.rehash((this.slotMask + 1) * 2);
    let s = h & this.slotMask;
    while (this.slots[2 * s + 1] !== 0) s = (s + 1) & this.slotMask;
    this.slots[2 * s] = h, this.slots[2 * s + 1] = r + 1;
    this.size++;
    const t = this.recs;
    const o = r * RECORD_WORDS;
    t.set(this.k, o);
    t.fill(0, o + 10, o + RECORD_WORDS);
    t[o + R_STATE] = fromB ? S_INITIATOR_B : 0;
    t[o + R_START_SEC] = NO_SEC, t[o + R_LAST_SEC] = NO_SEC, t[o + R_SEGMENT_SEC] = NO_SEC;
    return r;
  }

  private rehash(slotCount: number): void {
    const old = this.slots;
    const slots = this.slots = new Int32Array(2 * slotCount);
    this.slotMask = slotCount - 1;
    for (let s = 0; s < old.length; s += 2) {
      if (old[s + 1] === 0) continue;
      const h = old[s]!;
      let n = h & this.slotMask;
      while (slots[2 * n + 1] !== 0) n = (n + 1) & this.slotMask;
      slots[2 * n] = h, slots[2 * n + 1] = old[s + 1]!;
    }
  }

  /** Removes record `r` from the slots (backward-shift deletion keeps probes exact). */
  private unlink(r: number): void {
    const slots = this.slots, mask = this.slotMask;
    let s = hashKey(this.recs, r * RECORD_WORDS) & mask;
    while (slots[2 * s + 1] !== r + 1) s = (s + 1) & mask;
    let hole = s;
    let n = (s + 1) & mask;
    while (slots[2 * n + 1] !== 0) {
      const home = slots[2 * n]! & mask;
      // Move it back if its home is not in (hole, n] cyclically.
      const between = hole <= n ? home > hole && home <= n : home > hole || home <= n;
      if (!between) {
        slots[2 * hole] = slots[2 * n]!, slots[2 * hole + 1] = slots[2 * n + 1]!;
        hole = n;
      }
      n = (n + 1) & mask;
    }
    slots[2 * hole] = 0, slots[2 * hole + 1] = 0;
  }

  private export(r: number, reason: number): void {
    this.out.push(this.recs, r * RECORD_WORDS, reason);
    this.unlink(r);
    this.freeList[this.freeCount++] = r;
    this.size--;
    this.recs[r * RECORD_WORDS + R_STATE] = -1; // marks a free record for sweeps
  }

  /** Exports the counts of a long flow and keeps it going with fresh counters. */
  private exportActive(r: number): void {
    const o = r * RECORD_WORDS;
    this.out.push(this.recs, o, REASON_ACTIVE);
    const d = o / 2;
    this.dbl[d + D_PKTS_AB] = 0, this.dbl[d + D_PKTS_BA] = 0;
    this.dbl[d + D_BYTES_AB] = 0, this.dbl[d + D_BYTES_BA] = 0;
    const t = this.recs;
    t[o + R_SYN] = 0, t[o + R_SYNACK] = 0, t[o + R_FIN] = 0, t[o + R_RST] = 0, t[o + R_FLAGS] = 0;
    t[o + R_START_SEC] = NO_SEC, t[o + R_SEGMENT_SEC] = NO_SEC;
  }

  /** A fresh record array at the tracker's limit (reserved: pages come as records are written). */
  private reserveRecords(): void {
    this.recs = reserveWords(
      this.capacity * RECORD_WORDS,
      `a flow tracker of ${this.capacity} flows`,
    );
    this.dbl = new Float64Array(this.recs.buffer);
  }

  /**
   * Ends every flow (end of input, reason `end`; closing ones with their own reason). The
   * tracker's own record array becomes the records, not a copy of each: the live records move
   * to its front in place and the records ended before follow them when they fit (at a
   * million flows the copy was 128 MB more at the run's peak). The tracker goes on empty.
   */
  endAll(): void {
    const t = this.recs, out = this.out;
    let n = 0;
    for (let r = 0; r < this.used; r++) {
      const o = r * RECORD_WORDS;
      const state = t[o + R_STATE]!;
      if (state === -1) continue;
      const reason = (state & S_CLOSING) !== 0 ? this.closeReason(r) : REASON_END;
      if (n !== r) t.copyWithin(n * RECORD_WORDS, o, o + RECORD_WORDS);
      t[n * RECORD_WORDS + R_REASON] = reason;
      n++;
    }
    if (n + out.length <= this.capacity) {
      t.set(out.words.subarray(0, out.length * RECORD_WORDS), n * RECORD_WORDS);
      out.adopt(t, n + out.length);
      this.reserveRecords();
    } else {
      for (let r = 0; r < n; r++) {
        out.push(t, r * RECORD_WORDS, t[r * RECORD_WORDS + R_REASON]!);
      }
    }
    this.used = 0, this.freeCount = 0, this.size = 0, this.slots.fill(0);
  }

  /** Exports what timed out by the event-time clock; with `all`, everything (end of input). */
  sweep(all: boolean): void {
    if (all) return this.endAll();
    const now = this.nowSec;
    this.lastSweepSec = now;
    const { idleSec, activeSec, lingerSec } = this.opts;
    const t = this.recs;
    for (let r = 0; r < this.used; r++) {
      const o = r * RECORD_WORDS;
      const state = t[o + R_STATE]!;
      if (state === -1) continue;
      if ((state & S_CLOSING) !== 0) {
        if (now - (t[o + R_CLOSE_SEC]! >>> 0) >= lingerSec) {
          this.export(r, this.closeReason(r));
        }
        continue;
      }
      const last = t[o + R_LAST_SEC]!;
      if (last === NO_SEC) continue;
      if (now - (last >>> 0) >= idleSec) this.export(r, REASON_IDLE);
      else if (now - (t[o + R_SEGMENT_SEC]! >>> 0) >= activeSec) this.exportActive(r);
    }
  }
}
