/**
 * Decoder unit cases: one line per frame shape, from link layer to ports.
 */

import assert from "node:assert/strict";
import {
  FLAG_FRAGMENT,
  FLAG_HAS_PORTS,
  PacketBatch,
  VLAN_NONE,
} from "../../../collector/packet/batch.ts";
import { decodeBatch, ERROR_NAMES } from "../../../collector/decode/mod.ts";
import { ipv4Text, ipv6Text } from "../../../collector/packet/ip_text.ts";

// Building blocks (hex). Addresses: 10.0.0.1 → 10.0.0.2, 2001:db8::1 → 2001:db8::2.
const MACS = "0200000000010200000000020";
const ETH = (type: string) => MACS.slice(0, 24) + type;
const V4 = (proto: string, totalLen = "0028", frag = "4000", ihl = "45") =>
  `${ihl}00${totalLen}0001${frag}40${proto}00000a0000010a000002`;
const V6 = (nh: string, plen = "0008") =>
  `60000000${plen}${nh}40` + "20010db8000000000000000000000001" +
  "20010db8000000000000000000000002";
const TCP_SYN = "303900500000000100000000" + "5002ffff00000000";
const UDP = "303900350008" + "0000";
const ICMP_ECHO = "0800f7ff00000000";
// 802.11: frame control, duration, three addresses, sequence control (24 bytes).
const WLAN = (fc: string, extra = "") =>
  fc + "0000" + "0200000000010200000000020200000000030000" + extra;
const SNAP_IPV4 = "aaaa030000000800";
const RADIOTAP = "00000800" + "00000000"; // version, pad, length 8, no fields present
const SLL = (proto: string) => "0000000100060200000000010000" + proto;
const SLL2 = (proto: string) =>
  proto + "0000" + "00000002" + "0001" + "00" + "06" + "0200000000010000";

interface Case {
  name: string;
  link: number;
  hex: string;
  family?: number;
  proto?: number;
  ports?: [number, number] | null;
  vlan?: number;
  error?: string;
  fragment?: boolean;
  wireLen?: number;
}

const CASES: Case[] = [
  {
    name: "Ethernet IPv4 TCP SYN",
    link: 1,
    hex: ETH("0800") + V4("06") + TCP_SYN,
    family: 4,
    proto: 6,
    ports: [12345, 80],
  },
  {
    name: "Ethernet IPv4 UDP",
    link: 1,
    hex: ETH("0800") + V4("11", "001c") + UDP,
    family: 4,
    proto: 17,
    ports: [12345, 53],
  },
  {
    name: "Ethernet IPv4 ICMP has no ports",
    link: 1,
    hex: ETH("0800") + V4("01", "001c") + ICMP_ECHO,
    family: 4,
    proto: 1,
    ports: null,
  },
  {
    name: "802.1Q tag",
    link: 1,
    hex: ETH("8100") + "00640800" + V4("11", "001c") + UDP,
    family: 4,
    vlan: 100,
    ports: [12345, 53],
  },
  {
    name: "802.1ad + 802.1Q keeps the outer id",
    link: 1,
    hex: ETH("88a8") + "00c88100" + "00640800" + V4("11", "001c") + UDP,
    family: 4,
    vlan: 200,
  },
  {
    name: "old QinQ 0x9100",
    link: 1,
    hex: ETH("9100") + "00070800" + V4("11", "001c") + UDP,
    family: 4,
    vlan: 7,
  },
  {
    name: "Ethernet IPv6 UDP",
    link: 1,
    hex: ETH("86dd") + V6("11") + UDP,
    family: 6,
    proto: 17,
    ports: [12345, 53],
  },
  {
    name: "IPv6 hop-by-hop then UDP",
    link: 1,
    hex: ETH("86dd") + V6("00", "0010") + "1100000000000000" + UDP,
    family: 6,
    proto: 17,
    ports: [12345, 53],
  },
  {
    name: "IPv6 routing + dest opts then TCP",
    link: 1,
    hex: ETH("86dd") + V6("2b", "0024") + "3c00000000000000" + "0600000000000000" + TCP_SYN,
    family: 6,
    proto: 6,
    ports: [12345, 80],
  },
  {
    name: "IPv6 first fragment has ports",
    link: 1,
    hex: ETH("86dd") + V6("2c", "0010") + "1100000100000001" + UDP,
    family: 6,
    proto: 17,
    ports: [12345, 53],
    fragment: true,
  },
  {
    name: "IPv6 later fragment has none",
    link: 1,
    hex: ETH("86dd") + V6("2c", "0010") + "1100005800000001" + UDP,
    family: 6,
    proto: 17,
    ports: null,
    fragment: true,
  },
  {
    name: "IPv6 AH ends the chain",
    link: 1,
    hex: ETH("86dd") + V6("33", "0018") + "590400000000000100000001" + "00000000" + "00000000",
    family: 6,
    proto: 51,
    ports: null,
  },
  {
    name: "IPv6 extension header cut short",
    link: 1,
    hex: ETH("86dd") + V6("00", "0010") + "1100",
    family: 6,
    proto: 17,
    error: "ipv6_ext_truncated",
  },
  {
    name: "IPv6 header cut short",
    link: 1,
    hex: ETH("86dd") + V6("11").slice(0, 70),
    family: 0,
    error: "ipv6_truncated",
  },
  {
    name: "IPv6 EtherType with version 4",
    link: 1,
    hex: ETH("86dd") + V4("11", "001c") + UDP,
    family: 0,
    error: "ip_bad_version",
  },
  {
    name: "IPv6 payload length 0 leaves no L4",
    link: 1,
    hex: ETH("86dd") + V6("11", "0000") + UDP,
    family: 6,
    proto: 17,
    ports: null,
    error: "l4_truncated",
  },
  {
    name: "IPv4 later fragment has no ports",
    link: 1,
    hex: ETH("0800") + V4("11", "001c", "00b9") + UDP,
    family: 4,
    proto: 17,
    ports: null,
    fragment: true,
  },
  {
    name: "IPv4 first fragment has ports",
    link: 1,
    hex: ETH("0800") + V4("11", "001c", "2000") + UDP,
    family: 4,
    ports: [12345, 53],
    fragment: true,
  },
  {
    name: "IPv4 with options",
    link: 1,
    hex: ETH("0800") + V4("11", "0020", "4000", "46") + "01010100" + UDP,
    family: 4,
    proto: 17,
    ports: [12345, 53],
  },
  {
    name: "IPv4 IHL below 5",
    link: 1,
    hex: ETH("0800") + V4("11", "001c", "4000", "44") + UDP,
    family: 0,
    error: "ipv4_bad_header_len",
  },
  {
    name: "IPv4 total length below header",
    link: 1,
    hex: ETH("0800") + V4("11", "0010") + UDP,
    family: 0,
    error: "ipv4_bad_total_len",
  },
  {
    name: "IPv4 total length 0 is TSO",
    link: 1,
    hex: ETH("0800") + V4("11", "0000") + UDP,
    family: 4,
    ports: [12345, 53],
  },
  {
    name: "IPv4 total length trims the L4 header",
    link: 1,
    hex: ETH("0800") + V4("11", "0016") + UDP,
    family: 4,
    ports: null,
    error: "l4_truncated",
  },
  {
    name: "IPv4 header cut short",
    link: 1,
    hex: ETH("0800") + V4("11").slice(0, 30),
    family: 0,
    error: "ipv4_truncated",
  },
  {
    name: "IPv4 options cut short",
    link: 1,
    hex: ETH("0800") + V4("11", "003c", "4000", "4f") + "0101",
    family: 4,
    error: "ipv4_options_truncated",
  },
  {
    name: "EtherType 0x0800 carrying IPv6",
    link: 1,
    hex: ETH("0800") + V6("11") + UDP,
    family: 6,
    ports: [12345, 53],
  },
  {
    name: "IP version 5 is bogus",
    link: 1,
    hex: ETH("0800") + "55" + V4("11").slice(2),
    family: 0,
    error: "ip_bad_version",
  },
  {
    name: "ARP is not IP and not an error",
    link: 1,
    hex: ETH("0806") + "0001080006040001",
    family: 0,
  },
  { name: "802.3 LLC (STP) is not IP", link: 1, hex: ETH("0026") + "424203000000", family: 0 },
  {
    name: "802.3 LLC/SNAP carrying IPv4",
    link: 1,
    hex: ETH("0030") + "aaaa030000000800" + V4("11", "001c") + UDP,
    family: 4,
    ports: [12345, 53],
  },
  {
    name: "MPLS two labels then IPv4",
    link: 1,
    hex: ETH("8847") + "00010040" + "00020140" + V4("06") + TCP_SYN,
    family: 4,
    ports: [12345, 80],
  },
  {
    name: "MPLS label cut short",
    link: 1,
    hex: ETH("8847") + "0001",
    family: 0,
    error: "link_truncated",
  },
  {
    name: "PPPoE session IPv4",
    link: 1,
    hex: ETH("8864") + "110000010030" + "0021" + V4("11", "001c") + UDP,
    family: 4,
    ports: [12345, 53],
  },
  {
    name: "PPPoE session IPv6",
    link: 1,
    hex: ETH("8864") + "110000010030" + "0057" + V6("11") + UDP,
    family: 6,
    ports: [12345, 53],
  },
  {
    name: "Ethernet cut short",
    link: 1,
    hex: "02000000000102000000",
    family: 0,
    error: "link_truncated",
  },
  {
    name: "VLAN tag cut short",
    link: 1,
    hex: ETH("8100") + "00",
    family: 0,
    error: "link_truncated",
  },
  {
    name: "TCP with 2 bytes has no ports",
    link: 1,
    hex: ETH("0800") + V4("06") + "3039",
    family: 4,
    ports: null,
    error: "l4_truncated",
  },
  {
    name: "TCP with 12 bytes keeps ports",
    link: 1,
    hex: ETH("0800") + V4("06") + TCP_SYN.slice(0, 24),
    family: 4,
    ports: [12345, 80],
    error: "tcp_truncated",
  },
  {
    name: "Linux SLL IPv4",
    link: 113,
    hex: SLL("0800") + V4("11", "001c") + UDP,
    family: 4,
    ports: [12345, 53],
  },
  {
    name: "Linux SLL with VLAN",
    link: 113,
    hex: SLL("8100") + "00050800" + V4("11", "001c") + UDP,
    family: 4,
    vlan: 5,
  },
  { name: "Linux SLL ARP", link: 113, hex: SLL("0806") + "0001080006040001", family: 0 },
  {
    name: "Linux SLL cut short",
    link: 113,
    hex: SLL("0800").slice(0, 20),
    family: 0,
    error: "link_truncated",
  },
  {
    name: "Linux SLL2 IPv6",
    link: 276,
    hex: SLL2("86dd") + V6("11") + UDP,
    family: 6,
    ports: [12345, 53],
  },
  {
    name: "NULL AF_INET little-endian",
    link: 0,
    hex: "02000000" + V4("11", "001c") + UDP,
    family: 4,
    ports: [12345, 53],
  },
  {
    name: "NULL AF_INET big-endian writer",
    link: 0,
    hex: "00000002" + V4("11", "001c") + UDP,
    family: 4,
  },
  {
    name: "NULL AF_INET6 (Darwin 30)",
    link: 0,
    hex: "1e000000" + V6("11") + UDP,
    family: 6,
    ports: [12345, 53],
  },
  { name: "NULL AF_INET6 (FreeBSD 28)", link: 0, hex: "1c000000" + V6("11") + UDP, family: 6 },
  { name: "NULL AF_INET6 (BSD 24)", link: 0, hex: "18000000" + V6("11") + UDP, family: 6 },
  { name: "NULL unknown family", link: 0, hex: "07000000" + V4("11", "001c") + UDP, family: 0 },
  {
    name: "LOOP AF_INET network order",
    link: 108,
    hex: "00000002" + V4("11", "001c") + UDP,
    family: 4,
  },
  {
    name: "raw IP (101) IPv4",
    link: 101,
    hex: V4("11", "001c") + UDP,
    family: 4,
    ports: [12345, 53],
  },
  { name: "raw IP (101) IPv6", link: 101, hex: V6("11") + UDP, family: 6, ports: [12345, 53] },
  { name: "raw IP (12) IPv4", link: 12, hex: V4("06") + TCP_SYN, family: 4, ports: [12345, 80] },
  { name: "raw IP (14) IPv6", link: 14, hex: V6("11") + UDP, family: 6 },
  { name: "LINKTYPE_IPV4 (228)", link: 228, hex: V4("11", "001c") + UDP, family: 4 },
  { name: "LINKTYPE_IPV6 (229)", link: 229, hex: V6("11") + UDP, family: 6 },
  { name: "raw IP empty", link: 101, hex: "", family: 0, error: "link_truncated" },
  {
    name: "PPP with address/control",
    link: 9,
    hex: "ff030021" + V4("11", "001c") + UDP,
    family: 4,
    ports: [12345, 53],
  },
  { name: "PPP compressed protocol", link: 9, hex: "21" + V4("11", "001c") + UDP, family: 4 },
  { name: "Cisco HDLC IPv6", link: 104, hex: "0f0086dd" + V6("11") + UDP, family: 6 },
  {
    name: "MPLS Ethernet pseudowire with control word",
    link: 1,
    hex: ETH("8847") + "00010140" + "00000000" + ETH("0800") + V4("11", "001c") + UDP,
    family: 4,
    ports: [12345, 53],
  },
  {
    name: "MPLS associated channel is not IP",
    link: 1,
    hex: ETH("8847") + "00010140" + "10000000" + V4("11", "001c"),
    family: 0,
  },
  {
    name: "802.1ah PBB then customer IPv4",
    link: 1,
    hex: ETH("88e7") + "00000064" + MACS.slice(0, 24) + "0800" + V4("11", "001c") + UDP,
    family: 4,
    ports: [12345, 53],
  },
  {
    name: "802.3 SNAP with Cisco OUI carrying IPv4",
    link: 1,
    hex: ETH("0030") + "aaaa030000f80800" + V4("11", "001c") + UDP,
    family: 4,
  },
  {
    name: "radiotap 802.11 data from the AP carrying IPv4",
    link: 127,
    hex: RADIOTAP + WLAN("0802") + SNAP_IPV4 + V4("11", "001c") + UDP,
    family: 4,
    ports: [12345, 53],
  },
  {
    name: "802.11 QoS data, four addresses",
    link: 105,
    hex: WLAN("8803", "020000000004" + "0000") + SNAP_IPV4 + V4("06") + TCP_SYN,
    family: 4,
    ports: [12345, 80],
  },
  {
    name: "802.11 QoS data with HT control",
    link: 105,
    hex: WLAN("8881", "0000" + "00000000") + SNAP_IPV4 + V4("11", "001c") + UDP,
    family: 4,
  },
  {
    name: "802.11 protected data is not IP",
    link: 105,
    hex: WLAN("0841") + SNAP_IPV4 + V4("11", "001c") + UDP,
    family: 0,
  },
  { name: "802.11 beacon is not IP", link: 105, hex: WLAN("8000") + "00".repeat(12), family: 0 },
  { name: "802.11 null data is not IP", link: 105, hex: WLAN("4801"), family: 0 },
  {
    name: "802.11 header cut short",
    link: 105,
    hex: WLAN("0802").slice(0, 30),
    family: 0,
    error: "link_truncated",
  },
  {
    name: "radiotap length beyond the frame",
    link: 127,
    hex: "0000ff00" + "00000000",
    family: 0,
    error: "link_truncated",
  },
  {
    name: "PPI with 802.11",
    link: 192,
    hex: "00000800" + "69000000" + WLAN("0801") + SNAP_IPV4 + V4("11", "001c") + UDP,
    family: 4,
  },
  {
    name: "PPI with Ethernet",
    link: 192,
    hex: "00000800" + "01000000" + ETH("86dd") + V6("11") + UDP,
    family: 6,
  },
  {
    name: "pflog IPv4 (header padded to 4 bytes)",
    link: 117,
    hex: "3d02" + "00".repeat(62) + V4("11", "001c") + UDP,
    family: 4,
    ports: [12345, 53],
  },
  {
    name: "pflog IPv6 (BSD family 24)",
    link: 117,
    hex: "3d18" + "00".repeat(62) + V6("11") + UDP,
    family: 6,
    ports: [12345, 53],
  },
  {
    name: "pflog header cut short",
    link: 117,
    hex: "3d02" + "00".repeat(10),
    family: 0,
    error: "link_truncated",
  },
  {
    name: "enc IPv4 (family in host order)",
    link: 109,
    hex: "02000000" + "00001234" + "00000000" + V4("06") + TCP_SYN,
    family: 4,
    ports: [12345, 80],
  },
  {
    name: "enc IPv4 (family in network order)",
    link: 109,
    hex: "00000002" + "00001234" + "00000000" + V4("06") + TCP_SYN,
    family: 4,
  },
  {
    name: "NFLOG IPv4 payload after other TLVs",
    link: 239,
    hex: "02000000" + "08000100" + "08000300" + "20000900" + V4("11", "001c") + UDP,
    family: 4,
    ports: [12345, 53],
  },
  {
    name: "NFLOG IPv6 payload",
    link: 239,
    hex: "0a000000" + "34000900" + V6("11") + UDP,
    family: 6,
    ports: [12345, 53],
  },
  {
    name: "NFLOG without payload is not IP",
    link: 239,
    hex: "02000000" + "08000100" + "00000000",
    family: 0,
  },
  {
    name: "PPPoE without Ethernet (51)",
    link: 51,
    hex: "110000010030" + "0021" + V4("11", "001c") + UDP,
    family: 4,
    ports: [12345, 53],
  },
  {
    name: "IP over InfiniBand (40-byte GRH pseudo-header first)",
    link: 242,
    hex: "00".repeat(40) + "86dd0000" + V6("11") + UDP,
    family: 6,
  },
  {
    name: "PPPoE payload length 0 carries nothing",
    link: 1,
    hex: ETH("8864") + "110000010000" + "0021" + V4("11", "001c") + UDP,
    family: 0,
  },
  {
    name: "netANALYZER (version 1 header)",
    link: 240,
    hex: "00040000" + ETH("0800") + V4("11", "001c") + UDP,
    family: 4,
  },
  {
    name: "netANALYZER wrong header version is not decoded",
    link: 240,
    hex: "00000000" + ETH("0800") + V4("11", "001c") + UDP,
    family: 0,
  },
  {
    name: "netANALYZER transparent mode is raw data",
    link: 241,
    hex: "00060000" + "55555555555555d5" + ETH("0800") + V4("11", "001c") + UDP,
    family: 0,
  },
  {
    name: "ATM RFC 1483 LLC/SNAP",
    link: 11,
    hex: SNAP_IPV4 + V4("11", "001c") + UDP,
    family: 4,
    ports: [12345, 53],
  },
  {
    name: "Token Ring LLC/SNAP",
    link: 6,
    hex: "1040" + "020000000001" + "020000000002" + SNAP_IPV4 + V4("11", "001c") + UDP,
    family: 4,
  },
  {
    name: "Token Ring source-routed",
    link: 6,
    hex: "1040" + "020000000001" + "820000000002" + "0270" + SNAP_IPV4 + V4("11", "001c") + UDP,
    family: 4,
  },
  {
    name: "FDDI LLC/SNAP",
    link: 10,
    hex: "50" + "020000000001" + "020000000002" + SNAP_IPV4 + V4("11", "001c") + UDP,
    family: 4,
  },
  {
    name: "Frame Relay NLPID IPv4",
    link: 107,
    hex: "0401" + "03cc" + V4("11", "001c") + UDP,
    family: 4,
    ports: [12345, 53],
  },
  { name: "Frame Relay NLPID IPv6", link: 107, hex: "0401" + "038e" + V6("11") + UDP, family: 6 },
  {
    name: "Frame Relay SNAP with pad",
    link: 107,
    hex: "0401" + "0300" + "80" + "000000" + "0800" + V4("11", "001c") + UDP,
    family: 4,
  },
  {
    name: "Frame Relay Q.933 signalling is not IP",
    link: 107,
    hex: "0001" + "0308" + "0000",
    family: 0,
  },
  {
    name: "NULL IRIX-style 16-bit family first (tshark's guess)",
    link: 0,
    hex: "00020000" + V4("11", "001c") + UDP,
    family: 4,
  },
  {
    name: "NULL family in the upper half of a little-endian word",
    link: 0,
    hex: "1e000200" + V4("11", "001c") + UDP,
    family: 4,
  },
  {
    name: "NULL EtherType value (host order)",
    link: 0,
    hex: "dd860000" + V6("11") + UDP,
    family: 6,
  },
  {
    name: "LINKTYPE_IPV6 with version 4 is bogus",
    link: 229,
    hex: V4("11", "001c") + UDP,
    family: 0,
    error: "ip_bad_version",
  },
  {
    name: "IPv6 destination option overrunning its header stops the chain",
    link: 1,
    hex: ETH("86dd") + V6("3c", "0010") + "11000b0109014100" + UDP,
    family: 6,
    proto: 17,
    ports: null,
    error: "ipv6_option_malformed",
  },
  {
    name: "IPv6 destination options with Pad1 and PadN fit",
    link: 1,
    hex: ETH("86dd") + V6("3c", "0010") + "1100000102000000" + UDP,
    family: 6,
    proto: 17,
    ports: [12345, 53],
  },
  {
    name: "unsupported link type",
    link: 147,
    hex: V4("11", "001c") + UDP,
    family: 0,
    error: "linktype_unsupported",
  },
];

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let k = 0; k < out.length; k++) out[k] = parseInt(hex.slice(2 * k, 2 * k + 2), 16);
  return out;
}

/** Decodes one frame in slot 1 of a fresh batch (slot 0 holds a dummy to test offsets). */
export function decodeOne(link: number, bytes: Uint8Array, wireLen = bytes.length): PacketBatch {
  const batch = new PacketBatch(4);
  const buf = new Uint8Array(bytes.length + 7);
  buf.set(bytes, 7);
  batch.bytes = buf;
  batch.length = 2;
  batch.linkType[0] = 1, batch.capLen[0] = 0, batch.wireLen[0] = 0, batch.dataOff[0] = 0;
  batch.linkType[1] = link, batch.capLen[1] = bytes.length, batch.wireLen[1] = wireLen;
  batch.dataOff[1] = 7;
  decodeBatch(batch);
  return batch;
}

for (const c of CASES) {
  Deno.test(`decodePacket() ${c.name}`, () => {
    const b = decodeOne(c.link, hexBytes(c.hex), c.wireLen);
    const i = 1;
    assert.equal(ERROR_NAMES[b.error[i]!], c.error ?? "none", "error");
    if (c.family !== undefined) assert.equal(b.family[i], c.family, "family");
    if (c.proto !== undefined) assert.equal(b.proto[i], c.proto, "proto");
    if (c.ports !== undefined) {
      const has = (b.flags[i]! & FLAG_HAS_PORTS) !== 0;
      assert.deepEqual(has ? [b.srcPort[i], b.dstPort[i]] : null, c.ports, "ports");
    }
    if (c.vlan !== undefined) assert.equal(b.vlan[i], c.vlan, "vlan");
    else assert.equal(b.vlan[i], VLAN_NONE, "untagged");
    if (c.fragment !== undefined) assert.equal((b.flags[i]! & FLAG_FRAGMENT) !== 0, c.fragment);
    if (b.family[i] === 4) {
      assert.equal(ipv4Text(b.src[i * 4]!), "10.0.0.1");
      assert.equal(ipv4Text(b.dst[i * 4]!), "10.0.0.2");
    } else if (b.family[i] === 6) {
      assert.equal(ipv6Text(b.src, i * 4), "2001:db8::1");
      assert.equal(ipv6Text(b.dst, i * 4), "2001:db8::2");
    }
    // The dummy empty Ethernet frame in slot 0 is counted as truncated, never touched by slot 1.
    assert.equal(ERROR_NAMES[b.error[0]!], "link_truncated");
  });
}

Deno.test("decodePacket() reads TCP flags including the AccECN/NS bit", () => {
  const b = decodeOne(
    1,
    hexBytes(ETH("0800") + V4("06") + "303900500000000100000000" + "51d2ffff00000000"),
  );
  assert.equal(b.tcpFlags[1], 0x1d2);
});

Deno.test("decodePacket() walks a long IPv6 extension chain to UDP", () => {
  let chain = "";
  const n = 100;
  for (let k = 0; k < n; k++) chain += (k === n - 1 ? "11" : "3c") + "00000000000000";
  const plen = (n * 8 + 8).toString(16).padStart(4, "0");
  const b = decodeOne(1, hexBytes(ETH("86dd") + V6("3c", plen) + chain + UDP));
  assert.equal(b.proto[1], 17);
  assert.deepEqual([b.srcPort[1], b.dstPort[1]], [12345, 53]);
});

Deno.test("ipv6Text() follows RFC 5952", () => {
  const cases: [number[], string][] = [
    [[0x20010db8, 0, 0, 1], "2001:db8::1"],
    [[0, 0, 0, 1], "::1"],
    [[0, 0, 0, 0], "::"],
    [[0xfe800000, 0, 0, 0], "fe80::"],
    [[0x20010db8, 0x00000001, 0, 1], "2001:db8:0:1::1"],
    [[0x20010db8, 0, 0x00010000, 1], "2001:db8::1:0:0:1"],
    [[0x20010db8, 0x00010001, 0x00010001, 0x00010001], "2001:db8:1:1:1:1:1:1"],
    [[0x20010000, 0x00000db8, 0, 1], "2001:0:0:db8::1"],
    [[0, 0, 0xffff, 0x01020304], "::ffff:1.2.3.4"],
    [[0x02001db8, 0xaaaa, 0xbbbb0000, 0], "200:1db8:0:aaaa:bbbb::"],
  ];
  for (const [w, text] of cases) assert.equal(ipv6Text(Uint32Array.from(w)), text);
});
