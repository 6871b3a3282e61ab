/**
 * Link-layer dispatch by LINKTYPE (https://www.tcpdump.org/linktypes.html): Ethernet,
 * Linux cooked SLL / SLL2, BSD NULL / LOOP, raw IP variants, PPP, Cisco HDLC, and 802.11
 * (bare, radiotap, PPI).
 *
 * @module
 */

import type { PacketBatch } from "../packet/mod.ts";
import { ERR_LINK_TRUNCATED, ERR_LINKTYPE_UNSUPPORTED } from "./errors.ts";
import {
  decodeEthernet,
  decodeEtherType,
  decodeIpAny,
  decodeIpv6Checked,
  decodePppProtocol,
} from "./ethernet.ts";
import { decodeIeee80211, decodePpi, decodeRadiotap } from "./ieee80211.ts";
import {
  decodeEnc,
  decodeFamily,
  decodeFddi,
  decodeFrameRelay,
  decodeIpoib,
  decodeLlc,
  decodeNetAnalyzer,
  decodeNflog,
  decodePflog,
  decodePppEther,
  decodeTokenRing,
} from "./more_links.ts";

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_IEEE802_5 = 6;
export const LINKTYPE_FDDI = 10;
export const LINKTYPE_ATM_RFC1483 = 11;
export const LINKTYPE_PPP = 9;
export const LINKTYPE_RAW_12 = 12; // DLT_RAW on most BSDs
export const LINKTYPE_RAW_14 = 14; // DLT_RAW on OpenBSD
export const LINKTYPE_PPP_HDLC = 50;
export const LINKTYPE_PPP_ETHER = 51;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_IEEE802_11 = 105;
export const LINKTYPE_C_HDLC = 104;
export const LINKTYPE_FRELAY = 107;
export const LINKTYPE_ENC = 109;
export const LINKTYPE_PFLOG = 117;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IEEE802_11_RADIOTAP = 127;
export const LINKTYPE_PPI = 192;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_NFLOG = 239;
export const LINKTYPE_NETANALYZER = 240;
export const LINKTYPE_NETANALYZER_TRANSPARENT = 241;
export const LINKTYPE_IPOIB = 242;
export const LINKTYPE_LINUX_SLL2 = 276;

/** Link types decode() understands (for messages and tests). */
export const LINKTYPES_SUPPORTED: readonly number[] = [
  LINKTYPE_NULL,
  LINKTYPE_ETHERNET,
  LINKTYPE_PPP,
  LINKTYPE_RAW_12,
  LINKTYPE_RAW_14,
  LINKTYPE_PPP_HDLC,
  LINKTYPE_RAW,
  LINKTYPE_C_HDLC,
  LINKTYPE_IEEE802_11,
  LINKTYPE_LOOP,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_IEEE802_11_RADIOTAP,
  LINKTYPE_PPI,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_IEEE802_5,
  LINKTYPE_FDDI,
  LINKTYPE_ATM_RFC1483,
  LINKTYPE_PPP_ETHER,
  LINKTYPE_FRELAY,
  LINKTYPE_ENC,
  LINKTYPE_PFLOG,
  LINKTYPE_NFLOG,
  LINKTYPE_NETANALYZER,
  LINKTYPE_NETANALYZER_TRANSPARENT,
  LINKTYPE_IPOIB,
];

const SLL_HEADER = 16;
const SLL_OFF_HATYPE = 2;
const SLL_OFF_PROTOCOL = 14;
const SLL2_HEADER = 20;
const SLL2_OFF_PROTOCOL = 0;
const SLL2_OFF_HATYPE = 8;
const ARPHRD_NETLINK = 824; // netlink messages, never IP
const SLL_P_802_2 = 0x0004; // the protocol field says: LLC follows
const NULL_HEADER = 4;
const PPP_ADDRESS_CONTROL = 0xff03;
const C_HDLC_HEADER = 4;

/** Decodes one packet whose record fields (offset, lengths, link type) are in `out`. */
export function decodePacket(out: PacketBatch, i: number): void {
  const b = out.bytes;
  const off = out.dataOff[i]!;
  const end = off + out.capLen[i]!;
  const wireEnd = off + out.wireLen[i]!;
  switch (out.linkType[i]!) {
    case LINKTYPE_ETHERNET:
      decodeEthernet(b, off, end, wireEnd, out, i);
      return;
    case LINKTYPE_LINUX_SLL:
      decodeSll(b, off, end, wireEnd, SLL_HEADER, SLL_OFF_HATYPE, SLL_OFF_PROTOCOL, out, i);
      return;
    case LINKTYPE_LINUX_SLL2:
      decodeSll(b, off, end, wireEnd, SLL2_HEADER, SLL2_OFF_HATYPE, SLL2_OFF_PROTOCOL, out, i);
      return;
    case LINKTYPE_NULL:
      decodeNull(b, off, end, wireEnd, false, out, i);
      return;
    case LINKTYPE_LOOP:
      decodeNull(b, off, end, wireEnd, true, out, i);
      return;
    case LINKTYPE_RAW_12:
    case LINKTYPE_RAW_14:
    case LINKTYPE_RAW:
      decodeIpAny(b, off, end, wireEnd, out, i);
      return;
    case LINKTYPE_IPV4:
      decodeIpAny(b, off, end, wireEnd, out, i);
      return;
    case LINKTYPE_IPV6:
      decodeIpv6Checked(b, off, end, wireEnd, out, i);
      return;
    case LINKTYPE_PPP:
    case LINKTYPE_PPP_HDLC:
      decodePpp(b, off, end, wireEnd, out, i);
      return;
    case LINKTYPE_C_HDLC:
      if (end - off < C_HDLC_HEADER) {
        out.error[i] = ERR_LINK_TRUNCATED;
        return;
      }
      decodeEtherType(
        b,
        off + C_HDLC_HEADER,
        end,
        wireEnd,
        (b[off + 2]! << 8) | b[off + 3]!,
        out,
        i,
      );
      return;
    case LINKTYPE_IEEE802_11:
      decodeIeee80211(b, off, end, wireEnd, out, i);
      return;
    case LINKTYPE_IEEE802_11_RADIOTAP:
      decodeRadiotap(b, off, end, wireEnd, out, i);
      return;
    case LINKTYPE_PPI:
      decodePpi(b, off, end, wireEnd, out, i);
      return;
    case LINKTYPE_PFLOG:
      return decodePflog(b, off, end, wireEnd, out, i);
    case LINKTYPE_ENC:
      return decodeEnc(b, off, end, wireEnd, out, i);
    case LINKTYPE_NFLOG:
      return decodeNflog(b, off, end, wireEnd, out, i);
    case LINKTYPE_PPP_ETHER:
      return decodePppEther(b, off, end, wireEnd, out, i);
    case LINKTYPE_IPOIB:
      return decodeIpoib(b, off, end, wireEnd, out, i);
    case LINKTYPE_NETANALYZER:
      return decodeNetAnalyzer(b, off, end, wireEnd, out, i);
    case LINKTYPE_NETANALYZER_TRANSPARENT:
      return; // raw line data: tshark shows it as data
    case LINKTYPE_ATM_RFC1483:
      return decodeLlc(b, off, end, wireEnd, out, i);
    case LINKTYPE_IEEE802_5:
      return decodeTokenRing(b, off, end, wireEnd, out, i);
    case LINKTYPE_FDDI:
      return decodeFddi(b, off, end, wireEnd, out, i);
    case LINKTYPE_FRELAY:
      return decodeFrameRelay(b, off, end, wireEnd, out, i);
    default:
      out.error[i] = ERR_LINKTYPE_UNSUPPORTED;
  }
}

/** Linux cooked capture v1 (16-byte header) and v2 (20-byte header). */
function decodeSll(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  header: number,
  hatypeAt: number,
  protocolAt: number,
  out: PacketBatch,
  i: number,
): void {
  if (end - off < header) {
    out.error[i] = ERR_LINK_TRUNCATED;
    return;
  }
  const hatype = (b[off + hatypeAt]! << 8) | b[off + hatypeAt + 1]!;
  if (hatype === ARPHRD_NETLINK) return;
  const protocol = (b[off + protocolAt]! << 8) | b[off + protocolAt + 1]!;
  // Below 0x0600 the field is a Linux packet type, not an EtherType; only LLC may hold IP.
  if (protocol < 0x0600 && protocol !== SLL_P_802_2) return;
  decodeEtherType(b, off + header, end, wireEnd, protocol === SLL_P_802_2 ? 0 : protocol, out, i);
}

/**
 * BSD loopback: a 4-byte address family in the writer's byte order (NULL) or network order
 * (LOOP). A value above 1500 is an EtherType, as some systems write one there.
 */
function decodeNull(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  bigEndian: boolean,
  out: PacketBatch,
  i: number,
): void {
  if (end - off < NULL_HEADER) {
    out.error[i] = ERR_LINK_TRUNCATED;
    return;
  }
  if (!bigEndian && ((b[off]! << 8) | b[off + 1]!) === PPP_ADDRESS_CONTROL) {
    decodePpp(b, off, end, wireEnd, out, i);
    return;
  }
  const be = ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
  let family = be;
  if (!bigEndian) {
    // As tshark reads it (packet-null.c): the writer's order is unknown, and IRIX / UNICOS
    // put a 16-bit family in the first two bytes; guess from which bytes are zero.
    family = ((b[off + 3]! << 24) | (b[off + 2]! << 16) | (b[off + 1]! << 8) | b[off]!) >>> 0;
    if ((family & 0xffff0000) !== 0) {
      family = (family & 0xff000000) === 0 && (family & 0x00ff0000) < 0x00060000
        ? family >>> 16
        : be;
    } else if ((family & 0xff) === 0 && (family & 0xff00) < 0x0600) {
      family = ((family >>> 8) & 0xff) | ((family & 0xff) << 8);
    }
  }
  const p = off + NULL_HEADER;
  if (family > 1500) {
    // tshark looks the low 16 bits up as an EtherType; a "length" there matches nothing.
    if ((family & 0xffff) > 1500) decodeEtherType(b, p, end, wireEnd, family & 0xffff, out, i);
  } else decodeFamily(b, p, end, wireEnd, family, out, i);
}

/** PPP (RFC 1661) with optional HDLC address/control bytes and a 1- or 2-byte protocol. */
function decodePpp(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  let p = off;
  // tshark skips address and control whenever the first byte is the all-stations address.
  if (end - p >= 2 && b[p] === 0xff) p += 2;
  if (p >= end) {
    out.error[i] = ERR_LINK_TRUNCATED;
    return;
  }
  let protocol: number;
  if ((b[p]! & 1) === 1) {
    protocol = b[p]!; // protocol-field compression (RFC 1661 §6.5)
    p += 1;
  } else {
    if (end - p < 2) {
      out.error[i] = ERR_LINK_TRUNCATED;
      return;
    }
    protocol = (b[p]! << 8) | b[p + 1]!;
    p += 2;
  }
  decodePppProtocol(b, p, end, wireEnd, protocol, out, i);
}
