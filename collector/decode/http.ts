/**
 * HTTP/1.x start lines and a few headers (RFC 9112 §3, §4; RFC 9110), decoded into a reused
 * `HttpMessage` as offsets into the packet bytes: nothing is copied or allocated until a
 * field is kept (`fieldText`). SSDP (HTTP over UDP 1900, UPnP) has the same shape.
 *
 * A payload is HTTP when it starts with a request line (`METHOD SP target SP HTTP/d.d`) or a
 * status line (`HTTP/d.d SP ddd`), the test tshark's HTTP heuristic makes too, on any port.
 * Headers are read up to the blank line or the end of the bytes at hand: Host and
 * User-Agent, first occurrence, surrounding blanks trimmed.
 *
 * @module
 */

export const HTTP_REQUEST = 1;
export const HTTP_RESPONSE = 2;

/** Longest method token accepted (WebDAV's VERSION-CONTROL is the longest standard one). */
const METHOD_MAX = 24;
/** Header bytes searched at most for Host / User-Agent. */
const HEADERS_MAX = 16 * 1024;

const SP = 0x20, CR = 0x0d, LF = 0x0a, COLON = 0x3a, TAB = 0x09;

export class HttpMessage {
  /** 0 (not HTTP), HTTP_REQUEST or HTTP_RESPONSE. */
  kind = 0;
  /** Offsets and lengths into the packet bytes; length -1 = absent. */
  methodOff = 0;
  methodLen = -1;
  uriOff = 0;
  uriLen = -1;
  versionOff = 0;
  versionLen = 0;
  hostOff = 0;
  hostLen = -1;
  agentOff = 0;
  agentLen = -1;
  code = 0;
  /** The header block ended within the bytes (blank line seen). */
  headersComplete = false;
  /** Offset just after the blank line ending the headers (when complete). */
  headerEnd = 0;
  /** Content-Length (-1 when absent or not a number). */
  contentLength = -1;
  /** Transfer-Encoding ends in "chunked" (RFC 9112 §6.1). */
  chunked = false;
}

/** "HTTP/d.d" at p? */
function isVersion(b: Uint8Array, p: number, end: number): boolean {
  return p + 8 <= end && b[p] === 0x48 && b[p + 1] === 0x54 && b[p + 2] === 0x54 &&
    b[p + 3] === 0x50 && b[p + 4] === 0x2f && isDigit(b[p + 5]!) && b[p + 6] === 0x2e &&
    isDigit(b[p + 7]!);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Method characters: upper-case letters, digits, '-' and '_' (M-SEARCH, VERSION-CONTROL). */
function isMethodChar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || isDigit(c) || c === 0x2d || c === 0x5f;
}

/** End of the line starting at p (offset of its CR or LF, or `end`). */
function lineEnd(b: Uint8Array, p: number, end: number): number {
  while (p < end && b[p] !== CR && b[p] !== LF) p++;
  return p;
}

/**
 * Decodes the start of `b[off, off + len)`. Returns true and fills `m` when it is an HTTP
 * request or response start; false (m.kind 0) otherwise.
 */
export function decodeHttp(b: Uint8Array, off: number, len: number, m: HttpMessage): boolean {
  m.kind = 0, m.code = 0, m.headersComplete = false;
  m.headerEnd = 0, m.contentLength = -1, m.chunked = false;
  m.methodLen = -1, m.uriLen = -1, m.hostLen = -1, m.agentLen = -1;
  const end = off + len;
  // Decide from the first bytes before looking for the line end, so binary payloads (TLS,
  // media) cost a byte or two, not a scan of the segment.
  let eol: number;
  if (isVersion(b, off, end)) {
    // status-line = HTTP-version SP status-code SP [reason-phrase]
    const c = off + 9;
    if (c + 3 > end || b[off + 8] !== SP || !isDigit(b[c]!) || !isDigit(b[c + 1]!)) return false;
    if (
      !isDigit(b[c + 2]!) || (c + 3 < end && b[c + 3] !== SP && b[c + 3] !== CR && b[c + 3] !== LF)
    ) {
      return false;
    }
    eol = lineEnd(b, c + 3, end);
    if (eol === end) return false; // no whole start line in these bytes
    m.kind = HTTP_RESPONSE;
    m.versionOff = off, m.versionLen = 8;
    m.code = (b[c]! - 0x30) * 100 + (b[c + 1]! - 0x30) * 10 + (b[c + 2]! - 0x30);
  } else {
    // request-line = method SP request-target SP HTTP-version
    let p = off;
    while (p < end && p - off < METHOD_MAX && isMethodChar(b[p]!)) p++;
    if (p === off || p >= end || b[p] !== SP) return false;
    const uri = p + 1;
    eol = lineEnd(b, uri, end);
    if (eol === end) return false;
    let q = eol - 1;
    while (q > uri && b[q] === SP) q--; // trailing blanks before CRLF
    const vOff = q - 7;
    if (vOff <= uri || b[vOff - 1] !== SP || !isVersion(b, vOff, q + 1)) return false;
    let uriEnd = vOff - 1;
    while (uriEnd > uri && b[uriEnd - 1] === SP) uriEnd--;
    if (uriEnd === uri) return false;
    m.kind = HTTP_REQUEST;
    m.methodOff = off, m.methodLen = p - off;
    m.uriOff = uri, m.uriLen = uriEnd - uri;
    m.versionOff = vOff, m.versionLen = 8;
  }
  readHeaders(b, eol, Math.min(end, eol + HEADERS_MAX), m);
  return true;
}

/** Reads header lines after the start line ending at `p`, for Host and User-Agent. */
function readHeaders(b: Uint8Array, p: number, end: number, m: HttpMessage): void {
  for (;;) {
    if (p < end && b[p] === CR) p++;
    if (p < end && b[p] === LF) p++;
    if (p >= end) return;
    const e = lineEnd(b, p, end);
    if (e === p) {
      m.headersComplete = e < end;
      if (m.headersComplete) {
        m.headerEnd = b[e] === CR && e + 1 < end && b[e + 1] === LF ? e + 2 : e + 1;
      }
      return;
    }
    if (e === end) return; // a header cut short is not read
    let c = p;
    while (c < e && b[c] !== COLON) c++;
    if (c < e) {
      let v = c + 1, ve = e;
      while (v < ve && (b[v] === SP || b[v] === TAB)) v++;
      while (ve > v && (b[ve - 1] === SP || b[ve - 1] === TAB)) ve--;
      if (m.hostLen < 0 && nameIs(b, p, c, "host")) m.hostOff = v, m.hostLen = ve - v;
      else if (m.agentLen < 0 && nameIs(b, p, c, "user-agent")) {
        m.agentOff = v, m.agentLen = ve - v;
      } else if (nameIs(b, p, c, "content-length")) {
        let n = 0, k = v;
        while (k < ve && isDigit(b[k]!) && n < 1e15) n = n * 10 + b[k++]! - 0x30;
        m.contentLength = k === ve && k > v ? n : -1;
      } else if (nameIs(b, p, c, "transfer-encoding")) {
        m.chunked = ve - v >= 7 && endsWithChunked(b, ve);
      }
    }
    p = e;
  }
}

/** The value ending at `ve` ends with "chunked" (any case). */
function endsWithChunked(b: Uint8Array, ve: number): boolean {
  const w = "chunked";
  for (let k = 0; k < 7; k++) if ((b[ve - 7 + k]! | 0x20) !== w.charCodeAt(k)) return false;
  return true;
}

/** Header name b[p, e) equals `lower` ignoring ASCII case. */
function nameIs(b: Uint8Array, p: number, e: number, lower: string): boolean {
  if (e - p !== lower.length) return false;
  for (let k = 0; k < lower.length; k++) {
    if ((b[p + k]! | 0x20) !== lower.charCodeAt(k)) return false;
  }
  return true;
}

const TEXT = new TextDecoder("latin1");

/** A field of `m` as a string (allocates: for fields that are kept); null when absent. */
export function fieldText(b: Uint8Array, off: number, len: number): string | null {
  return len < 0 ? null : TEXT.decode(b.subarray(off, off + len));
}
