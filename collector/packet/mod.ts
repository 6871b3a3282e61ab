/**
 * What every stage shares about packets: the struct-of-arrays batch, key fields, the
 * flow-key hash (seeded per process) and address text.
 *
 * @module
 */

export {
  BATCH_PACKETS_DEFAULT,
  copyHeaders,
  FAMILY_IPV4,
  FAMILY_IPV6,
  FAMILY_NONE,
  FLAG_FRAGMENT,
  FLAG_HAS_PORTS,
  FLAG_HAS_TCP_FLAGS,
  PacketBatch,
  VLAN_NONE,
} from "./batch.ts";
export { ipv4Text, ipv6Text, parseIp } from "./ip_text.ts";
export { FIVE_TUPLE, KEY_FIELDS, type KeyField, parseKeyFields } from "./key_fields.ts";
export { hashKey, KEY_SEED } from "./key_hash.ts";
export {
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  PROTO_UDP,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
} from "./protocols.ts";
