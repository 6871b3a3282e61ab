/**
 * Packet decoders: link layer → IP → TCP/UDP, writing into a {@link PacketBatch}.
 *
 * @example
 * ```ts
 * import { decodeBatch } from "./mod.ts";
 * // after a reader filled `batch`:
 * // decodeBatch(batch); batch.family[0] === 4 for an IPv4 packet
 * ```
 *
 * @module
 */

import { FAMILY_NONE, type PacketBatch, VLAN_NONE } from "../packet/mod.ts";
import { decodePacket } from "./link.ts";

export { decodePacket, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPES_SUPPORTED } from "./link.ts";
export { ERROR_CODES, ERROR_NAMES } from "./errors.ts";

/** Decodes every packet of a filled batch in place. Never throws on packet bytes. */
export function decodeBatch(batch: PacketBatch): void {
  const n = batch.length;
  batch.family.fill(FAMILY_NONE, 0, n);
  batch.flags.fill(0, 0, n);
  batch.error.fill(0, 0, n);
  batch.proto.fill(0, 0, n);
  batch.srcPort.fill(0, 0, n);
  batch.dstPort.fill(0, 0, n);
  batch.tcpFlags.fill(0, 0, n);
  batch.vlan.fill(VLAN_NONE, 0, n);
  batch.payloadLen.fill(0, 0, n);
  batch.src.fill(0, 0, n * 4);
  batch.dst.fill(0, 0, n * 4);
  for (let i = 0; i < n; i++) decodePacket(batch, i);
}
export { decodeDns, DNS_ERROR_NAMES, dnsKind, dnsKindTcp, DnsMessage } from "./dns.ts";
export { decodeHttp, HTTP_REQUEST, HttpMessage } from "./http.ts";
export { decodeExtensionChain, isWalkedExtension } from "./ipv6.ts";
export { decodeTransport } from "./transport.ts";
