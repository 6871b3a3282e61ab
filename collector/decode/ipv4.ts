/**
 * IPv4 header decoder (RFC 791).
 *
 * Follows the rules tshark applies in its per-packet view, so flow keys match it exactly:
 * addresses need the 20 fixed bytes; IHL below 5 or a total length below the header length
 * make the header unusable; a total length of 0 is TCP segmentation offload and means
 * "the rest of the frame"; the total length trims the payload; non-first fragments carry no
 * transport header.
 *
 * @module
 */

import { FAMILY_IPV4, FLAG_FRAGMENT, type PacketBatch } from "../packet/mod.ts";
import {
  ERR_IPV4_BAD_HEADER_LEN,
  ERR_IPV4_BAD_TOTAL_LEN,
  ERR_IPV4_OPTIONS_TRUNCATED,
  ERR_IPV4_TRUNCATED,
} from "./errors.ts";
import { decodeExtensionChain, isWalkedExtension } from "./ipv6.ts";
import { decodeTransport } from "./transport.ts";

const IPV4_MIN_HEADER = 20;
const OFF_TOTAL_LEN = 2;
const OFF_ID = 4;
const OFF_FRAG = 6;
const OFF_PROTO = 9;
const OFF_SRC = 12;
const OFF_DST = 16;
const FRAG_OFFSET_MASK = 0x1fff;
const FRAG_MORE = 0x2000;

/**
 * Decodes the IPv4 header at `off`; `end` is the end of the captured bytes and `wireEnd`
 * where the original frame ended (for the TSO rule). The version nibble is checked by the
 * caller.
 */
export function decodeIpv4(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  if (end - off < IPV4_MIN_HEADER) {
    out.error[i] = ERR_IPV4_TRUNCATED;
    return;
  }
  const hlen = (b[off]! & 0x0f) * 4;
  if (hlen < IPV4_MIN_HEADER) {
    out.error[i] = ERR_IPV4_BAD_HEADER_LEN;
    return;
  }
  let totalLen = (b[off + OFF_TOTAL_LEN]! << 8) | b[off + OFF_TOTAL_LEN + 1]!;
  if (totalLen === 0) totalLen = wireEnd > off ? wireEnd - off : 0;
  if (totalLen < hlen) {
    out.error[i] = ERR_IPV4_BAD_TOTAL_LEN;
    return;
  }
  out.family[i] = FAMILY_IPV4;
  const w = i * 4;
  out.src[w] = (b[off + OFF_SRC]! << 24) | (b[off + OFF_SRC + 1]! << 16) |
    (b[off + OFF_SRC + 2]! << 8) | b[off + OFF_SRC + 3]!;
  out.dst[w] = (b[off + OFF_DST]! << 24) | (b[off + OFF_DST + 1]! << 16) |
    (b[off + OFF_DST + 2]! << 8) | b[off + OFF_DST + 3]!;
  const proto = b[off + OFF_PROTO]!;
  out.proto[i] = proto;
  const frag = (b[off + OFF_FRAG]! << 8) | b[off + OFF_FRAG + 1]!;
  const l4 = off + hlen;
  const datagramEnd = off + totalLen;
  const limit = datagramEnd < end ? datagramEnd : end;
  if ((frag & (FRAG_OFFSET_MASK | FRAG_MORE)) !== 0) {
    out.flags[i] = out.flags[i]! | FLAG_FRAGMENT;
    out.fragId[i] = (b[off + OFF_ID]! << 8) | b[off + OFF_ID + 1]!;
    out.fragInfo[i] = ((frag & FRAG_OFFSET_MASK) << 4) | ((frag & FRAG_MORE) !== 0 ? 1 : 0);
    out.fragDataOff[i] = l4;
    out.fragDataLen[i] = limit > l4 ? limit - l4 : 0;
    out.fragNext[i] = proto;
  }
  if ((frag & FRAG_OFFSET_MASK) !== 0) return; // not the first fragment: no L4 header here
  if (l4 > end) {
    out.error[i] = ERR_IPV4_OPTIONS_TRUNCATED;
    return;
  }
  if (isWalkedExtension(proto)) {
    // tshark dissects these IPv4 payloads as IPv6 extension headers; the flow keeps ip.proto.
    decodeExtensionChain(b, l4, limit, proto, false, out, i);
    out.proto[i] = proto;
    return;
  }
  decodeTransport(b, l4, limit, proto, out, i);
}
