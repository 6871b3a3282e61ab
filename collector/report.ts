/**
 * Turning an analysis into rows and text: CSV, JSON and the human-readable table report.
 *
 * @module
 */

import type { AnalyzeResult } from "./analyze.ts";
import { ERROR_NAMES } from "./decode/mod.ts";
import { type FlowTable, readKey } from "./flow_table.ts";
import { ipv4Text, ipv6Text } from "./ip_text.ts";
import type { KeyField } from "./key_fields.ts";
import { tsText } from "./totals.ts";

export const REPORT_FORMATS = ["table", "csv", "json"] as const;
export type ReportFormat = typeof REPORT_FORMATS[number];

export interface FlowRow {
  src_ip?: string | null;
  dst_ip?: string | null;
  proto?: number | null;
  src_port?: number | null;
  dst_port?: number | null;
  vlan?: number | null;
  packets: number;
  bytes: number;
  first_ts: string | null;
  last_ts: string | null;
  tcp_flags: number;
}

const PROTO_NAMES: Record<number, string> = {
  1: "icmp",
  2: "igmp",
  4: "ipip",
  6: "tcp",
  17: "udp",
  41: "ipv6",
  47: "gre",
  50: "esp",
  51: "ah",
  58: "icmpv6",
  89: "ospf",
  103: "pim",
  112: "vrrp",
  132: "sctp",
};

export function protoName(p: number): string {
  return PROTO_NAMES[p] ?? `proto-${p}`;
}

function addrText(family: number, words: Uint32Array): string {
  return family === 4 ? ipv4Text(words[0]!) : ipv6Text(words);
}

/** Every key of the table as a row, sorted by packets, then bytes, then key (stable output). */
export function flowRows(table: FlowTable, groupBy: readonly KeyField[]): FlowRow[] {
  const rows: FlowRow[] = [];
  for (let e = 0; e < table.size; e++) {
    const k = readKey(table, e);
    const row: FlowRow = {
      packets: table.packets[e]!,
      bytes: table.bytes[e]!,
      first_ts: table.firstSec[e] === 0xffffffff
        ? null
        : tsText(table.firstSec[e]!, table.firstNsec[e]!),
      last_ts: table.firstSec[e] === 0xffffffff
        ? null
        : tsText(table.lastSec[e]!, table.lastNsec[e]!),
      tcp_flags: table.tcpFlags[e]!,
    };
    const keyed: Partial<FlowRow> = {};
    for (const f of groupBy) {
      if (f === "src_ip") keyed.src_ip = addrText(k.family, k.src);
      else if (f === "dst_ip") keyed.dst_ip = addrText(k.family, k.dst);
      else if (f === "proto") keyed.proto = k.proto;
      else if (f === "src_port") keyed.src_port = k.srcPort;
      else if (f === "dst_port") keyed.dst_port = k.dstPort;
      else keyed.vlan = k.vlan;
    }
    rows.push({ ...keyed, ...row });
  }
  const keyText = (r: FlowRow) => groupBy.map((f) => String(r[f] ?? "")).join("|");
  rows.sort((a, b) =>
    b.packets - a.packets || b.bytes - a.bytes || (keyText(a) < keyText(b) ? -1 : 1)
  );
  return rows;
}

function csvCell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

const EXTRA_COLUMNS = ["packets", "bytes", "first_ts", "last_ts", "tcp_flags"] as const;

export function toCsv(rows: readonly FlowRow[], groupBy: readonly KeyField[]): string {
  const cols = [...groupBy, ...EXTRA_COLUMNS];
  const lines = [cols.join(",")];
  for (const r of rows) lines.push(cols.map((c) => csvCell(r[c])).join(","));
  return lines.join("\n") + "\n";
}

/** The JSON document of `analyze --format json`. */
export function toJsonDoc(res: AnalyzeResult, rows: readonly FlowRow[]): Record<string, unknown> {
  const t = res.totals;
  const decodeErrors: Record<string, number> = {};
  for (let c = 1; c < t.errors.length; c++) {
    if (t.errors[c]! > 0) decodeErrors[ERROR_NAMES[c]!] = t.errors[c]!;
  }
  const protocols: Record<string, number> = {};
  for (let p = 0; p < 256; p++) {
    if (t.protoFrames[p]! > 0) protocols[protoName(p)] = t.protoFrames[p]!;
  }
  return {
    files: res.files.map((f) => ({
      name: f.name,
      format: f.format,
      link_types: f.linkTypes,
      records: f.records,
      warnings: f.warnings,
    })),
    totals: {
      frames: t.frames,
      bytes: t.wireBytes,
      cap_bytes: t.capBytes,
      ip_frames: t.ipv4Frames + t.ipv6Frames,
      non_ip_frames: t.nonIpFrames,
      ipv4_frames: t.ipv4Frames,
      ipv6_frames: t.ipv6Frames,
      protocols,
      decode_errors: decodeErrors,
      first_ts: tsText(t.firstSec, t.firstNsec),
      last_ts: tsText(t.lastSec, t.lastNsec),
      flow_table_overflow_packets: res.flows.overflowPackets,
    },
    group_by: res.groupBy,
    flows: rows,
    warnings: res.warnings,
  };
}
