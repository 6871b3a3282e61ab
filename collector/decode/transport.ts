/**
 * TCP and UDP port/flag extraction (RFC 9293 §3.1, RFC 768).
 *
 * Only the fields a flow key needs. Ports need the first 4 bytes, TCP flags 14: a header
 * cut short by the snaplen still yields its ports, as tshark reports them.
 *
 * @module
 */

import {
  FLAG_HAS_PORTS,
  FLAG_HAS_TCP_FLAGS,
  type PacketBatch,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  PROTO_UDP,
} from "../packet/mod.ts";
import { ERR_L4_TRUNCATED, ERR_TCP_TRUNCATED } from "./errors.ts";

export { PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP };

const PORTS_BYTES = 4;
const TCP_FLAGS_OFFSET = 12;
const TCP_MIN_HEADER = 20;
const UDP_HEADER = 8;

/**
 * Decodes the TCP or UDP header at `off` (payload ends at `end`) for packet `i`.
 * Other protocols leave the ports unset. Sets the payload window for the app decoders.
 */
export function decodeTransport(
  b: Uint8Array,
  off: number,
  end: number,
  proto: number,
  out: PacketBatch,
  i: number,
): void {
  out.payloadOff[i] = off;
  out.payloadLen[i] = end > off ? end - off : 0;
  if (proto !== PROTO_TCP && proto !== PROTO_UDP) return;
  if (end - off < PORTS_BYTES) {
    out.error[i] = ERR_L4_TRUNCATED;
    return;
  }
  out.srcPort[i] = (b[off]! << 8) | b[off + 1]!;
  out.dstPort[i] = (b[off + 2]! << 8) | b[off + 3]!;
  out.flags[i] = out.flags[i]! | FLAG_HAS_PORTS;
  if (proto === PROTO_UDP) {
    const start = off + UDP_HEADER;
    // The payload ends where the UDP length says when it says less than the IP payload
    // (RFC 768; tshark ignores bytes past it): a crafted length of 8 carries no payload.
    let stop = end;
    if (end - off >= UDP_HEADER) {
      const udpLen = (b[off + 4]! << 8) | b[off + 5]!;
      if (udpLen >= UDP_HEADER && off + udpLen < end) stop = off + udpLen;
    }
    out.payloadOff[i] = start;
    out.payloadLen[i] = stop > start ? stop - start : 0;
    return;
  }
  if (end - off < TCP_FLAGS_OFFSET + 2) {
    out.error[i] = ERR_TCP_TRUNCATED;
    out.payloadLen[i] = 0;
    return;
  }
  const dataOffsetByte = b[off + TCP_FLAGS_OFFSET]!;
  // 12 flag bits: NS/AE (RFC 3540/AccECN) in the low bit of byte 12, then CWR..FIN.
  out.tcpFlags[i] = ((dataOffsetByte & 0x0f) << 8) | b[off + TCP_FLAGS_OFFSET + 1]!;
  out.tcpSeq[i] = ((b[off + 4]! << 24) | (b[off + 5]! << 16) | (b[off + 6]! << 8) | b[off + 7]!) >>>
    0;
  out.flags[i] = out.flags[i]! | FLAG_HAS_TCP_FLAGS;
  let hlen = (dataOffsetByte >> 4) * 4;
  if (hlen < TCP_MIN_HEADER) hlen = TCP_MIN_HEADER;
  const start = off + hlen;
  out.payloadOff[i] = start;
  out.payloadLen[i] = end > start ? end - start : 0;
}
