/**
 * Turning an analysis into rows and text: CSV, JSON and the human-readable table report.
 *
 * @module
 */

import { type FlowTable, KEY_WORDS, readKey } from "./flow_table.ts";
import { ipv4Text, ipv6Text } from "./ip_text.ts";
import type { KeyField } from "./key_fields.ts";
import type { FlowRow, RunInfo, SketchesSummary, Summary } from "./summary.ts";
import { tsText } from "./totals.ts";

export type { FlowRow } from "./summary.ts";

export const REPORT_FORMATS = ["table", "csv", "json"] as const;
export type ReportFormat = typeof REPORT_FORMATS[number];

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

/** Compares two entries' keys word by word: a fixed, cheap order for ties. */
function keyOrder(t: FlowTable, a: number, b: number): number {
  for (let j = 0; j < KEY_WORDS; j++) {
    const d = t.keyWord(a, j) - t.keyWord(b, j);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Indexes of the `limit` smallest of 0..n-1 under `before`, unordered: one pass keeping a
 * sorted short list, for top-N reports over large tables without sorting everything.
 */
function topIndexes(n: number, limit: number, before: (a: number, b: number) => number): number[] {
  const top: number[] = [];
  for (let e = 0; e < n; e++) {
    if (top.length === limit && before(e, top[limit - 1]!) >= 0) continue;
    let at = top.length === limit ? limit - 1 : top.length;
    if (top.length < limit) top.push(e);
    while (at > 0 && before(e, top[at - 1]!) < 0) top[at] = top[at - 1]!, at--;
    top[at] = e;
  }
  return top;
}

/**
 * The table's keys as rows, largest first by packets (or bytes), then the other counter,
 * then key (stable output); only the first `limit` rows are built.
 */
export function flowRows(
  table: FlowTable,
  groupBy: readonly KeyField[],
  limit = Infinity,
  by: "packets" | "bytes" = "packets",
): FlowRow[] {
  const n = table.size;
  const packets = new Float64Array(n);
  const bytes = new Float64Array(n);
  for (let e = 0; e < n; e++) packets[e] = table.packets(e), bytes[e] = table.bytes(e);
  const [first, second] = by === "packets" ? [packets, bytes] : [bytes, packets];
  const before = (a: number, b: number) =>
    first[b]! - first[a]! || second[b]! - second[a]! || keyOrder(table, a, b);
  const order = limit * 8 < n
    ? topIndexes(n, limit, before)
    : Array.from({ length: n }, (_, e) => e);
  order.sort(before);
  const rows: FlowRow[] = [];
  for (const e of order.slice(0, limit)) {
    const k = readKey(table, e);
    const first = table.firstTs(e);
    const last = table.lastTs(e);
    const row: FlowRow = {
      packets: packets[e]!,
      bytes: bytes[e]!,
      first_ts: first === null ? null : tsText(first[0], first[1]),
      last_ts: last === null ? null : tsText(last[0], last[1]),
      tcp_flags: table.tcpFlags(e),
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
  return rows;
}

function csvCell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

const EXTRA_COLUMNS = ["packets", "bytes", "first_ts", "last_ts", "tcp_flags"] as const;

export function toCsv(rows: readonly FlowRow[], groupBy: readonly KeyField[]): string {
  const lines = [csvHeader(groupBy)];
  for (const r of rows) lines.push(csvLine(r, groupBy));
  return lines.join("\n") + "\n";
}

/** The csv report's header line (no newline). */
export function csvHeader(groupBy: readonly KeyField[]): string {
  return [...groupBy, ...EXTRA_COLUMNS].join(",");
}

/** One row of the csv report (no newline). */
export function csvLine(r: FlowRow, groupBy: readonly KeyField[]): string {
  let line = "";
  for (const c of groupBy) line += csvCell(r[c]) + ",";
  for (let k = 0; k < EXTRA_COLUMNS.length; k++) {
    line += (k > 0 ? "," : "") + csvCell(r[EXTRA_COLUMNS[k]!]);
  }
  return line;
}

/** The `sketches` part of the JSON document (snake_case, like the rest). */
function sketchesJson(k: SketchesSummary): Record<string, unknown> {
  return {
    heavy_hitters: k.heavyHitters.map((h) => ({
      task: h.task,
      key: h.key,
      by: h.by,
      memory_bytes: h.memoryBytes,
      exact_task: h.exactTask,
      top: h.rows,
    })),
    distinct: k.distinct.map((d) => ({
      task: d.task,
      key: d.key,
      precision: d.precision,
      estimate: Math.round(d.estimate),
      exact: d.exact,
    })),
    spread: k.spread.map((p) => ({
      task: p.task,
      key: p.key,
      element: p.element,
      threshold: p.threshold,
      filter: p.filter,
      memory_bytes: p.memoryBytes,
      keys: p.rows.map((r) => ({ ...r, spread: Math.round(r.spread) })),
    })),
    count_min: k.countMin.map((c) => ({
      task: c.task,
      key: c.key,
      by: c.by,
      memory_bytes: c.memoryBytes,
      packets: c.packets,
    })),
  };
}

/** The JSON document of `analyze --format json`. */
export function toJsonDoc(run: RunInfo, s: Summary): Record<string, unknown> {
  const t = s.totals;
  const protocols: Record<string, number> = {};
  for (const p of s.protocols) protocols[protoName(p.proto)] = p.packets;
  const decodeErrors: Record<string, number> = {};
  for (const e of s.decodeErrors) decodeErrors[e.reason] = e.packets;
  const doc: Record<string, unknown> = {
    files: run.files.map((f) => ({
      name: f.name,
      format: f.format,
      link_types: f.linkTypes,
      records: f.records,
      warnings: f.warnings,
    })),
    totals: {
      frames: t.frames,
      bytes: t.bytes,
      cap_bytes: t.capBytes,
      ip_frames: t.ipv4Frames + t.ipv6Frames,
      non_ip_frames: t.nonIpFrames,
      ipv4_frames: t.ipv4Frames,
      ipv6_frames: t.ipv6Frames,
      protocols,
      decode_errors: decodeErrors,
      first_ts: t.firstTs,
      last_ts: t.lastTs,
      flow_table_overflow_packets: s.overflowPackets,
      late_packets: t.latePackets,
    },
    /** False when the exact table overflowed: flows and talkers then miss those packets. */
    flows_complete: s.overflowPackets === 0,
    group_by: s.groupBy,
    flow_count: s.flowCount,
    flows: s.flows,
    warnings: run.warnings,
  };
  if (s.sourceId !== null) {
    doc.store = s.storePath;
    doc.source_id = s.sourceId;
    doc.windows = { count: s.windows, window_sec: s.windowSec };
    doc.flow_records = Object.fromEntries(s.flowRecords.map((r) => [r.reason, r.records]));
  }
  if (s.sketches !== null) doc.sketches = sketchesJson(s.sketches);
  if (s.app !== null) doc.dns = s.app.dns, doc.http = s.app.http;
  return doc;
}
