/**
 * Bookkeeping the reassemblers share (http_reassembly.ts, dns_tcp.ts, defrag.ts):
 * - KeyedSlots: a fixed number of slots found by a 10-word key (addresses, ports or ids, and a
 *   tag word), with a free list: the directions and datagrams followed. The owner keeps its
 *   per-slot state in its own arrays indexed by slot and resets it when `add` hands out a slot.
 * - FreeList and SlotBuffers: free numbers, and one buffer per slot out of a fixed pool.
 * - NextSeq: the next expected TCP sequence number per direction.
 *
 * @module
 */

import type { PacketBatch } from "../packet/mod.ts";
import { LaneIndex } from "../../sketches/mod.ts";
import { hashWords } from "../../sketches/mod.ts";
import { KEY_SEED } from "../packet/mod.ts";

export class KeyedSlots {
  readonly max: number;
  /** 1 while a slot is in use. */
  readonly live: Uint8Array;
  /** The key to look up: the caller writes it, then calls `find`. */
  readonly key = new Int32Array(10);
  private readonly index: LaneIndex;
  private readonly free: FreeList;
  private readonly lanes = new Int32Array(2);

  constructor(max: number) {
    this.max = max;
    this.index = new LaneIndex(max);
    this.live = new Uint8Array(max);
    this.free = new FreeList(max);
  }

  /**
   * The slot of packet i's direction — addresses, ports, family; `reverse` for the way back
   * — or -1 (`add` then makes it).
   */
  findDirection(batch: PacketBatch, i: number, reverse = false): number {
    const k = this.key, q = i * 4;
    const a = reverse ? batch.dst : batch.src, b = reverse ? batch.src : batch.dst;
    for (let j = 0; j < 4; j++) k[j] = a[q + j]!, k[4 + j] = b[q + j]!;
    const sp = batch.srcPort[i]!, dp = batch.dstPort[i]!;
    k[8] = reverse ? (dp << 16) | sp : (sp << 16) | dp, k[9] = batch.family[i]!;
    return this.find();
  }

  /** The slot of the key in `key`, or -1. */
  find(): number {
    hashWords(this.key, 0, 10, this.lanes, KEY_SEED);
    return this.index.find(this.lanes[0]!, this.lanes[1]!);
  }

  /** A slot for the key `find` just missed, or -1 when every slot is in use. */
  add(): number {
    const s = this.free.take();
    if (s < 0) return -1;
    this.live[s] = 1;
    this.index.insert(s, this.lanes[0]!, this.lanes[1]!);
    return s;
  }

  drop(s: number): void {
    if (this.live[s] === 0) return;
    this.live[s] = 0;
    this.index.remove(s);
    this.free.give(s);
  }

  /** Slots in use. */
  get used(): number {
    return this.max - this.free.available;
  }
}

/** A stack of the free numbers among 0..n-1 (buffers, slots): take one, give it back. */
export class FreeList {
  private readonly free: Int32Array;
  private top: number;

  constructor(n: number) {
    this.free = Int32Array.from({ length: n }, (_, k) => n - 1 - k);
    this.top = n;
  }

  /** A free number, or -1 when none is left. */
  take(): number {
    return this.top === 0 ? -1 : this.free[--this.top]!;
  }

  give(k: number): void {
    this.free[this.top++] = k;
  }

  get available(): number {
    return this.top;
  }
}

/** What NextSeq.advance says of a segment besides bytes to skip. */
export const SEQ_GAP = -1, SEQ_ALL_SEEN = -2;

/** The next expected TCP sequence number per direction, for reassembly over TCP. */
export class NextSeq {
  private readonly valid: Uint8Array;
  private readonly next: Uint32Array;

  constructor(n: number) {
    this.valid = new Uint8Array(n);
    this.next = new Uint32Array(n);
  }

  /** Direction s starts afresh: its next segment sets the sequence. */
  reset(s: number): void {
    this.valid[s] = 0;
  }

  /**
   * Moves direction s past a segment (sequence number, payload length, SYN): returns how
   * many of its first bytes came before (to skip), SEQ_ALL_SEEN when all of them did, or
   * SEQ_GAP when bytes before it are missing. A SYN sets the sequence; so does the first
   * segment seen of a direction whose SYN was not.
   */
  advance(s: number, seq: number, len: number, syn: boolean): number {
    if (syn) {
      this.valid[s] = 1, this.next[s] = (seq + 1) >>> 0;
      return 0;
    }
    if (len === 0) return 0;
    if (this.valid[s] === 0) this.valid[s] = 1, this.next[s] = seq;
    const delta = (seq - this.next[s]!) | 0;
    if (delta < 0 && -delta >= len) return SEQ_ALL_SEEN;
    this.next[s] = (seq + len) >>> 0;
    return delta > 0 ? SEQ_GAP : -delta;
  }
}

/** At most one buffer per slot, out of a fixed number: which one each slot holds (-1: none). */
export class SlotBuffers {
  readonly of: Int32Array;
  private readonly free: FreeList;

  constructor(slots: number, buffers: number) {
    this.of = new Int32Array(slots).fill(-1);
    this.free = new FreeList(buffers);
  }

  /** Gives slot s a buffer; false when none is left. */
  take(s: number): boolean {
    const b = this.free.take();
    if (b < 0) return false;
    this.of[s] = b;
    return true;
  }

  /** Gives slot s's buffer back, if it holds one. */
  release(s: number): void {
    const b = this.of[s]!;
    if (b >= 0) this.free.give(b), this.of[s] = -1;
  }
}
