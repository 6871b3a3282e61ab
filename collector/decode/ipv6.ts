/**
 * IPv6 header and extension-header chain decoder (RFC 8200).
 *
 * The chain of Hop-by-Hop (0), Routing (43), Fragment (44) and Destination Options (60)
 * headers is walked to the upper-layer protocol; anything else (AH, ESP, No Next Header,
 * Mobility…) ends it and is the flow's protocol. The Routing header is not followed to its
 * final destination: the flow uses the header's Destination Address, like tshark.
 * The payload length trims the datagram (0 means a jumbogram only behind Hop-by-Hop).
 *
 * @module
 */

import { FAMILY_IPV6, FLAG_FRAGMENT, type PacketBatch } from "../packet/mod.ts";
import {
  ERR_IPV6_EXT_TOO_MANY,
  ERR_IPV6_EXT_TRUNCATED,
  ERR_IPV6_OPTION_MALFORMED,
  ERR_IPV6_TRUNCATED,
} from "./errors.ts";
import { decodeTransport } from "./transport.ts";

const IPV6_HEADER = 40;
const OFF_PAYLOAD_LEN = 4;
const OFF_NEXT_HEADER = 6;
const OFF_SRC = 8;
const OFF_DST = 24;
const NH_HOP_BY_HOP = 0;
const NH_ROUTING = 43;
const NH_FRAGMENT = 44;
const NH_DEST_OPTS = 60;
const FRAGMENT_HEADER = 8;
/** Upper bound on chain length; each header is ≥ 8 bytes so real packets stay far below. */
export const IPV6_EXT_HEADERS_MAX = 1024;

function readWord(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}

/**
 * Walks the TLV options that start in [from, to) (RFC 8200 §4.2; Pad1 is one byte) and says
 * whether each lies within `limit`, the end of the data. Like tshark, an option may run past its
 * header's end; only one that runs past the data stops the packet.
 */
function optionsFit(b: Uint8Array, from: number, to: number, limit: number): boolean {
  let q = from;
  while (q < to) {
    if (b[q] === 0) {
      q++;
      continue;
    }
    if (limit - q < 2) return false;
    q += 2 + b[q + 1]!;
    if (q > limit) return false;
  }
  return true;
}

/** Decodes the IPv6 header at `off`; see decodeIpv4 for `end` and `wireEnd`. */
export function decodeIpv6(
  b: Uint8Array,
  off: number,
  end: number,
  wireEnd: number,
  out: PacketBatch,
  i: number,
): void {
  if (end - off < IPV6_HEADER) {
    out.error[i] = ERR_IPV6_TRUNCATED;
    return;
  }
  out.family[i] = FAMILY_IPV6;
  const w = i * 4;
  for (let k = 0; k < 4; k++) {
    out.src[w + k] = readWord(b, off + OFF_SRC + 4 * k);
    out.dst[w + k] = readWord(b, off + OFF_DST + 4 * k);
  }
  const nh = b[off + OFF_NEXT_HEADER]!;
  const payloadLen = (b[off + OFF_PAYLOAD_LEN]! << 8) | b[off + OFF_PAYLOAD_LEN + 1]!;
  let datagramEnd = off + IPV6_HEADER + payloadLen;
  if (payloadLen === 0 && nh === NH_HOP_BY_HOP) datagramEnd = wireEnd; // jumbogram (RFC 2675)
  const limit = datagramEnd < end ? datagramEnd : end;
  decodeExtensionChain(b, off + IPV6_HEADER, limit, nh, true, out, i);
}

/**
 * Whether a Routing header holds what its type needs (tshark reads it within the header and
 * stops the packet otherwise): type 2 one address (RFC 6275), type 4 a segment list of
 * last-entry + 1 addresses (RFC 8754).
 */
function routingFits(b: Uint8Array, p: number, len: number): boolean {
  const type = b[p + 2]!;
  if (type === 2) return len >= 24;
  if (type === 4) return 8 + (b[p + 4]! + 1) * 16 <= len;
  return true;
}

/** True for the IPv6 extension headers whose chain is walked (0, 43, 44, 60). */
export function isWalkedExtension(nh: number): boolean {
  return nh === NH_HOP_BY_HOP || nh === NH_ROUTING || nh === NH_DEST_OPTS || nh === NH_FRAGMENT;
}

/**
 * Walks extension headers from `p` (next header `nh`) up to `limit` and decodes the transport
 * header after them; sets the packet's proto to the chain's last next header. IPv4 uses it
 * too: tshark hands an IPv4 payload with one of these protocol numbers to the same dissectors,
 * but then nothing stops at a later fragment (`fragmentsStop` false): only the IPv6 dissector
 * holds fragments back for reassembly.
 */
export function decodeExtensionChain(
  b: Uint8Array,
  p: number,
  limit: number,
  nh: number,
  fragmentsStop: boolean,
  out: PacketBatch,
  i: number,
): void {
  for (let n = 0; n <= IPV6_EXT_HEADERS_MAX; n++) {
    if (!isWalkedExtension(nh)) {
      out.proto[i] = nh;
      decodeTransport(b, p, limit, nh, out, i);
      return;
    }
    if (n === IPV6_EXT_HEADERS_MAX) break;
    if (limit - p < 2) {
      out.proto[i] = limit - p === 1 ? b[p]! : nh;
      out.error[i] = ERR_IPV6_EXT_TRUNCATED;
      return;
    }
    const len = nh === NH_FRAGMENT ? FRAGMENT_HEADER : (b[p + 1]! + 1) * 8;
    if (limit - p < len) {
      out.proto[i] = b[p]!;
      out.error[i] = ERR_IPV6_EXT_TRUNCATED;
      return;
    }
    if ((nh === NH_HOP_BY_HOP || nh === NH_DEST_OPTS) && !optionsFit(b, p + 2, p + len, limit)) {
      // tshark walks the options and stops the packet at one that runs past the data.
      out.proto[i] = b[p]!;
      out.error[i] = ERR_IPV6_OPTION_MALFORMED;
      return;
    }
    if (nh === NH_ROUTING && !routingFits(b, p, len)) {
      out.proto[i] = b[p]!;
      out.error[i] = ERR_IPV6_OPTION_MALFORMED;
      return;
    }
    if (nh === NH_FRAGMENT) {
      const firstHeader = (out.flags[i]! & FLAG_FRAGMENT) === 0;
      out.flags[i] = out.flags[i]! | FLAG_FRAGMENT;
      const fragOffset = ((b[p + 2]! << 8) | b[p + 3]!) >> 3;
      if (fragmentsStop && firstHeader) {
        // The outer header's first Fragment header: what reassembly needs.
        out.fragId[i] = readWord(b, p + 4) >>> 0;
        out.fragInfo[i] = (fragOffset << 4) | (b[p + 3]! & 1);
        out.fragDataOff[i] = p + FRAGMENT_HEADER;
        out.fragDataLen[i] = limit - p - FRAGMENT_HEADER;
        out.fragNext[i] = b[p]!;
      }
      if (fragOffset !== 0 && fragmentsStop) {
        out.proto[i] = b[p]!; // non-first fragment: no upper-layer header in it
        return;
      }
    }
    nh = b[p]!;
    p += len;
  }
  out.proto[i] = nh;
  out.error[i] = ERR_IPV6_EXT_TOO_MANY;
}
