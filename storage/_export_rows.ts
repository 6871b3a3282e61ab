/**
 * A window's rows as they are forwarded (storage/_outbox.ts): tab-separated lines, one per
 * row, fixed once in the window's transaction so a batch sent again is the same bytes. The
 * window's identity (sensor, source, start, length, part) and the batch id are not in them: a
 * capture file's identity is its content, known only once it has been read, so the forwarder
 * puts them in front of each line when it sends. Columns per table: EXPORT_COLUMNS.
 *
 * Absent key fields (a task that does not keep them, a frame without ports) are -1 in the
 * number columns and empty in the address columns: the MergeTree key of a central table has
 * no NULLs (ClickHouse 18.16 allows none there).
 *
 * @module
 */

import { KEY, TABLE_ROW, type WindowExport } from "../collector/export/mod.ts";
import { ipv4Text, ipv6Text } from "../collector/packet/mod.ts";

/** Columns of each forwarded table after the identity columns, in line order. */
export const EXPORT_COLUMNS = {
  windows: [
    "packets",
    "bytes",
    "cap_bytes",
    "ipv4_packets",
    "ipv6_packets",
    "non_ip_packets",
    "late_packets",
    "late_bytes",
    "tracker_overflow_packets",
    "capture_received",
    "capture_dropped",
    "capture_if_dropped",
  ],
  flows: [
    "task",
    "ip_version",
    "src_ip",
    "dst_ip",
    "proto",
    "src_port",
    "dst_port",
    "vlan",
    "packets",
    "bytes",
  ],
} as const;

export type ExportTable = keyof typeof EXPORT_COLUMNS;

/** Identity columns in front of every line, in order (the forwarder writes them). */
export const IDENTITY_COLUMNS = [
  "sensor",
  "source",
  "window_start",
  "window_sec",
  "part",
  "batch_id",
] as const;

export interface ExportPayload {
  table: ExportTable;
  rows: number;
  body: Uint8Array;
}

/** TSV's escapes (ClickHouse's TabSeparated): backslash, tab and newline. */
export function tsvText(s: string): string {
  return s.replace(/[\\\t\n]/g, (c) => c === "\\" ? "\\\\" : c === "\t" ? "\\t" : "\\n");
}

/** The window's lines per table: its totals and accounting, every exact task's rows. */
export function exportPayloads(w: WindowExport): ExportPayload[] {
  const t = w.totals, c = w.capture;
  const windows = [
    t.packets,
    t.bytes,
    t.capBytes,
    t.ipv4Packets,
    t.ipv6Packets,
    t.nonIpPackets,
    t.latePackets,
    t.lateBytes,
    w.trackerOverflowPackets,
    c === null ? -1 : c.received,
    c === null ? -1 : c.dropped,
    c === null ? -1 : c.ifDropped,
  ].join("\t") + "\n";
  const lines: string[] = [];
  for (const task of w.tasks) flowLines(tsvText(task.name), task.rows, lines);
  const enc = new TextEncoder();
  return [
    { table: "windows", rows: 1, body: enc.encode(windows) },
    { table: "flows", rows: lines.length, body: enc.encode(lines.join("")) },
  ];
}

/** 64-bit counter from its (lo, hi) words (exact below 2^53). */
function u64(lo: number, hi: number): number {
  return (hi >>> 0) * 4294967296 + (lo >>> 0);
}

/** One task's rows as the store keeps them (storage/_window_rows.ts), then its other row. */
function flowLines(
  task: string,
  rows: WindowExport["tasks"][number]["rows"],
  out: string[],
): void {
  const t = rows.words, m = rows.mask, E = TABLE_ROW, K = KEY;
  for (let e = 0; e < rows.length; e++) {
    const o = e * E.WORDS;
    const meta = t[o + K.META]!;
    const family = (meta >>> 8) & 7;
    const addr = (at: number) =>
      family === 4 ? ipv4Text(t[at]! >>> 0) : family === 6 ? ipv6Text(t, at) : "";
    const ports = t[o + K.PORTS]! >>> 0;
    const hasPorts = (meta & K.META_PORTS_PRESENT) !== 0;
    out.push(
      [
        task,
        family,
        m.srcIp ? addr(o + K.SRC) : "",
        m.dstIp ? addr(o + K.DST) : "",
        m.proto ? meta & 0xff : -1,
        hasPorts && m.srcPort ? ports >>> 16 : -1,
        hasPorts && m.dstPort ? ports & 0xffff : -1,
        (meta & K.META_VLAN_PRESENT) !== 0 ? (meta >>> 16) & 0xfff : -1,
        u64(t[o + E.PKTS_LO]!, t[o + E.PKTS_HI]!),
        u64(t[o + E.BYTES_LO]!, t[o + E.BYTES_HI]!),
      ].join("\t") + "\n",
    );
  }
  if (rows.overflowPackets > 0) {
    // The other row, as in the store: ip_version 0, every key field absent.
    out.push(`${task}\t0\t\t\t-1\t-1\t-1\t-1\t${rows.overflowPackets}\t${rows.overflowBytes}\n`);
  }
}
