/**
 * DNS over TCP reassembly (RFC 1035 §4.2.2, RFC 7766 §8): each message travels behind a
 * two-byte length, and a message may span segments. As in tshark's default view, a message is
 * reported at the segment that completes it and one never completed is not reported; whole
 * messages inside one segment are read in place, only a message left unfinished at a
 * segment's end is copied into a buffer.
 *
 * Bounded: directions followed (`streamsMax`) and buffers (`buffers`, one message of up to
 * 65,535 bytes each, allocated at first use). A message that finds no room, meets a sequence
 * gap or is cut by FIN/RST is counted in `lost`. Segments cut short by the snaplen are read on
 * their own (like tshark): the whole messages in them, then the rest as far as it goes.
 *
 * @module
 */

import { FAMILY_NONE, FLAG_HAS_PORTS, type PacketBatch } from "../packet/mod.ts";
import { KeyedSlots, NextSeq, SEQ_ALL_SEEN, SEQ_GAP, SlotBuffers } from "./_keyed_slots.ts";

/** Where whole DNS messages go; false when the bytes are not DNS (the rest is skipped). */
export interface DnsTcpSink {
  dnsTcp(bytes: Uint8Array, off: number, len: number): boolean;
}

/** A message with its length prefix, at most. */
const MESSAGE_MAX = 2 + 0xffff;
const FIN = 0x01, SYN = 0x02, RST = 0x04, TCP = 6;
/** Flag on resume's offset: a message went to the sink (offsets stay below 2^30). */
const DONE = 1 << 30;

export class DnsTcpReassembler {
  /** Messages lost to a limit, a sequence gap, or a close before they were whole. */
  lost = 0;
  /** The directions followed. */
  private readonly slots: KeyedSlots;
  private readonly seq: NextSeq;
  /**
   * Per direction, its unfinished message: bytes seen (0: none), size with the prefix (0:
   * not known yet), the prefix's first byte, and its buffer (-1: not kept, for want of a
   * buffer; its bytes are then only counted, to find the next message's start).
   */
  private readonly have: Int32Array;
  private readonly need: Int32Array;
  private readonly first: Uint8Array;
  private readonly bufs: SlotBuffers;
  private pool: Uint8Array | null = null;

  constructor(streamsMax = 4096, private readonly buffers = 64) {
    this.slots = new KeyedSlots(streamsMax);
    this.seq = new NextSeq(streamsMax);
    this.bufs = new SlotBuffers(streamsMax, buffers);
    this.have = new Int32Array(streamsMax);
    this.need = new Int32Array(streamsMax);
    this.first = new Uint8Array(streamsMax);
  }

  /** Feeds TCP packet i of a DNS port; whole messages go to `sink`. Returns how many. */
  segment(batch: PacketBatch, i: number, sink: DnsTcpSink): number {
    if (batch.family[i] === FAMILY_NONE || batch.proto[i] !== TCP) return 0;
    if ((batch.flags[i]! & FLAG_HAS_PORTS) === 0) return 0;
    const flags = batch.tcpFlags[i]!, len = batch.payloadLen[i]!;
    const bytes = batch.bytes;
    let p = batch.payloadOff[i]!;
    const end = p + len;
    if (batch.capLen[i]! < batch.wireLen[i]!) {
      const s = this.stream(batch, i, false);
      if (s >= 0) this.reset(s), this.drop(s);
      return readAlone(bytes, p, end, sink);
    }
    const s = this.stream(batch, i, len > 0 || (flags & SYN) !== 0);
    if (s < 0) return len > 0 ? readAlone(bytes, p, end, sink) : 0;
    const skip = this.seq.advance(s, batch.tcpSeq[i]!, len, (flags & SYN) !== 0);
    if (skip === SEQ_ALL_SEEN) return this.close(s, flags, 0);
    if (skip === SEQ_GAP) this.reset(s); // bytes missing: a message in progress is lost
    else p += skip;
    let done = 0;
    if (this.have[s]! > 0 && p < end) {
      const r = this.resume(s, bytes, p, end, sink);
      if (r < 0) return this.close(s, flags, done);
      if ((r & DONE) !== 0) done++;
      p = r & ~DONE;
    }
    // Whole messages in place; an unfinished one at the end is kept for the next segment.
    while (p < end) {
      const l = end - p >= 2 ? (bytes[p]! << 8) | bytes[p + 1]! : -1;
      if (l >= 0 && p + 2 + l <= end) {
        if (!sink.dnsTcp(bytes, p + 2, l)) break;
        done++, p += 2 + l;
        continue;
      }
      const n = end - p;
      this.have[s] = n, this.need[s] = l >= 0 ? 2 + l : 0, this.first[s] = bytes[p]!;
      if (this.take(s)) this.pool!.set(bytes.subarray(p, end), this.bufs.of[s]! * MESSAGE_MAX);
      break;
    }
    return this.close(s, flags, done);
  }

  /**
   * Adds bytes [p, end) to direction s's unfinished message. When it completes, returns the
   * offset after it, with DONE set if it went to the sink (it was kept, and was DNS); -1 when
   * every byte was taken, or the completed message was not DNS.
   */
  private resume(
    s: number,
    bytes: Uint8Array,
    p: number,
    end: number,
    sink: DnsTcpSink,
  ): number {
    const b = this.bufs.of[s]!, pool = this.pool, base = b * MESSAGE_MAX;
    let have = this.have[s]!;
    if (this.need[s] === 0) {
      // One byte of the prefix so far: the next completes it.
      this.need[s] = 2 + ((this.first[s]! << 8) | bytes[p]!);
      if (b >= 0) pool![base + 1] = bytes[p]!;
      have = 2, p++;
    }
    const need = this.need[s]!;
    const take = Math.min(need - have, end - p);
    if (b >= 0) pool!.set(bytes.subarray(p, p + take), base + have);
    have += take, p += take;
    if (have < need) {
      this.have[s] = have;
      return -1;
    }
    this.have[s] = 0;
    if (b < 0) return p; // counted lost when it found no buffer
    const ok = sink.dnsTcp(pool!, base + 2, need - 2);
    this.release(s);
    return ok ? p | DONE : -1;
  }

  /** On FIN or RST the direction ends: an unfinished message is lost. */
  private close(s: number, flags: number, done: number): number {
    if ((flags & (FIN | RST)) !== 0) this.reset(s), this.drop(s);
    return done;
  }

  /** The direction of packet i (made when `create`); -1 when none or no room. */
  private stream(batch: PacketBatch, i: number, create: boolean): number {
    const k = this.slots;
    const s = k.findDirection(batch, i);
    if (s >= 0 || !create) return s;
    const n = k.add();
    if (n >= 0) this.seq.reset(n), this.bufs.release(n), this.have[n] = 0;
    return n;
  }

  private take(s: number): boolean {
    if (!this.bufs.take(s)) {
      this.lost++;
      return false;
    }
    this.pool ??= new Uint8Array(this.buffers * MESSAGE_MAX);
    return true;
  }

  private release(s: number): void {
    this.bufs.release(s);
  }

  /** Drops the unfinished message, if any (`lost`, unless counted when it found no buffer). */
  private reset(s: number): void {
    if (this.bufs.of[s]! >= 0) this.lost++;
    this.release(s);
    this.have[s] = 0;
  }

  private drop(s: number): void {
    this.slots.drop(s);
  }

  /** Frees every direction without an unfinished message (at each window's end). */
  sweepIdle(): void {
    const k = this.slots;
    if (k.used === 0) return;
    for (let s = 0; s < k.max; s++) if (k.live[s] === 1 && this.have[s] === 0) k.drop(s);
  }

  /** Directions followed (for tests and limits). */
  get streams(): number {
    return this.slots.used;
  }
}

/**
 * A segment that cannot join its stream, read on its own as tshark reads one: whole
 * messages, then the last one as far as it goes (which the decoder flags as cut short).
 */
function readAlone(bytes: Uint8Array, p: number, end: number, sink: DnsTcpSink): number {
  let done = 0;
  while (p + 2 <= end) {
    const l = (bytes[p]! << 8) | bytes[p + 1]!;
    if (!sink.dnsTcp(bytes, p + 2, Math.min(l, end - p - 2))) break;
    done++, p += 2 + l;
  }
  return done;
}
