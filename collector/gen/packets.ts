/**
 * Frame builders for the synthetic traffic generator: Ethernet (optionally 802.1Q tagged),
 * IPv4 / IPv6, TCP / UDP / ICMP / ICMPv6, written in place into a caller's buffer.
 *
 * @module
 */

export interface Endpoints {
  v6: boolean;
  /** IPv4 address, or the last word of an IPv6 address in 2001:db8::/32. */
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  vlan: number; // -1 = untagged
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Internet checksum (RFC 1071) of b[from, to). */
function checksum(b: Uint8Array, from: number, to: number): number {
  let sum = 0;
  for (let o = from; o + 1 < to; o += 2) sum += (b[o]! << 8) | b[o + 1]!;
  if ((to - from) & 1) sum += b[to - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ipv6Addr(b: Uint8Array, o: number, last: number): void {
  put32(b, o, 0x20010db8);
  put32(b, o + 4, 0);
  put32(b, o + 8, 0);
  put32(b, o + 12, last);
}

/**
 * Writes one frame at `o` and returns its length. `l4` is 6, 17, 1 or 58; `ack` is the TCP
 * acknowledgment number when ACK is set (default: a number derived from `seq`); `payload` bytes
 * (already written by the caller at the returned payload offset is not possible, so the
 * payload is copied from `data` when given, else zero-filled).
 */
export function writeFrame(
  b: Uint8Array,
  o: number,
  ep: Endpoints,
  l4: number,
  tcpFlags: number,
  seq: number,
  data: Uint8Array | null,
  payloadLen: number,
  ack = seq ^ 0x5a5a5a5a,
): number {
  const start = o;
  // Locally administered MACs derived from the addresses keep frames deterministic.
  put32(b, o, 0x02000000 | (ep.dst & 0xffffff));
  put16(b, o + 4, 0x0001);
  put32(b, o + 6, 0x02000000 | (ep.src & 0xffffff));
  put16(b, o + 10, 0x0002);
  o += 12;
  if (ep.vlan >= 0) {
    put16(b, o, 0x8100);
    put16(b, o + 2, ep.vlan & 0x0fff);
    o += 4;
  }
  put16(b, o, ep.v6 ? 0x86dd : 0x0800);
  o += 2;
  const l4Header = l4 === 6 ? 20 : 8;
  const l4Len = l4Header + payloadLen;
  const ipStart = o;
  if (ep.v6) {
    put32(b, o, 0x60000000);
    put16(b, o + 4, l4Len);
    b[o + 6] = l4;
    b[o + 7] = 64;
    ipv6Addr(b, o + 8, ep.src);
    ipv6Addr(b, o + 24, ep.dst);
    o += 40;
  } else {
    b[o] = 0x45;
    b[o + 1] = 0;
    put16(b, o + 2, 20 + l4Len);
    put16(b, o + 4, seq & 0xffff);
    put16(b, o + 6, 0x4000);
    b[o + 8] = 64;
    b[o + 9] = l4;
    put16(b, o + 10, 0);
    put32(b, o + 12, ep.src);
    put32(b, o + 16, ep.dst);
    put16(b, o + 10, checksum(b, ipStart, ipStart + 20));
    o += 20;
  }
  if (l4 === 6) {
    put16(b, o, ep.srcPort);
    put16(b, o + 2, ep.dstPort);
    put32(b, o + 4, seq);
    put32(b, o + 8, (tcpFlags & 0x10) !== 0 ? ack : 0);
    b[o + 12] = 0x50;
    b[o + 13] = tcpFlags;
    put16(b, o + 14, 65535);
    put32(b, o + 16, 0);
  } else if (l4 === 17) {
    put16(b, o, ep.srcPort);
    put16(b, o + 2, ep.dstPort);
    put16(b, o + 4, l4Len);
    put16(b, o + 6, 0);
  } else {
    // ICMP / ICMPv6 echo request (8 / 128) or reply (0 / 129): type from tcpFlags.
    b[o] = tcpFlags;
    b[o + 1] = 0;
    put16(b, o + 2, 0);
    put16(b, o + 4, ep.srcPort);
    put16(b, o + 6, seq & 0xffff);
  }
  o += l4Header;
  const copied = data === null ? 0 : Math.min(data.length, payloadLen);
  if (data !== null) b.set(data.subarray(0, copied), o);
  b.fill(0, o + copied, o + payloadLen);
  o += payloadLen;
  return o - start;
}
