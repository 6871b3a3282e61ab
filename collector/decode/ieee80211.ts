/**
 * IEEE 802.11 data frames (IEEE 802.11-2020 §9.2/9.3) and the capture headers in front of
 * them: radiotap (LINKTYPE 127, https://www.radiotap.org) and PPI (192). Only what leads to
 * an IP header: unencrypted data frames carrying LLC/SNAP. Management, control, null and
 * protected frames are not IP and not errors.
 *
 * @module
 */

import type { PacketBatch } from "../packet/mod.ts";
import { ERR_LINK_TRUNCATED } from "./errors.ts";
import { decodeEthernet, decodeEtherType } from "./ethernet.ts";

const WLAN_HEADER = 24;
const WLAN_ADDR4 = 6;
const WLAN_QOS = 2;
const WLAN_HT_CONTROL = 4;
const TYPE_DATA = 2;
const FLAG_TO_DS = 0x01;
const FLAG_FROM_DS = 0x02;
const FLAG_MORE_FRAGMENTS = 0x04;
const FLAG_PROTECTED = 0x40;
const FLAG_ORDER = 0x80;
const RADIOTAP_MIN = 8;
const PPI_MIN = 8;
const DLT_IEEE802_11 = 105;
const DLT_EN10MB = 1;

/** An 802.11 frame at `off` (LINKTYPE_IEEE802_11 = 105). */
export function decodeIeee80211(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  if (end - off < 2) {
    out.error[i] = ERR_LINK_TRUNCATED;
    return;
  }
  const fc0 = b[off]!, flags = b[off + 1]!;
  const type = (fc0 >> 2) & 3, subtype = fc0 >> 4;
  // Not data, an unknown protocol version, no payload (null / CF subtypes have bit 2 set), or
  // encrypted: no IP to see.
  if ((fc0 & 3) !== 0 || type !== TYPE_DATA || (subtype & 4) !== 0) return;
  if ((flags & FLAG_PROTECTED) !== 0) return;
  let hlen = WLAN_HEADER;
  if ((flags & (FLAG_TO_DS | FLAG_FROM_DS)) === (FLAG_TO_DS | FLAG_FROM_DS)) hlen += WLAN_ADDR4;
  const qos = (subtype & 8) !== 0;
  if (qos) hlen += WLAN_QOS;
  if (qos && (flags & FLAG_ORDER) !== 0) hlen += WLAN_HT_CONTROL;
  if (end - off < hlen) {
    out.error[i] = ERR_LINK_TRUNCATED;
    return;
  }
  // A fragment with more to come is held back for reassembly by tshark; the last one (or a
  // lone one) is dissected as it is.
  if ((flags & FLAG_MORE_FRAGMENTS) !== 0) return;
  // The body is LLC; an EtherType "length" of 0 sends decodeEtherType to its SNAP check.
  decodeEtherType(b, off + hlen, end, wireEnd, 0, out, i);
}

/** Radiotap header (little-endian length at byte 2), then 802.11. */
export function decodeRadiotap(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  if (end - off < RADIOTAP_MIN) {
    out.error[i] = ERR_LINK_TRUNCATED;
    return;
  }
  const len = b[off + 2]! | (b[off + 3]! << 8);
  if (len < RADIOTAP_MIN || end - off < len) {
    out.error[i] = ERR_LINK_TRUNCATED;
    return;
  }
  decodeIeee80211(b, off + len, end, wireEnd, out, i);
}

/** PPI header (little-endian length at byte 2, DLT at byte 4), then 802.11 or Ethernet. */
export function decodePpi(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  if (end - off < PPI_MIN) {
    out.error[i] = ERR_LINK_TRUNCATED;
    return;
  }
  // A length below the fixed header is taken as the fixed header, as tshark does.
  const len = Math.max(PPI_MIN, b[off + 2]! | (b[off + 3]! << 8));
  const dlt = (b[off + 4]! | (b[off + 5]! << 8) | (b[off + 6]! << 16) | (b[off + 7]! << 24)) >>> 0;
  if (end - off < len) {
    out.error[i] = ERR_LINK_TRUNCATED;
    return;
  }
  if (dlt === DLT_IEEE802_11) decodeIeee80211(b, off + len, end, wireEnd, out, i);
  else if (dlt === DLT_EN10MB) decodeEthernet(b, off + len, end, wireEnd, out, i);
}
