/**
 * HTTP/1.x over TCP as tshark's reassembled view reports it: a request or response is
 * complete when its header block and its body have arrived — Content-Length bytes, the chunks
 * up to the last one (RFC 9112 §7.1), or for a response with neither the connection's FIN
 * (§6.3) — and it is reported with the packet that completes it. A message whose end never
 * arrives is not reported.
 *
 * One state per TCP direction (up to `streamsMax`), following sequence numbers: a
 * retransmitted segment is skipped, an overlap trimmed, a gap drops the message in progress.
 * Header blocks split across segments are gathered in one of `buffers` fixed buffers of
 * `headerBytesMax`; bodies are only counted, never kept. Streams or buffers beyond the limits
 * lose their message, counted in `lost`.
 *
 * A segment cut short by the snaplen is read on its own, as tshark does. A response is paired
 * with the other direction's oldest unanswered request, so the answer to HEAD has no body.
 * Not done here: IP fragments are not reassembled (tshark's reassembled view does).
 *
 * @module
 */

import { PROTO_TCP, TCP_FIN, TCP_RST, TCP_SYN } from "../packet/mod.ts";
import { FAMILY_NONE, FLAG_HAS_PORTS, type PacketBatch } from "../packet/mod.ts";
import { decodeHttp, HTTP_REQUEST, HttpMessage } from "../decode/mod.ts";
import { KeyedSlots, NextSeq, SEQ_ALL_SEEN, SEQ_GAP, SlotBuffers } from "./_keyed_slots.ts";

/**
 * Receives each completed message. Its fields are read from `r` (`textBytes` and the
 * accessors) during the call only: the message's text slot is reused after it returns.
 */
export interface HttpSink {
  message(r: HttpReassembler, m: number): void;
}

/** Text kept per message in progress: method, host, target, version and User-Agent. */
const METHOD_MAX = 24, HOST_MAX = 255, URI_MAX = 1024, VERSION_LEN = 8;
export const AGENT_MAX = 256;
const TEXT_SLOT = METHOD_MAX + HOST_MAX + URI_MAX + VERSION_LEN + AGENT_MAX;
const T_METHOD = 0, T_HOST = METHOD_MAX, T_URI = T_HOST + HOST_MAX, T_VERSION = T_URI + URI_MAX;
const T_AGENT = T_VERSION + VERSION_LEN;

const IDLE = 0, HEADERS = 1, BODY = 2, CHUNKED = 3, UNTIL_CLOSE = 4;
// Chunked body states.
const C_SIZE = 0, C_EXT = 1, C_DATA = 2, C_DATA_END = 3, C_TRAILER = 4;
const TCP = PROTO_TCP, FIN = TCP_FIN, SYN = TCP_SYN, RST = TCP_RST;
const CR = 0x0d, LF = 0x0a;

export class HttpReassembler {
  /** Messages lost to a limit (streams, header buffers) or a sequence gap. */
  lost = 0;
  /** The directions followed (one is freed at FIN/RST or when idle). */
  private readonly slots: KeyedSlots;
  private readonly phase: Uint8Array;
  private readonly seq: NextSeq;
  private readonly bodyLeft: Float64Array;
  private readonly chunkState: Uint8Array;
  private readonly lineLen: Int32Array;
  private readonly bufs: SlotBuffers;
  private readonly bufLen: Int32Array;
  /** Per direction: the text slot of its message in progress (-1: none). */
  private readonly msg: Int32Array;
  /**
   * Per text slot: request?, status code, method / host / target / User-Agent lengths (host and
   * User-Agent -1: none).
   */
  private readonly isRequest: Uint8Array;
  private readonly status: Uint16Array;
  private readonly methodLen: Int16Array;
  private readonly hostLen: Int16Array;
  private readonly uriLen: Int16Array;
  private readonly agentLen: Int16Array;
  /** Message text, TEXT_SLOT bytes per slot (read by sinks, see HttpSink). */
  readonly textBytes: Uint8Array;
  private readonly freeText: Int32Array;
  private freeTextTop: number;
  private readonly pool: Uint8Array;
  /**
   * One bit per cheap hash of a direction's addresses and ports, set while a direction with
   * that hash has state: most TCP packets belong to no HTTP message and skip the full lookup.
   * Rebuilt by sweepIdle; a false positive only costs a lookup.
   */
  private readonly maybe = new Int32Array(MAYBE_BITS / 32);
  private readonly quick: Int32Array;
  /**
   * Per direction, its requests still unanswered, oldest in bit 0 (1 = HEAD), and how many
   * (up to 32): a response is paired with the other direction's oldest request, and the
   * answer to HEAD has no body whatever its Content-Length (RFC 9110 §9.3.2).
   */
  private readonly heads: Int32Array;
  private readonly asked: Uint8Array;
  /** The packet being fed (for the reverse direction's lookup). */
  private batch: PacketBatch | null = null;
  private at = 0;
  private readonly m = new HttpMessage();
  /** Offset of the segment's payload when `m` already holds its decode, else -1. */
  private decodedAt = -1;

  constructor(streamsMax = 16384, buffers = 256, private readonly headerBytesMax = 16384) {
    this.slots = new KeyedSlots(streamsMax);
    this.heads = new Int32Array(streamsMax);
    this.asked = new Uint8Array(streamsMax);
    this.quick = new Int32Array(streamsMax);
    this.phase = new Uint8Array(streamsMax);
    this.seq = new NextSeq(streamsMax);
    this.bodyLeft = new Float64Array(streamsMax);
    this.chunkState = new Uint8Array(streamsMax);
    this.lineLen = new Int32Array(streamsMax);
    this.bufs = new SlotBuffers(streamsMax, buffers);
    this.bufLen = new Int32Array(streamsMax);
    this.msg = new Int32Array(streamsMax).fill(-1);
    // One text slot per header buffer and as many again for messages whose body is coming,
    // plus one for snaplen-cut segments read on their own (the last slot).
    const slots = 2 * buffers + 1;
    this.isRequest = new Uint8Array(slots);
    this.status = new Uint16Array(slots);
    this.methodLen = new Int16Array(slots);
    this.hostLen = new Int16Array(slots);
    this.uriLen = new Int16Array(slots);
    this.agentLen = new Int16Array(slots);
    this.textBytes = new Uint8Array(slots * TEXT_SLOT);
    this.freeText = Int32Array.from({ length: slots - 1 }, (_, k) => slots - 2 - k);
    this.freeTextTop = slots - 1;
    this.pool = new Uint8Array(buffers * headerBytesMax);
  }

  /** Feeds TCP packet i; completed messages go to `sink`. Returns how many completed. */
  segment(batch: PacketBatch, i: number, sink: HttpSink): number {
    this.batch = batch, this.at = i;
    if (batch.family[i] === FAMILY_NONE || batch.proto[i] !== TCP) return 0;
    if ((batch.flags[i]! & FLAG_HAS_PORTS) === 0) return 0;
    const flags = batch.tcpFlags[i]!, len = batch.payloadLen[i]!;
    if (batch.capLen[i]! < batch.wireLen[i]!) return this.truncated(batch, i, sink);
    // A direction gets a state when an HTTP message starts in it, not for every TCP flow.
    const off0 = batch.payloadOff[i]!;
    // A start line begins with an upper-case letter (a method, or "HTTP/"): one byte decides
    // for nearly every segment that is not one.
    const c0 = len > 0 ? batch.bytes[off0]! : 0;
    const decoded = c0 >= 0x41 && c0 <= 0x5a && decodeHttp(batch.bytes, off0, len, this.m);
    // The header phase reuses this decode when it starts at the same byte.
    this.decodedAt = decoded ? off0 : -1;
    const starts = decoded ||
      (c0 >= 0x41 && c0 <= 0x5a && looksLikeStart(batch.bytes, off0, off0 + len));
    const q = quickHash(batch, i);
    if (!starts && (this.maybe[q >>> 5]! & (1 << (q & 31))) === 0) return 0;
    const s = this.stream(batch, i, starts);
    if (s < 0) return 0;
    let p = batch.payloadOff[i]!;
    const end = p + len;
    const skip = this.seq.advance(s, batch.tcpSeq[i]!, len, (flags & SYN) !== 0);
    if (skip === SEQ_ALL_SEEN) return this.finish(s, flags, sink, 0);
    if (skip === SEQ_GAP) this.reset(s, true); // bytes missing: the message in progress is lost
    else p += skip;
    let done = 0;
    while (p < end) {
      const ph = this.phase[s]!;
      if (ph === IDLE || ph === HEADERS) {
        const used = this.headers(s, batch.bytes, p, end, sink);
        if (used < 0) break; // waiting for more header bytes, or not HTTP
        done += used >>> 24;
        p += used & 0xffffff;
      } else if (ph === BODY) {
        const take = Math.min(this.bodyLeft[s]!, end - p);
        this.bodyLeft[s]! -= take;
        p += take;
        if (this.bodyLeft[s] === 0) done += this.complete(s, sink);
      } else if (ph === CHUNKED) {
        const q = this.chunks(s, batch.bytes, p, end);
        if (q < 0) p = -q - 1, done += this.complete(s, sink);
        else p = q;
      } else p = end; // UNTIL_CLOSE: the body runs to the FIN
    }
    return done + this.finish(s, flags, sink, 0);
  }

  /**
   * A segment cut short by the snaplen cannot be reassembled; like tshark, it is read on its
   * own: a start line in it is a message, reported here. The direction's message in progress
   * is dropped (its bytes are missing).
   */
  private truncated(batch: PacketBatch, i: number, sink: HttpSink): number {
    const s = this.stream(batch, i, false);
    if (s >= 0) this.reset(s, true);
    const off = batch.payloadOff[i]!, len = batch.payloadLen[i]!;
    if (len === 0 || !decodeHttp(batch.bytes, off, len, this.m)) return 0;
    const t = this.isRequest.length - 1; // the slot kept for this
    this.keep(t, batch.bytes);
    sink.message(this, t);
    return 1;
  }

  /** Copies the message the HTTP decoder last read (from bytes `b`) into text slot t. */
  private keep(t: number, b: Uint8Array): void {
    const m = this.m, o = t * TEXT_SLOT, tb = this.textBytes;
    const request = m.kind === HTTP_REQUEST;
    this.isRequest[t] = request ? 1 : 0;
    this.status[t] = m.code;
    this.methodLen[t] = request
      ? copyText(b, m.methodOff, m.methodLen, tb, o + T_METHOD, METHOD_MAX)
      : 0;
    this.uriLen[t] = request ? copyText(b, m.uriOff, m.uriLen, tb, o + T_URI, URI_MAX) : 0;
    this.hostLen[t] = request && m.hostLen >= 0
      ? copyText(b, m.hostOff, m.hostLen, tb, o + T_HOST, HOST_MAX)
      : -1;
    copyText(b, m.versionOff, VERSION_LEN, tb, o + T_VERSION, VERSION_LEN);
    this.agentLen[t] = request && m.agentLen >= 0
      ? copyText(b, m.agentOff, m.agentLen, tb, o + T_AGENT, AGENT_MAX)
      : -1;
  }

  // Readers of a completed message's slot (valid during HttpSink.message).
  request(t: number): boolean {
    return this.isRequest[t] === 1;
  }
  code(t: number): number {
    return this.status[t]!;
  }
  /** Offsets in textBytes and lengths of method, host (length -1: no Host), target, version. */
  methodAt(t: number): number {
    return t * TEXT_SLOT + T_METHOD;
  }
  methodLength(t: number): number {
    return this.methodLen[t]!;
  }
  hostAt(t: number): number {
    return t * TEXT_SLOT + T_HOST;
  }
  hostLength(t: number): number {
    return this.hostLen[t]!;
  }
  uriAt(t: number): number {
    return t * TEXT_SLOT + T_URI;
  }
  uriLength(t: number): number {
    return this.uriLen[t]!;
  }
  versionAt(t: number): number {
    return t * TEXT_SLOT + T_VERSION;
  }
  /** User-Agent (requests; length -1: none), at most AGENT_MAX bytes. */
  agentAt(t: number): number {
    return t * TEXT_SLOT + T_AGENT;
  }
  agentLength(t: number): number {
    return this.agentLen[t]!;
  }

  /** On FIN or RST: a response that runs to the close completes (FIN); the rest is dropped. */
  private finish(s: number, flags: number, sink: HttpSink, done: number): number {
    if ((flags & (FIN | RST)) === 0) return done;
    if ((flags & FIN) !== 0 && this.phase[s] === UNTIL_CLOSE) done += this.complete(s, sink);
    this.reset(s, true);
    this.drop(s);
    return done;
  }

  private drop(s: number): void {
    this.slots.drop(s);
  }

  /**
   * Frees every direction between messages (the engine calls it at each window's end), so
   * connections that never close do not hold slots; a message in progress, or requests
   * awaiting their answers, keep theirs.
   */
  sweepIdle(): void {
    const k = this.slots;
    if (k.used === 0) return;
    this.maybe.fill(0);
    for (let s = 0; s < k.max; s++) {
      if (k.live[s] === 0) continue;
      if (this.phase[s] === IDLE && this.msg[s] === -1 && this.asked[s] === 0) this.drop(s);
      else this.maybe[this.quick[s]! >>> 5]! |= 1 << (this.quick[s]! & 31);
    }
  }

  /** Directions with state (for tests and limits). */
  get streams(): number {
    return this.slots.used;
  }

  /**
   * Header phase on bytes [p, end): gathers the header block (in a buffer when it spans
   * segments); when whole, starts the message's body. Returns -1 when every byte was taken
   * (or is not HTTP), else (completed << 24) | bytes used.
   */
  private headers(s: number, b: Uint8Array, p: number, end: number, sink: HttpSink): number {
    const m = this.m;
    if (this.phase[s] === IDLE) {
      if ((p === this.decodedAt || decodeHttp(b, p, end - p, m)) && m.headersComplete) {
        const done = this.start(s, b, sink);
        return (done << 24) | (m.headerEnd - p);
      }
      if (!looksLikeStart(b, p, end)) return -1; // body of something we did not see start
      if (!this.take(s)) return -1;
      this.phase[s] = HEADERS;
    }
    const k = this.bufs.of[s]!, base = k * this.headerBytesMax, had = this.bufLen[s]!;
    const n = Math.min(end - p, this.headerBytesMax - had);
    this.pool.set(b.subarray(p, p + n), base + had);
    this.bufLen[s] = had + n;
    if (decodeHttp(this.pool, base, had + n, m) && m.headersComplete) {
      const used = m.headerEnd - base - had;
      const done = this.start(s, this.pool, sink);
      this.release(s);
      return (done << 24) | used;
    }
    if (had + n === this.headerBytesMax) this.reset(s, true); // header block too long
    return -1;
  }

  /** A whole header block in `m` (bytes in `b`): records the message, sets the body phase. */
  private start(s: number, b: Uint8Array, sink: HttpSink): number {
    const m = this.m;
    const request = m.kind === HTTP_REQUEST;
    if (this.freeTextTop === 0) {
      this.lost++;
      this.phase[s] = IDLE; // no room to keep it: skip this message, its body is not followed
      return 0;
    }
    const t = this.freeText[--this.freeTextTop]!;
    this.msg[s] = t;
    this.keep(t, b);
    let noBody = !request && (m.code < 200 || m.code === 204 || m.code === 304);
    if (request) this.asking(s, m.methodLen === 4 && isHead(b, m.methodOff));
    else if (m.code >= 200 && this.answered()) noBody = true;
    if (m.chunked && !noBody) {
      this.phase[s] = CHUNKED, this.chunkState[s] = C_SIZE, this.bodyLeft[s] = 0;
      this.lineLen[s] = 0;
    } else if (m.contentLength > 0 && !noBody) {
      this.phase[s] = BODY, this.bodyLeft[s] = m.contentLength;
    } else if (request || noBody || m.contentLength === 0) return this.complete(s, sink);
    else this.phase[s] = UNTIL_CLOSE;
    return 0;
  }

  /** Direction s sends a request (HEAD or not): queued for pairing with its response. */
  private asking(s: number, head: boolean): void {
    const n = this.asked[s]!;
    if (n === 32) return; // more outstanding than tracked: pairing is off for the extra
    if (head) this.heads[s]! |= 1 << n;
    this.asked[s] = n + 1;
  }

  /**
   * A final response in the current packet's direction: pops the other direction's oldest
   * request; true when that was a HEAD.
   */
  private answered(): boolean {
    const r = this.slots.findDirection(this.batch!, this.at, true);
    if (r < 0 || this.asked[r] === 0) return false;
    const head = (this.heads[r]! & 1) === 1;
    this.heads[r] = this.heads[r]! >>> 1;
    this.asked[r]!--;
    return head;
  }

  /**
   * Runs the chunked-body machine over [p, end). Returns the offset reached when it needs
   * more bytes, or -(offset + 1) when the body ended at that offset.
   */
  private chunks(s: number, b: Uint8Array, p: number, end: number): number {
    let st = this.chunkState[s]!, left = this.bodyLeft[s]!;
    while (p < end) {
      const c = b[p]!;
      if (st === C_DATA) {
        const take = Math.min(left, end - p);
        left -= take, p += take;
        if (left === 0) st = C_DATA_END;
        continue;
      }
      p++;
      if (st === C_SIZE || st === C_EXT) {
        const v = hexValue(c);
        if (c === LF) {
          if (left === 0) st = C_TRAILER, this.lineLen[s] = 0;
          else st = C_DATA;
        } else if (st === C_SIZE && v >= 0) left = left * 16 + v;
        else if (c !== CR) st = C_EXT;
      } else if (st === C_DATA_END) {
        if (c === LF) st = C_SIZE, left = 0;
      } else if (c === LF) { // C_TRAILER: ends at an empty line
        if (this.lineLen[s] === 0) {
          this.chunkState[s] = C_SIZE;
          return -(p + 1);
        }
        this.lineLen[s] = 0;
      } else if (c !== CR) this.lineLen[s]!++;
    }
    this.chunkState[s] = st, this.bodyLeft[s] = left;
    return p;
  }

  private complete(s: number, sink: HttpSink): number {
    const t = this.msg[s]!;
    this.phase[s] = IDLE;
    if (t < 0) return 0;
    sink.message(this, t);
    this.freeMsg(s);
    return 1;
  }

  private freeMsg(s: number): void {
    const t = this.msg[s]!;
    if (t >= 0) this.freeText[this.freeTextTop++] = t, this.msg[s] = -1;
  }

  /** The stream of packet i's direction (created when `create`); -1 when none or no room. */
  private stream(batch: PacketBatch, i: number, create: boolean): number {
    const k = this.slots;
    const s = k.findDirection(batch, i);
    if (s >= 0 || !create) return s;
    const n = k.add();
    if (n < 0) {
      this.lost++;
      return -1;
    }
    const qh = quickHash(batch, i);
    this.quick[n] = qh;
    this.maybe[qh >>> 5]! |= 1 << (qh & 31);
    this.phase[n] = IDLE, this.msg[n] = -1;
    this.bufs.release(n);
    this.seq.reset(n);
    this.heads[n] = 0, this.asked[n] = 0;
    return n;
  }

  private take(s: number): boolean {
    if (!this.bufs.take(s)) {
      this.lost++;
      return false;
    }
    this.bufLen[s] = 0;
    return true;
  }

  private release(s: number): void {
    this.bufs.release(s);
  }

  /** Drops the message in progress (`lost` when one was). */
  private reset(s: number, counted: boolean): void {
    if (counted && (this.phase[s] !== IDLE || this.msg[s] !== -1)) this.lost++;
    this.release(s);
    this.freeMsg(s);
    this.phase[s] = IDLE;
  }
}

const MAYBE_BITS = 1 << 16;

/** Copies at most `max` of `n` bytes from b[from..] to out[at..]; returns how many. */
function copyText(
  b: Uint8Array,
  from: number,
  n: number,
  out: Uint8Array,
  at: number,
  max: number,
): number {
  const k = Math.min(n, max);
  for (let j = 0; j < k; j++) out[at + j] = b[from + j]!;
  return k;
}

/** 16 bits from a direction's addresses (last words) and ports: the `maybe` filter's index. */
function quickHash(batch: PacketBatch, i: number): number {
  const w = i * 4;
  const x = batch.src[w + 3]! ^ batch.src[w]! ^
    Math.imul(batch.dst[w + 3]! ^ batch.dst[w]!, 0x9e3779b1) ^
    Math.imul((batch.srcPort[i]! << 16) | batch.dstPort[i]!, 0x85ebca77);
  return Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) >>> 16;
}

/** Could these bytes begin a start line not yet finished (a method name, or "HTTP/")? */
function looksLikeStart(b: Uint8Array, p: number, end: number): boolean {
  for (let k = p; k < end && k < p + 8; k++) {
    const c = b[k]!;
    if (c === 0x20 || c === 0x2f) return k > p;
    if (!((c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x5f)) return false;
  }
  return end - p < 8;
}

/** "HEAD" at b[p, p + 4)? */
function isHead(b: Uint8Array, p: number): boolean {
  return b[p] === 0x48 && b[p + 1] === 0x45 && b[p + 2] === 0x41 && b[p + 3] === 0x44;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}
