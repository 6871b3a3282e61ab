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
 * A segment cut short by the snaplen is read on its own, as tshark does. Not done here: IP
 * fragments are not reassembled (tshark's reassembled view does), and the reply to a HEAD
 * request is read as if it had a body.
 *
 * @module
 */

import { FAMILY_NONE, FLAG_HAS_PORTS, type PacketBatch } from "./batch.ts";
import { decodeHttp, fieldText, HTTP_REQUEST, HttpMessage } from "./decode/http.ts";
import { LaneIndex } from "../sketches/_lane_index.ts";
import { hashWords } from "../sketches/hash.ts";

/** A message that completed, as reported (strings: a completed message is kept). */
export interface HttpDone {
  request: boolean;
  method: string | null;
  uri: string | null;
  version: string;
  host: string | null;
  code: number;
}

const IDLE = 0, HEADERS = 1, BODY = 2, CHUNKED = 3, UNTIL_CLOSE = 4;
// Chunked body states.
const C_SIZE = 0, C_EXT = 1, C_DATA = 2, C_DATA_END = 3, C_TRAILER = 4;
const TCP = 6, FIN = 0x01, SYN = 0x02, RST = 0x04;
const CR = 0x0d, LF = 0x0a;

export class HttpReassembler {
  readonly streamsMax: number;
  /** Messages lost to a limit (streams, header buffers) or a sequence gap. */
  lost = 0;
  private readonly index: LaneIndex;
  /** Live directions, and the free slots (a direction is freed at FIN/RST or when idle). */
  private readonly live: Uint8Array;
  private readonly freeStreams: Int32Array;
  private freeStreamTop: number;
  private readonly phase: Uint8Array;
  private readonly seqValid: Uint8Array;
  private readonly nextSeq: Uint32Array;
  private readonly bodyLeft: Float64Array;
  private readonly chunkState: Uint8Array;
  private readonly lineLen: Int32Array;
  private readonly buf: Int32Array;
  private readonly bufLen: Int32Array;
  private readonly pending: (HttpDone | null)[];
  private readonly pool: Uint8Array;
  private readonly freeBufs: Int32Array;
  private freeTop: number;
  private readonly m = new HttpMessage();
  private readonly words = new Int32Array(10);
  private readonly lanes = new Int32Array(2);

  constructor(streamsMax = 16384, buffers = 256, private readonly headerBytesMax = 16384) {
    this.streamsMax = streamsMax;
    this.index = new LaneIndex(streamsMax);
    this.live = new Uint8Array(streamsMax);
    this.freeStreams = Int32Array.from({ length: streamsMax }, (_, k) => streamsMax - 1 - k);
    this.freeStreamTop = streamsMax;
    this.phase = new Uint8Array(streamsMax);
    this.seqValid = new Uint8Array(streamsMax);
    this.nextSeq = new Uint32Array(streamsMax);
    this.bodyLeft = new Float64Array(streamsMax);
    this.chunkState = new Uint8Array(streamsMax);
    this.lineLen = new Int32Array(streamsMax);
    this.buf = new Int32Array(streamsMax).fill(-1);
    this.bufLen = new Int32Array(streamsMax);
    this.pending = new Array(streamsMax).fill(null);
    this.pool = new Uint8Array(buffers * headerBytesMax);
    this.freeBufs = Int32Array.from({ length: buffers }, (_, k) => buffers - 1 - k);
    this.freeTop = buffers;
  }

  /** Feeds TCP packet i; completed messages are pushed to `out`. Returns how many. */
  segment(batch: PacketBatch, i: number, out: HttpDone[]): number {
    if (batch.family[i] === FAMILY_NONE || batch.proto[i] !== TCP) return 0;
    if ((batch.flags[i]! & FLAG_HAS_PORTS) === 0) return 0;
    const flags = batch.tcpFlags[i]!, len = batch.payloadLen[i]!;
    if (batch.capLen[i]! < batch.wireLen[i]!) return this.truncated(batch, i, out);
    // A direction gets a state when an HTTP message starts in it, not for every TCP flow.
    const off0 = batch.payloadOff[i]!;
    const starts = len > 0 &&
      (decodeHttp(batch.bytes, off0, len, this.m) || looksLikeStart(batch.bytes, off0, off0 + len));
    const s = this.stream(batch, i, starts);
    if (s < 0) return 0;
    const seq = batch.tcpSeq[i]!;
    let p = batch.payloadOff[i]!;
    const end = p + len;
    if ((flags & SYN) !== 0) this.seqValid[s] = 1, this.nextSeq[s] = (seq + 1) >>> 0;
    else if (len > 0) {
      if (this.seqValid[s] === 0) this.seqValid[s] = 1, this.nextSeq[s] = seq;
      const delta = (seq - this.nextSeq[s]!) | 0;
      if (delta > 0) this.reset(s, true); // bytes missing: the message in progress is lost
      else if (delta < 0) {
        if (-delta >= len) return this.finish(s, flags, out, 0); // all seen before
        p -= delta;
      }
      this.nextSeq[s] = (seq + len) >>> 0;
    }
    let done = 0;
    while (p < end) {
      const ph = this.phase[s]!;
      if (ph === IDLE || ph === HEADERS) {
        const used = this.headers(s, batch.bytes, p, end, out);
        if (used < 0) break; // waiting for more header bytes, or not HTTP
        done += used >>> 24;
        p += used & 0xffffff;
      } else if (ph === BODY) {
        const take = Math.min(this.bodyLeft[s]!, end - p);
        this.bodyLeft[s]! -= take;
        p += take;
        if (this.bodyLeft[s] === 0) done += this.complete(s, out);
      } else if (ph === CHUNKED) {
        const q = this.chunks(s, batch.bytes, p, end);
        if (q < 0) p = -q - 1, done += this.complete(s, out);
        else p = q;
      } else p = end; // UNTIL_CLOSE: the body runs to the FIN
    }
    return done + this.finish(s, flags, out, 0);
  }

  /**
   * A segment cut short by the snaplen cannot be reassembled; like tshark, it is read on its
   * own: a start line in it is a message, reported here. The direction's message in progress
   * is dropped (its bytes are missing).
   */
  private truncated(batch: PacketBatch, i: number, out: HttpDone[]): number {
    const s = this.stream(batch, i, false);
    if (s >= 0) this.reset(s, true);
    const off = batch.payloadOff[i]!, len = batch.payloadLen[i]!;
    if (len === 0 || !decodeHttp(batch.bytes, off, len, this.m)) return 0;
    out.push(this.describe(batch.bytes));
    return 1;
  }

  /** The message the HTTP decoder last read (from bytes `b`), as reported. */
  private describe(b: Uint8Array): HttpDone {
    const m = this.m;
    const request = m.kind === HTTP_REQUEST;
    return {
      request,
      method: request ? fieldText(b, m.methodOff, m.methodLen) : null,
      uri: request ? fieldText(b, m.uriOff, m.uriLen) : null,
      version: fieldText(b, m.versionOff, m.versionLen)!,
      host: request ? fieldText(b, m.hostOff, m.hostLen) : null,
      code: m.code,
    };
  }

  /** On FIN or RST: a response that runs to the close completes (FIN); the rest is dropped. */
  private finish(s: number, flags: number, out: HttpDone[], done: number): number {
    if ((flags & (FIN | RST)) === 0) return done;
    if ((flags & FIN) !== 0 && this.phase[s] === UNTIL_CLOSE) done += this.complete(s, out);
    this.reset(s, true);
    this.drop(s);
    return done;
  }

  private drop(s: number): void {
    if (this.live[s] === 0) return;
    this.live[s] = 0;
    this.index.remove(s);
    this.freeStreams[this.freeStreamTop++] = s;
  }

  /**
   * Frees every direction between messages (the engine calls it at each window's end), so
   * connections that never close do not hold slots; a message in progress keeps its own.
   */
  sweepIdle(): void {
    for (let s = 0; s < this.streamsMax; s++) {
      if (this.live[s] === 1 && this.phase[s] === IDLE && this.pending[s] === null) this.drop(s);
    }
  }

  /** Directions with state (for tests and limits). */
  get streams(): number {
    return this.streamsMax - this.freeStreamTop;
  }

  /**
   * Header phase on bytes [p, end): gathers the header block (in a buffer when it spans
   * segments); when whole, starts the message's body. Returns -1 when every byte was taken
   * (or is not HTTP), else (completed << 24) | bytes used.
   */
  private headers(s: number, b: Uint8Array, p: number, end: number, out: HttpDone[]): number {
    const m = this.m;
    if (this.phase[s] === IDLE) {
      if (decodeHttp(b, p, end - p, m) && m.headersComplete) {
        const done = this.start(s, b, out);
        return (done << 24) | (m.headerEnd - p);
      }
      if (!looksLikeStart(b, p, end)) return -1; // body of something we did not see start
      if (!this.take(s)) return -1;
      this.phase[s] = HEADERS;
    }
    const k = this.buf[s]!, base = k * this.headerBytesMax, had = this.bufLen[s]!;
    const n = Math.min(end - p, this.headerBytesMax - had);
    this.pool.set(b.subarray(p, p + n), base + had);
    this.bufLen[s] = had + n;
    if (decodeHttp(this.pool, base, had + n, m) && m.headersComplete) {
      const used = m.headerEnd - base - had;
      const done = this.start(s, this.pool, out);
      this.release(s);
      return (done << 24) | used;
    }
    if (had + n === this.headerBytesMax) this.reset(s, true); // header block too long
    return -1;
  }

  /** A whole header block in `m` (bytes in `b`): records the message, sets the body phase. */
  private start(s: number, b: Uint8Array, out: HttpDone[]): number {
    const m = this.m;
    const request = m.kind === HTTP_REQUEST;
    this.pending[s] = this.describe(b);
    const noBody = !request && (m.code < 200 || m.code === 204 || m.code === 304);
    if (m.chunked && !noBody) {
      this.phase[s] = CHUNKED, this.chunkState[s] = C_SIZE, this.bodyLeft[s] = 0;
      this.lineLen[s] = 0;
    } else if (m.contentLength > 0 && !noBody) {
      this.phase[s] = BODY, this.bodyLeft[s] = m.contentLength;
    } else if (request || noBody || m.contentLength === 0) return this.complete(s, out);
    else this.phase[s] = UNTIL_CLOSE;
    return 0;
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

  private complete(s: number, out: HttpDone[]): number {
    const msg = this.pending[s];
    this.pending[s] = null;
    this.phase[s] = IDLE;
    if (msg === null || msg === undefined) return 0;
    out.push(msg);
    return 1;
  }

  /** The stream of packet i's direction (created when `create`); -1 when none or no room. */
  private stream(batch: PacketBatch, i: number, create: boolean): number {
    const w = this.words, q = i * 4;
    for (let j = 0; j < 4; j++) w[j] = batch.src[q + j]!, w[4 + j] = batch.dst[q + j]!;
    w[8] = (batch.srcPort[i]! << 16) | batch.dstPort[i]!, w[9] = batch.family[i]!;
    hashWords(w, 0, 10, this.lanes);
    const a = this.lanes[0]!, b = this.lanes[1]!;
    const s = this.index.find(a, b);
    if (s >= 0 || !create) return s;
    if (this.freeStreamTop === 0) {
      this.lost++;
      return -1;
    }
    const n = this.freeStreams[--this.freeStreamTop]!;
    this.live[n] = 1;
    this.index.insert(n, a, b);
    this.phase[n] = IDLE, this.seqValid[n] = 0, this.buf[n] = -1, this.pending[n] = null;
    return n;
  }

  private take(s: number): boolean {
    if (this.freeTop === 0) {
      this.lost++;
      return false;
    }
    this.buf[s] = this.freeBufs[--this.freeTop]!, this.bufLen[s] = 0;
    return true;
  }

  private release(s: number): void {
    if (this.buf[s]! >= 0) this.freeBufs[this.freeTop++] = this.buf[s]!, this.buf[s] = -1;
  }

  /** Drops the message in progress (`lost` when one was). */
  private reset(s: number, counted: boolean): void {
    if (counted && (this.phase[s] !== IDLE || this.pending[s] !== null)) this.lost++;
    this.release(s);
    this.phase[s] = IDLE, this.pending[s] = null;
  }
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

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}
