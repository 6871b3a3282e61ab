/**
 * Less common link types that still lead to IP, as tcpdump's and tshark's test captures carry
 * them: OpenBSD pflog (117) and enc (109), Linux NFLOG (239), PPPoE without Ethernet (51),
 * IP over InfiniBand (242), Hilscher netANALYZER (240, 241), ATM RFC 1483 LLC (11), Token Ring
 * (6), FDDI (10) and Frame Relay (107, RFC 2427).
 *
 * @module
 */

import type { PacketBatch } from "../packet/mod.ts";
import { ERR_LINK_TRUNCATED } from "./errors.ts";
import {
  decodeEthernet,
  decodeEtherType,
  decodePppoeSession,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
} from "./ethernet.ts";

const BSD_AF_INET = 2;
const AF_INET6_VALUES = [24, 28, 30]; // BSD, FreeBSD, Darwin
const LINUX_AF_INET6 = 10;
const NFLOG_HEADER = 4;
const NFULA_PAYLOAD = 9;
const ENC_HEADER = 12;
/** pcap IPoIB: a 40-byte GRH pseudo-header, then type (2) and reserved (2) bytes. */
const IPOIB_HEADER = 44;
const NETANALYZER_HEADER = 4;
const TOKEN_RING_HEADER = 14;
const FDDI_HEADER = 13;
const FR_NLPID_IPV4 = 0xcc;
const FR_NLPID_IPV6 = 0x8e;
const FR_NLPID_SNAP = 0x80;

/** Sends a BSD address family (2, or 24/28/30 for IPv6) on to IPv4 or IPv6; others are not IP. */
export function decodeFamily(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  family: number,
  out: PacketBatch,
  i: number,
): void {
  if (family === BSD_AF_INET) decodeEtherType(b, off, end, wireEnd, ETHERTYPE_IPV4, out, i);
  else if (AF_INET6_VALUES.includes(family)) {
    decodeEtherType(b, off, end, wireEnd, ETHERTYPE_IPV6, out, i);
  }
}

function truncated(out: PacketBatch, i: number): void {
  out.error[i] = ERR_LINK_TRUNCATED;
}

/** OpenBSD pflog: header length (padded to 4 bytes) at byte 0, address family at byte 1. */
export function decodePflog(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  if (end - off < 4) return truncated(out, i);
  const hlen = (b[off]! + 3) & ~3;
  if (hlen < 4 || end - off < hlen) return truncated(out, i);
  decodeFamily(b, off + hlen, end, wireEnd, b[off + 1]!, out, i);
}

/** OpenBSD enc (IPsec): 12-byte header whose first word is the family in the writer's order. */
export function decodeEnc(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  if (end - off < ENC_HEADER) return truncated(out, i);
  let af = (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
  if (af > 0xffff) {
    af = ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
  }
  decodeFamily(b, off + ENC_HEADER, end, wireEnd, af, out, i);
}

/**
 * Linux NFLOG: family, version, resource id, then TLVs (length and type in the writer's byte
 * order, padded to 4 bytes); the packet is the NFULA_PAYLOAD TLV.
 */
export function decodeNflog(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  if (end - off < NFLOG_HEADER) return truncated(out, i);
  const family = b[off]!;
  // The TLV header's byte order is the writer's: take the order that gives a sane first length.
  const le0 = end - off >= 8 ? b[off + 4]! | (b[off + 5]! << 8) : 0;
  const le = le0 >= 4 && le0 <= end - off - NFLOG_HEADER;
  // tshark reads every TLV before it dissects the payload: one it cannot read (cut off by the
  // snaplen, or shorter than its own header) stops the frame, payload included.
  let payload = -1, payloadEnd = -1;
  let p = off + NFLOG_HEADER;
  for (let n = 0; p < wireEnd; n++) {
    if (n === 1024 || end - p < 4) return truncated(out, i);
    const len = le ? b[p]! | (b[p + 1]! << 8) : (b[p]! << 8) | b[p + 1]!;
    const type = (le ? b[p + 2]! | (b[p + 3]! << 8) : (b[p + 2]! << 8) | b[p + 3]!) & 0x7fff;
    if (len < 4 || p + len > wireEnd) return truncated(out, i);
    if (type === NFULA_PAYLOAD && payload < 0) payload = p + 4, payloadEnd = p + len;
    p += (len + 3) & ~3;
  }
  if (payload < 0) return;
  const af = family === LINUX_AF_INET6 ? 24 : family;
  decodeFamily(b, payload, Math.min(end, payloadEnd), Math.min(wireEnd, payloadEnd), af, out, i);
}

/** PPPoE session frames without their Ethernet header (LINKTYPE_PPP_ETHER). */
export function decodePppEther(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  decodePppoeSession(b, off, end, wireEnd, out, i);
}

/** IP over InfiniBand (pcap): the type decides IPv4 or IPv6; nothing else is IP. */
export function decodeIpoib(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  if (end - off < IPOIB_HEADER) return truncated(out, i);
  const type = (b[off + 40]! << 8) | b[off + 41]!;
  if (type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6) {
    decodeEtherType(b, off + IPOIB_HEADER, end, wireEnd, type, out, i);
  }
}

/**
 * netANALYZER: a 4-byte header whose second byte holds a GPIO-event flag (bit 0) and a version
 * (bits 2-5, must be 1), then Ethernet. Transparent-mode frames (241) are raw line data that
 * tshark does not decode further, so they are never IP.
 */
export function decodeNetAnalyzer(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  if (end - off < NETANALYZER_HEADER) return truncated(out, i);
  const flags = b[off + 1]!;
  if ((flags & 1) !== 0 || ((flags >> 2) & 0xf) !== 1) return;
  decodeEthernet(b, off + NETANALYZER_HEADER, end, wireEnd, out, i);
}

/** LLC/SNAP with nothing in front (ATM RFC 1483); decodeEtherType checks the SNAP header. */
export function decodeLlc(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  decodeEtherType(b, off, end, wireEnd, 0, out, i);
}

/** IEEE 802.5 Token Ring: AC, FC, addresses, an optional routing field, then LLC. */
export function decodeTokenRing(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  if (end - off < TOKEN_RING_HEADER) return truncated(out, i);
  let p = off + TOKEN_RING_HEADER;
  if ((b[off + 8]! & 0x80) !== 0) {
    // Source-routed: the routing information field's length is in its first byte.
    if (end - p < 2) return truncated(out, i);
    p += b[p]! & 0x1f;
  }
  if ((b[off + 1]! & 0xc0) !== 0x40) return; // MAC frames carry no LLC
  decodeEtherType(b, p, end, wireEnd, 0, out, i);
}

/** FDDI: frame control and addresses, then LLC. */
export function decodeFddi(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  if (end - off < FDDI_HEADER) return truncated(out, i);
  if ((b[off]! & 0xf0) !== 0x50) return; // only asynchronous LLC frames (FC 0x5x), as tshark
  decodeEtherType(b, off + FDDI_HEADER, end, wireEnd, 0, out, i);
}

/**
 * Frame Relay (RFC 2427) as tshark reads it: a Q.922 address of 2 to 4 bytes (EA bit ends it;
 * the first byte must not have it), a 1-byte U-frame or 2-byte I/S-frame control, an optional
 * pad byte, then the NLPID: IPv4 (0xcc), IPv6 (0x8e) or SNAP (0x80: OUI and PID follow).
 */
export function decodeFrameRelay(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  if (end - off < 1) return truncated(out, i);
  if ((b[off]! & 1) !== 0) return; // not a valid address
  let p = off + 1;
  for (let k = 1;; k++) {
    if (p >= end) return truncated(out, i);
    if ((b[p++]! & 1) !== 0) break;
    if (k === 3) return; // longer than 4 bytes: not a valid address
  }
  if (p >= end) return truncated(out, i);
  p += (b[p]! & 3) === 3 ? 1 : 2;
  if (p < end && b[p] === 0x00) p++; // Q.933 pad before the NLPID
  if (p >= end) return truncated(out, i);
  const nlpid = b[p++]!;
  if (nlpid === FR_NLPID_IPV4) decodeEtherType(b, p, end, wireEnd, ETHERTYPE_IPV4, out, i);
  else if (nlpid === FR_NLPID_IPV6) decodeEtherType(b, p, end, wireEnd, ETHERTYPE_IPV6, out, i);
  else if (nlpid === FR_NLPID_SNAP) {
    if (end - p < 5) return truncated(out, i);
    if (b[p] === 0 && b[p + 1] === 0 && b[p + 2] === 0) {
      decodeEtherType(b, p + 5, end, wireEnd, (b[p + 3]! << 8) | b[p + 4]!, out, i);
    }
  }
}
