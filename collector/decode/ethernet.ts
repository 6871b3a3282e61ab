/**
 * Ethernet II / 802.3 and everything an EtherType can lead to before IP: 802.1Q / 802.1ad
 * tags at any depth (IEEE 802.1Q-2018), LLC/SNAP, MPLS label stacks (RFC 3032) and PPPoE
 * sessions (RFC 2516).
 *
 * @module
 */

import { type PacketBatch, VLAN_NONE } from "../packet/mod.ts";
import { ERR_IP_BAD_VERSION, ERR_LINK_TOO_DEEP, ERR_LINK_TRUNCATED } from "./errors.ts";
import { decodeIpv4 } from "./ipv4.ts";
import { decodeIpv6 } from "./ipv6.ts";

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100; // pre-standard QinQ, still seen on switches
const ETHERTYPE_MPLS = 0x8847;
const ETHERTYPE_MPLS_MULTICAST = 0x8848;
const ETHERTYPE_PPPOE_SESSION = 0x8864;
const ETHERTYPE_PBB = 0x88e7; // IEEE 802.1ah backbone service instance tag
/** Values up to 1500 are an 802.3 length, not a type (IEEE 802.3 §3.2.6). */
const IEEE_802_3_MAX_LEN = 1500;
export const PPP_IPV4 = 0x0021;
export const PPP_IPV6 = 0x0057;

const ETHERNET_HEADER = 14;
const VLAN_TAG = 4;
const SNAP_HEADER = 8;
const MPLS_LABEL = 4;
const PPPOE_HEADER = 6;
/** 802.1ah I-TAG (4) + customer destination and source MACs (12). */
const PBB_HEADER = 16;
const PW_CONTROL_WORD = 4;
/** Tags, labels and encapsulations one frame may stack before we call it hostile. */
export const LINK_DEPTH_MAX = 16;
/**
 * Frames inside frames (an Ethernet pseudowire inside MPLS, RFC 4448) one frame may nest: each
 * level is a call, so crafted frames nesting thousands deep must stop here, counted as
 * link_too_deep, long before the stack does.
 */
export const LINK_NEST_MAX = 8;

/** Decodes an IP header whose version the link layer left open (raw IP, MPLS, `ip` type). */
export function decodeIpAny(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  if (off >= end) {
    out.error[i] = ERR_LINK_TRUNCATED;
    return;
  }
  const version = b[off]! >> 4;
  if (version === 4) decodeIpv4(b, off, end, wireEnd, out, i);
  else if (version === 6) decodeIpv6(b, off, end, wireEnd, out, i);
  else out.error[i] = ERR_IP_BAD_VERSION;
}

/** Decodes a PPP protocol number (PPPoE, PPP, HDLC-framed PPP) that points to IP. */
export function decodePppProtocol(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  protocol: number,
  out: PacketBatch,
  i: number,
): void {
  if (protocol === PPP_IPV4) decodeIpAny(b, off, end, wireEnd, out, i);
  else if (protocol === PPP_IPV6) decodeIpv6Checked(b, off, end, wireEnd, out, i);
}

/** IPv6 where the link layer said so: tshark refuses a header whose version is not 6. */
export function decodeIpv6Checked(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  if (off < end && b[off]! >> 4 !== 6) {
    out.error[i] = ERR_IP_BAD_VERSION;
    return;
  }
  decodeIpv6(b, off, end, wireEnd, out, i);
}

/**
 * Follows an EtherType (or 802.3 length) at `off` onwards. Non-IP types (ARP, LLDP…) leave
 * the packet without a family and without an error: they are simply not IP.
 */
export function decodeEtherType(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  type: number,
  out: PacketBatch,
  i: number,
  nest = 0,
): void {
  for (let depth = 0; depth < LINK_DEPTH_MAX; depth++) {
    if (type <= IEEE_802_3_MAX_LEN) {
      // 802.3 frame: only LLC/SNAP with an EtherType (RFC 1042) can carry IP.
      if (end - off < SNAP_HEADER) return;
      // OUI 00-00-00 (RFC 1042) and 00-00-f8 (Cisco) say the PID is an EtherType.
      if (
        b[off] !== 0xaa || b[off + 1] !== 0xaa || b[off + 2] !== 0x03 ||
        b[off + 3] !== 0 || b[off + 4] !== 0 || (b[off + 5] !== 0 && b[off + 5] !== 0xf8)
      ) return;
      type = (b[off + 6]! << 8) | b[off + 7]!;
      off += SNAP_HEADER;
      continue;
    }
    switch (type) {
      case ETHERTYPE_IPV4:
        decodeIpAny(b, off, end, wireEnd, out, i);
        return;
      case ETHERTYPE_IPV6:
        decodeIpv6Checked(b, off, end, wireEnd, out, i);
        return;
      case ETHERTYPE_VLAN:
      case ETHERTYPE_QINQ:
      case ETHERTYPE_QINQ_OLD:
        if (end - off < VLAN_TAG) {
          out.error[i] = ERR_LINK_TRUNCATED;
          return;
        }
        // The outermost tag is the one a switch port is configured with: keep that one.
        if (out.vlan[i] === VLAN_NONE) out.vlan[i] = ((b[off]! << 8) | b[off + 1]!) & 0x0fff;
        type = (b[off + 2]! << 8) | b[off + 3]!;
        off += VLAN_TAG;
        continue;
      case ETHERTYPE_MPLS:
      case ETHERTYPE_MPLS_MULTICAST:
        decodeMpls(b, off, end, wireEnd, out, i, nest);
        return;
      case ETHERTYPE_PBB:
        // The customer frame follows: its EtherType continues the chain.
        if (end - off < PBB_HEADER + 2) {
          out.error[i] = ERR_LINK_TRUNCATED;
          return;
        }
        type = (b[off + PBB_HEADER]! << 8) | b[off + PBB_HEADER + 1]!;
        off += PBB_HEADER + 2;
        continue;
      case ETHERTYPE_PPPOE_SESSION:
        decodePppoeSession(b, off, end, wireEnd, out, i);
        return;
      default:
        return;
    }
  }
  out.error[i] = ERR_LINK_TOO_DEEP;
}

/**
 * A PPPoE session header (RFC 2516) at `off`: its payload length bounds the PPP frame, as in
 * tshark (bytes past it are padding); then the PPP protocol number.
 */
export function decodePppoeSession(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  if (end - off < PPPOE_HEADER) {
    out.error[i] = ERR_LINK_TRUNCATED;
    return;
  }
  const payloadEnd = off + PPPOE_HEADER + ((b[off + 4]! << 8) | b[off + 5]!);
  const e = payloadEnd < end ? payloadEnd : end;
  const we = payloadEnd < wireEnd ? payloadEnd : wireEnd;
  if (e - off < PPPOE_HEADER + 2) {
    if (e === end) out.error[i] = ERR_LINK_TRUNCATED;
    return;
  }
  const protocol = (b[off + PPPOE_HEADER]! << 8) | b[off + PPPOE_HEADER + 1]!;
  decodePppProtocol(b, off + PPPOE_HEADER + 2, e, we, protocol, out, i);
}

/**
 * MPLS label stack: labels until the bottom-of-stack bit, then the payload guessed by its first
 * nibble as tshark does: 4 / 6 = IP, 0 = pseudowire control word then Ethernet (RFC 4448),
 * anything else (1 = associated channel) is not IP.
 */
function decodeMpls(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
  nest: number,
): void {
  for (let depth = 0; depth < LINK_DEPTH_MAX; depth++) {
    if (end - off < MPLS_LABEL) {
      out.error[i] = ERR_LINK_TRUNCATED;
      return;
    }
    const bottom = (b[off + 2]! & 0x01) !== 0;
    off += MPLS_LABEL;
    if (bottom) {
      if (off >= end) return;
      const nibble = b[off]! >> 4;
      if (nibble === 4 || nibble === 6) decodeIpAny(b, off, end, wireEnd, out, i);
      else if (nibble !== 0) return;
      else if (nest + 1 >= LINK_NEST_MAX) out.error[i] = ERR_LINK_TOO_DEEP;
      else decodeEthernet(b, off + PW_CONTROL_WORD, end, wireEnd, out, i, nest + 1);
      return;
    }
  }
  out.error[i] = ERR_LINK_TOO_DEEP;
}

/** Ethernet II / 802.3 frame (LINKTYPE_ETHERNET = 1); `nest`: frames it is inside. */
export function decodeEthernet(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
  nest = 0,
): void {
  if (end - off < ETHERNET_HEADER) {
    out.error[i] = ERR_LINK_TRUNCATED;
    return;
  }
  const type = (b[off + 12]! << 8) | b[off + 13]!;
  decodeEtherType(b, off + ETHERNET_HEADER, end, wireEnd, type, out, i, nest);
}
