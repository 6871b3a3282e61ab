/**
 * The machine-readable reports of `analyze`: CSV and JSON (the table report: table.ts).
 *
 * @module
 */

import type { KeyField } from "../../collector/packet/mod.ts";
import type { FlowRow, RunInfo, SketchesSummary, Summary } from "../../storage/mod.ts";

export type { FlowRow } from "../../storage/mod.ts";

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

/**
 * A csv cell: every FlowRow value is a number, an address or a time, none of which holds a
 * comma, a quote or a newline, so no cell needs quoting (the report's largest cost was this
 * check, once per cell of a million rows).
 */
function csvCell(v: string | number | null | undefined): string | number {
  return v ?? "";
}

const EXTRA_COLUMNS = ["packets", "bytes", "first_ts", "last_ts", "tcp_flags"] as const;

/** The csv report's header line (no newline). */
export function csvHeader(groupBy: readonly KeyField[]): string {
  return [...groupBy, ...EXTRA_COLUMNS].join(",");
}

/** One row of the csv report (no newline). */
export function csvLine(r: FlowRow, groupBy: readonly KeyField[]): string {
  let line = "";
  for (const c of groupBy) line += `${csvCell(r[c])},`;
  return line +
    `${r.packets},${r.bytes},${csvCell(r.first_ts)},${csvCell(r.last_ts)},${r.tcp_flags}`;
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
    // null: none were kept (--no-records), not that no flow ended.
    doc.flow_records = run.flowRecords
      ? Object.fromEntries(s.flowRecords.map((r) => [r.reason, r.records]))
      : null;
  }
  if (s.sketches !== null) doc.sketches = sketchesJson(s.sketches);
  if (s.app !== null) doc.dns = s.app.dns, doc.http = s.app.http;
  return doc;
}
