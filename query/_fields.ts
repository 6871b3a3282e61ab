/**
 * The fields a filter may name, per table, and their values: each value is checked and
 * normalised here (an address or CIDR block becomes its version and range, a protocol or
 * close-reason name its number), so nothing of the user's text reaches SQL.
 *
 * @module
 */

import { parseIp } from "../collector/packet/mod.ts";

export type FieldKind =
  | "ip"
  | "port"
  | "proto"
  | "vlan"
  | "ip_version"
  | "close_reason"
  | "count"
  | "seconds";

/** The fields of one table, by name. */
export type FieldSet = ReadonlyMap<string, FieldKind>;

/** A value, normalised: addresses as their version and range, everything else a number. */
export type Value =
  | { kind: "ip"; version: 4 | 6; lo: bigint; hi: bigint }
  | { kind: "number"; n: number };

/** Key fields of aggregated tables (window_flows, sketch keys); `ip`, `port`: either side. */
export const FLOW_FIELDS: FieldSet = new Map<string, FieldKind>([
  ["src_ip", "ip"],
  ["dst_ip", "ip"],
  ["ip", "ip"],
  ["src_port", "port"],
  ["dst_port", "port"],
  ["port", "port"],
  ["proto", "proto"],
  ["vlan", "vlan"],
  ["ip_version", "ip_version"],
]);

/** Connection records have the key fields and more: how they closed, how long, how much. */
export const RECORD_FIELDS: FieldSet = new Map<string, FieldKind>([
  ...FLOW_FIELDS,
  ["close_reason", "close_reason"],
  ["duration", "seconds"],
  ["packets", "count"],
  ["bytes", "count"],
]);

/** IANA protocol numbers by the names tcpdump and Wireshark use. */
export const PROTO_NAMES: ReadonlyMap<string, number> = new Map([
  ["icmp", 1],
  ["igmp", 2],
  ["tcp", 6],
  ["udp", 17],
  ["gre", 47],
  ["esp", 50],
  ["ah", 51],
  ["icmpv6", 58],
  ["ipv6-icmp", 58],
  ["ospf", 89],
  ["pim", 103],
  ["vrrp", 112],
  ["sctp", 132],
]);

/** flow_records.close_code by name (storage/README.md). */
export const CLOSE_REASONS: ReadonlyMap<string, number> = new Map([
  ["fin", 1],
  ["rst", 2],
  ["idle", 3],
  ["active", 4],
  ["end", 5],
]);

const INTEGER_RANGE: Partial<Record<FieldKind, [number, number, string]>> = {
  port: [0, 65535, "a port number 0-65535"],
  proto: [0, 255, "a protocol number 0-255 or a name (tcp, udp, icmp, …)"],
  vlan: [0, 4095, "a VLAN id 0-4095"],
  ip_version: [4, 6, "4 or 6"],
  count: [0, Number.MAX_SAFE_INTEGER, "a whole number"],
};

/** The value `text` for a field of `kind`, or why it is not one. */
export function parseValue(kind: FieldKind, text: string): Value | string {
  const lower = text.toLowerCase();
  switch (kind) {
    case "ip":
      return cidr(text) ?? `"${text}" is not an IP address or CIDR block`;
    case "seconds": {
      const n = Number(text);
      return /^\d+(\.\d+)?$/.test(text) && Number.isFinite(n)
        ? { kind: "number", n }
        : `"${text}" is not a number of seconds`;
    }
    case "close_reason": {
      const code = CLOSE_REASONS.get(lower);
      return code === undefined
        ? `"${text}" is not a close reason (${[...CLOSE_REASONS.keys()].join(", ")})`
        : { kind: "number", n: code };
    }
    default: {
      const named = kind === "proto" ? PROTO_NAMES.get(lower) : undefined;
      const n = named ?? (/^\d{1,16}$/.test(text) ? Number(text) : NaN);
      const [lo, hi, what] = INTEGER_RANGE[kind]!;
      if (!(n >= lo && n <= hi) || (kind === "ip_version" && n !== 4 && n !== 6)) {
        return `"${text}" is not ${what}`;
      }
      return { kind: "number", n };
    }
  }
}

/** An address or block as the range of addresses it covers ("10.0.0.0/8", "fe80::/10"). */
function cidr(text: string): Value | null {
  const slash = text.indexOf("/");
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (ip === null) return null;
  const [version, words] = ip;
  const bits = version === 4 ? 32 : 128;
  const prefix = slash < 0 ? bits : Number(text.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) return null;
  let a = 0n;
  if (version === 4) a = BigInt(words[0]!);
  else for (let k = 0; k < 4; k++) a = (a << 32n) | BigInt(words[k]!);
  const host = (1n << BigInt(bits - prefix)) - 1n;
  return { kind: "ip", version, lo: a & ~host, hi: (a & ~host) | host };
}
