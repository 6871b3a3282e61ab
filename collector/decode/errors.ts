/**
 * Decode error codes, one per reason a packet could not be decoded as far as it claims.
 *
 * Decoders never throw on packet bytes: they store one of these codes in the batch and the
 * run goes on. A packet keeps whatever was decoded before the problem (e.g. addresses with
 * a truncated TCP header), which is what tshark's per-packet view does too.
 *
 * @module
 */

export const ERR_NONE = 0;
/** Link-layer header (Ethernet, VLAN tag, SLL, NULL, MPLS, PPPoE…) cut short. */
export const ERR_LINK_TRUNCATED = 1;
/** The capture's link type is not one we decode. */
export const ERR_LINKTYPE_UNSUPPORTED = 2;
/** More VLAN tags / MPLS labels than the stack limit. */
export const ERR_LINK_TOO_DEEP = 3;
/** IP version nibble does not match the header the link layer announced. */
export const ERR_IP_BAD_VERSION = 4;
/** IPv4 header shorter than its 20 fixed bytes in the capture. */
export const ERR_IPV4_TRUNCATED = 5;
/** IPv4 IHL below 5 (RFC 791: at least 20 bytes). */
export const ERR_IPV4_BAD_HEADER_LEN = 6;
/** IPv4 total length below the header length. */
export const ERR_IPV4_BAD_TOTAL_LEN = 7;
/** IPv4 options cut short by the capture. */
export const ERR_IPV4_OPTIONS_TRUNCATED = 8;
/** IPv6 fixed header (40 bytes) cut short. */
export const ERR_IPV6_TRUNCATED = 9;
/** IPv6 extension header cut short. */
export const ERR_IPV6_EXT_TRUNCATED = 10;
/** More IPv6 extension headers than the chain limit. */
export const ERR_IPV6_EXT_TOO_MANY = 11;
/** IPv6 Hop-by-Hop / Destination option that runs past its header (tshark stops there). */
export const ERR_IPV6_OPTION_MALFORMED = 14;
/** TCP/UDP header too short to hold both ports. */
export const ERR_L4_TRUNCATED = 12;
/** TCP header too short to hold its flags. */
export const ERR_TCP_TRUNCATED = 13;

/** Reason names as reported (JSON keys, report rows, metrics labels). */
export const ERROR_NAMES: readonly string[] = [
  "none",
  "link_truncated",
  "linktype_unsupported",
  "link_too_deep",
  "ip_bad_version",
  "ipv4_truncated",
  "ipv4_bad_header_len",
  "ipv4_bad_total_len",
  "ipv4_options_truncated",
  "ipv6_truncated",
  "ipv6_ext_truncated",
  "ipv6_ext_too_many",
  "l4_truncated",
  "tcp_truncated",
  "ipv6_option_malformed",
];

export const ERROR_CODES = ERROR_NAMES.length;
