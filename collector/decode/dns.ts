/**
 * DNS messages (RFC 1035 §4; mDNS RFC 6762 and LLMNR RFC 4795 share the format), decoded
 * into a reused `DnsMessage`: header fields, the questions (name, type) and the A/AAAA
 * addresses among the answers.
 *
 * Names are written as presentation text into the message's byte buffer, nothing is
 * allocated; `nameText` makes a string only for a name that is kept. Compression pointers
 * (§4.1.4) are followed anywhere in the message — tshark follows forward ones too — with at
 * most `POINTER_JUMPS_MAX` jumps, so a pointer loop ends as an error, not a hang. A name of
 * more than 255 wire bytes (§2.3.4) becomes `<Name too long>`, the root `<Root>`, as tshark
 * prints them. Counts in the header are believed only as far as the bytes go; at most
 * `DNS_RECORDS_WALK_MAX` questions and answers are walked and `DNS_QUERIES_MAX` /
 * `DNS_ANSWERS_MAX` of them kept, so one packet's work is bounded whatever it claims.
 *
 * @module
 */

export const DNS_HEADER = 12;
export const DNS_QUERIES_MAX = 16;
export const DNS_ANSWERS_MAX = 16;
/** Wire bytes of a name at most (RFC 1035 §2.3.4). */
const NAME_WIRE_MAX = 255;
/** Text bytes kept per name: every byte may become a 4-byte escape. */
export const DNS_NAME_TEXT_MAX = 4 * NAME_WIRE_MAX;
const POINTER_JUMPS_MAX = 64;
/**
 * Questions and answer records walked per message at most: real messages carry one or a
 * few; a crafted one claiming thousands (tcpdump's dns_fwdptr: 10,518) would otherwise cost
 * milliseconds per packet.
 */
export const DNS_RECORDS_WALK_MAX = 64;

/** Why a message could not be decoded as far as it claims (app-layer reasons). */
export const DNS_OK = 0;
export const DNS_ERR_TRUNCATED = 1;
export const DNS_ERR_POINTER_LOOP = 2;
export const DNS_ERR_BAD_LABEL = 3;
/** More questions or answers than DNS_RECORDS_WALK_MAX: the rest are not read. */
export const DNS_ERR_TOO_MANY_RECORDS = 4;
export const DNS_ERROR_NAMES = [
  "none",
  "dns_truncated",
  "dns_pointer_loop",
  "dns_bad_label",
  "dns_too_many_records",
];

const TYPE_A = 1, TYPE_AAAA = 28, CLASS_IN = 1;
const ROOT = new TextEncoder().encode("<Root>");
const TOO_LONG = new TextEncoder().encode("<Name too long>");
const HEX = new TextEncoder().encode("0123456789abcdef");

export class DnsMessage {
  id = 0;
  response = false;
  opcode = 0;
  /** The header's 4-bit RCODE (EDNS extended bits not added, as tshark's dns.flags.rcode). */
  rcode = 0;
  qdcount = 0;
  ancount = 0;
  /** Questions decoded (≤ DNS_QUERIES_MAX and ≤ qdcount). */
  queries = 0;
  readonly qtype = new Uint16Array(DNS_QUERIES_MAX);
  readonly qclass = new Uint16Array(DNS_QUERIES_MAX);
  readonly nameLen = new Uint16Array(DNS_QUERIES_MAX);
  readonly names = new Uint8Array(DNS_QUERIES_MAX * DNS_NAME_TEXT_MAX);
  /** A/AAAA answers kept: family 4 or 6 and the address as four big-endian words. */
  answers = 0;
  readonly answerFamily = new Uint8Array(DNS_ANSWERS_MAX);
  readonly answerAddr = new Uint32Array(DNS_ANSWERS_MAX * 4);
  /** 0 or the DNS_ERR_* that stopped decoding (what was decoded before stays). */
  error = 0;
}

/**
 * Decodes the message in `b[off, off + len)` into `m`. Returns false when not even the
 * 12-byte header is there; otherwise true, with `m.error` set if the message stops short.
 */
export function decodeDns(b: Uint8Array, off: number, len: number, m: DnsMessage): boolean {
  m.queries = 0, m.answers = 0, m.error = DNS_OK;
  if (len < DNS_HEADER) return false;
  const end = off + len;
  m.id = (b[off]! << 8) | b[off + 1]!;
  const flags = (b[off + 2]! << 8) | b[off + 3]!;
  m.response = (flags & 0x8000) !== 0;
  m.opcode = (flags >>> 11) & 0xf;
  m.rcode = flags & 0xf;
  m.qdcount = (b[off + 4]! << 8) | b[off + 5]!;
  m.ancount = (b[off + 6]! << 8) | b[off + 7]!;
  let p = off + DNS_HEADER;
  for (let q = 0; q < m.qdcount; q++) {
    if (q === DNS_RECORDS_WALK_MAX) {
      m.error = DNS_ERR_TOO_MANY_RECORDS;
      return true;
    }
    const at = q < DNS_QUERIES_MAX ? q : -1;
    p = at < 0 ? skipName(b, end, p, m) : readName(b, off, end, p, m, at);
    if (p < 0) return true;
    if (p + 4 > end) {
      m.error = DNS_ERR_TRUNCATED;
      return true;
    }
    if (at >= 0) {
      m.qtype[at] = (b[p]! << 8) | b[p + 1]!;
      m.qclass[at] = (b[p + 2]! << 8) | b[p + 3]!;
      m.queries = at + 1;
    }
    p += 4;
  }
  for (let a = 0; a < m.ancount && m.answers < DNS_ANSWERS_MAX; a++) {
    if (a === DNS_RECORDS_WALK_MAX) {
      m.error = DNS_ERR_TOO_MANY_RECORDS;
      return true;
    }
    p = skipName(b, end, p, m);
    if (p < 0) return true;
    if (p + 10 > end) {
      m.error = DNS_ERR_TRUNCATED;
      return true;
    }
    const type = (b[p]! << 8) | b[p + 1]!;
    const cls = ((b[p + 2]! << 8) | b[p + 3]!) & 0x7fff; // mDNS: top bit is cache-flush
    const rdlen = (b[p + 8]! << 8) | b[p + 9]!;
    p += 10;
    if (p + rdlen > end) {
      m.error = DNS_ERR_TRUNCATED;
      return true;
    }
    if (
      cls === CLASS_IN && ((type === TYPE_A && rdlen === 4) || (type === TYPE_AAAA && rdlen === 16))
    ) {
      const k = m.answers++;
      m.answerFamily[k] = type === TYPE_A ? 4 : 6;
      for (let j = 0; j < 4; j++) {
        const o = p + 4 * j;
        m.answerAddr[k * 4 + j] = j < rdlen / 4
          ? ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0
          : 0;
      }
    }
    p += rdlen;
  }
  return true;
}

/**
 * Reads the name at `p` (message starts at `msg`, ends at `end`); writes its text into slot
 * `at` of `m` (none when `at` is -1). Returns the offset after the name in the record, or -1
 * with `m.error` set.
 */
function readName(
  b: Uint8Array,
  msg: number,
  end: number,
  p: number,
  m: DnsMessage,
  at: number,
): number {
  const base = at < 0 ? 0 : at * DNS_NAME_TEXT_MAX;
  let t = 0, wire = 0, jumps = 0, after = -1;
  let tooLong = false;
  for (;;) {
    if (p >= end) {
      m.error = DNS_ERR_TRUNCATED;
      return -1;
    }
    const c = b[p]!;
    if (c === 0) {
      if (after < 0) after = p + 1;
      break;
    }
    if ((c & 0xc0) === 0xc0) {
      if (p + 1 >= end) {
        m.error = DNS_ERR_TRUNCATED;
        return -1;
      }
      if (++jumps > POINTER_JUMPS_MAX) {
        m.error = DNS_ERR_POINTER_LOOP;
        return -1;
      }
      if (after < 0) after = p + 2;
      p = msg + (((c & 0x3f) << 8) | b[p + 1]!);
      continue;
    }
    if ((c & 0xc0) !== 0) {
      // 0x40 / 0x80: extended label types (RFC 6891 §5 retired them); not a name we can read.
      m.error = DNS_ERR_BAD_LABEL;
      return -1;
    }
    if (p + 1 + c > end) {
      m.error = DNS_ERR_TRUNCATED;
      return -1;
    }
    wire += c + 1;
    if (wire > NAME_WIRE_MAX) {
      tooLong = true;
      // The text is settled; once the name's end in the record is known, stop walking.
      if (after >= 0) break;
    }
    if (at >= 0 && !tooLong) {
      if (t > 0) m.names[base + t++] = 0x2e; // "."
      t = writeLabel(b, p + 1, c, m.names, base + t) - base;
    }
    p += 1 + c;
  }
  if (at >= 0) {
    const text = tooLong ? TOO_LONG : t === 0 ? ROOT : null;
    if (text !== null) m.names.set(text, base), t = text.length;
    m.nameLen[at] = t;
  }
  return after;
}

/**
 * Skips the name at `p` without following its pointer (the bytes it occupies in the record
 * end at the zero label or after the first pointer). Returns the offset after it, or -1 with
 * `m.error` set.
 */
function skipName(b: Uint8Array, end: number, p: number, m: DnsMessage): number {
  for (;;) {
    if (p >= end) {
      m.error = DNS_ERR_TRUNCATED;
      return -1;
    }
    const c = b[p]!;
    if (c === 0) return p + 1;
    if ((c & 0xc0) === 0xc0) {
      if (p + 1 >= end) {
        m.error = DNS_ERR_TRUNCATED;
        return -1;
      }
      return p + 2;
    }
    if ((c & 0xc0) !== 0) {
      m.error = DNS_ERR_BAD_LABEL;
      return -1;
    }
    p += 1 + c;
  }
}

/**
 * Copies a label as text: printable ASCII as is, other bytes as "\xNN" (tshark's
 * format_text escaping). Returns the offset after the text.
 */
function writeLabel(b: Uint8Array, p: number, n: number, out: Uint8Array, o: number): number {
  for (let k = 0; k < n; k++) {
    const c = b[p + k]!;
    if (c >= 0x20 && c < 0x7f) out[o++] = c;
    else {
      out[o++] = 0x5c, out[o++] = 0x78; // "\x"
      out[o++] = HEX[c >>> 4]!, out[o++] = HEX[c & 15]!;
    }
  }
  return o;
}

const DECODER = new TextDecoder("latin1");

/** Question `q`'s name as a string (allocates: for names that are kept). */
export function nameText(m: DnsMessage, q: number): string {
  const o = q * DNS_NAME_TEXT_MAX;
  return DECODER.decode(m.names.subarray(o, o + m.nameLen[q]!));
}

/** DNS flavours (the `num` of the app tables). */
export const APP_DNS = 1, APP_MDNS = 2, APP_LLMNR = 3;

/**
 * Which DNS flavour a UDP port pair carries, by port as tshark picks a dissector: the lower
 * port first; the higher one only when the lower is not a well-known port (below 1024), since
 * those have dissectors of their own. 0 when none.
 */
export function dnsKind(sport: number, dport: number): number {
  return byLowerPort(sport, dport, udpKind);
}

/**
 * The same over TCP, where tshark reads ports 53 and 5353 as plain DNS (mDNS and LLMNR are
 * registered on UDP only).
 */
export function dnsKindTcp(sport: number, dport: number): number {
  return byLowerPort(sport, dport, tcpKind);
}

function udpKind(port: number): number {
  return port === 53 ? APP_DNS : port === 5353 ? APP_MDNS : port === 5355 ? APP_LLMNR : 0;
}

function tcpKind(port: number): number {
  return port === 53 || port === 5353 ? APP_DNS : 0;
}

function byLowerPort(sport: number, dport: number, kindOf: (port: number) => number): number {
  const lo = sport < dport ? sport : dport, hi = sport < dport ? dport : sport;
  const k = kindOf(lo);
  return k !== 0 || lo < 1024 ? k : kindOf(hi);
}
