/**
 * Protocol numbers and TCP flag bits, one copy for every stage (IANA protocol numbers; TCP
 * flags as in the header's flag byte, RFC 9293 §3.1).
 *
 * @module
 */

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;
