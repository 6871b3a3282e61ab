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

import {
  KEY,
  type KeyColumns,
  RECORD_ROW,
  type RecordRows,
  type SketchExport,
  TABLE_ROW,
  type WindowExport,
} from "../collector/export/mod.ts";
import { ipv4Text, ipv6Text } from "../collector/packet/mod.ts";
import {
  APP_NAMES,
  DNS_ERRORS,
  DNS_NXDOMAIN,
  DNS_QUERIES,
  DNS_RESPONSES,
  DNS_RTT_COUNT,
  DNS_RTT_MAX_US,
  DNS_RTT_SUM_US,
  HTTP_PROTOCOLS,
  STATUS_CODES,
} from "../collector/app/mod.ts";
import { textOf } from "./_app_rows.ts";

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
  records: [
    "start_ns",
    "end_ns",
    "ip_version",
    "src_ip",
    "dst_ip",
    "src_port",
    "dst_port",
    "proto",
    "vlan",
    "packets_fwd",
    "bytes_fwd",
    "packets_rev",
    "bytes_rev",
    "tcp_flags",
    "syn",
    "syn_ack",
    "fin",
    "rst",
    "close_reason",
  ],
  sketches: ["task", "kind", "packets", "estimate", "sketch_hex"],
  dns: [
    "protocol",
    "qname",
    "qtype",
    "queries",
    "responses",
    "nxdomain",
    "errors",
    "rtt_count",
    "rtt_sum_us",
    "rtt_max_us",
  ],
  dns_rcodes: ["protocol", "rcode", "responses"],
  decode_errors: ["reason", "packets"],
  http: ["protocol", "has_host", "host", "method", "path", "requests"],
  http_status: ["protocol", "code", "responses"],
  http_agents: ["protocol", "user_agent", "requests"],
  sketch_keys: [
    "task",
    "rank",
    "ip_version",
    "src_ip",
    "dst_ip",
    "proto",
    "src_port",
    "dst_port",
    "vlan",
    "packets",
    "bytes",
    "spread",
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

/**
 * The window's lines per table: its totals and accounting, every exact task's rows, the
 * connection records that ended with it, the sketch tasks' results (`sketchNames`: their task
 * names, in order) with their serialised sketches.
 */
export function exportPayloads(w: WindowExport, sketchNames: readonly string[]): ExportPayload[] {
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
  const records: string[] = [];
  recordLines(w.records, records);
  const sketches: string[] = [], keys: string[] = [];
  w.sketches.forEach((k, n) =>
    sketchLines(tsvText(sketchNames[n] ?? `sketch${n}`), k, sketches, keys)
  );
  const enc = new TextEncoder();
  const payload = (table: ExportTable, rows: string[]) => ({
    table,
    rows: rows.length,
    body: enc.encode(rows.join("")),
  });
  return [
    { table: "windows", rows: 1, body: enc.encode(windows) },
    payload("flows", lines),
    payload("records", records),
    payload("sketches", sketches),
    payload("sketch_keys", keys),
    ...(Object.entries(appLines(w.totals, w.app)) as [ExportTable, string[]][]).map(([t, rows]) =>
      payload(t, rows)
    ),
  ];
}

/**
 * Decode problems by reason (the packet's and the app layer's, as window_decode_errors), DNS
 * and HTTP of the window, as the store keeps them (storage/_app_rows.ts).
 */
function appLines(
  totals: WindowExport["totals"],
  app: WindowExport["app"],
): Record<string, string[]> {
  const out: Record<string, string[]> = {
    decode_errors: [],
    dns: [],
    dns_rcodes: [],
    http: [],
    http_status: [],
    http_agents: [],
  };
  for (const [reason, n] of totals.decodeErrors) {
    out.decode_errors!.push(`${tsvText(reason)}\t${n}\n`);
  }
  if (app === null) return out;
  for (const [reason, n] of app.errors) out.decode_errors!.push(`${tsvText(reason)}\t${n}\n`);
  const text = textOf;
  const d = app.dns, c = d.counters;
  for (let e = 0; e < d.length; e++) {
    const num = d.nums[e]!, v = d.values, o = e * c;
    out.dns!.push(
      [
        APP_NAMES[num & 0xff] ?? "dns",
        tsvText(text(d, e)),
        num >>> 8,
        v[o + DNS_QUERIES],
        v[o + DNS_RESPONSES],
        v[o + DNS_NXDOMAIN],
        v[o + DNS_ERRORS],
        v[o + DNS_RTT_COUNT],
        v[o + DNS_RTT_SUM_US],
        v[o + DNS_RTT_MAX_US],
      ].join("\t") + "\n",
    );
  }
  for (let k = 0; k < app.rcodes.length; k++) {
    const n = app.rcodes[k]!;
    if (n !== 0) out.dns_rcodes!.push(`${APP_NAMES[k >>> 4] ?? "dns"}\t${k & 15}\t${n}\n`);
  }
  const h = app.http;
  for (let e = 0; e < h.length; e++) {
    const [host, method, path] = text(h, e).split("\0");
    const num = h.nums[e]!;
    const hasHost = (num & 2) === 0;
    out.http!.push(
      [
        HTTP_PROTOCOLS[num & 1],
        hasHost ? 1 : 0,
        tsvText(hasHost ? host ?? "" : ""),
        tsvText(method ?? ""),
        tsvText(path ?? ""),
        h.values[e],
      ].join("\t") + "\n",
    );
  }
  for (let k = 0; k < app.status.length; k++) {
    const n = app.status[k]!;
    if (n !== 0) {
      out.http_status!.push(
        `${HTTP_PROTOCOLS[Math.floor(k / STATUS_CODES)]}\t${k % STATUS_CODES}\t${n}\n`,
      );
    }
  }
  const a = app.agents;
  for (let e = 0; e < a.length; e++) {
    out.http_agents!.push(
      `${HTTP_PROTOCOLS[a.nums[e]! & 1]}\t${tsvText(text(a, e))}\t${a.values[e]}\n`,
    );
  }
  return out;
}

const CLOSE_REASONS = ["", "fin", "rst", "idle", "active", "end"];

/** Seconds and nanoseconds as one decimal count of nanoseconds (past 2^53: as text). */
function nsText(sec: number, nsec: number): string {
  return sec === 0 ? String(nsec) : `${sec}${String(nsec).padStart(9, "0")}`;
}

/** Connection records, initiator first, as the store keeps them (storage/_window_rows.ts). */
function recordLines(recs: RecordRows, out: string[]): void {
  const R = RECORD_ROW, K = KEY;
  const w = recs.words, dbl = new Float64Array(w.buffer, w.byteOffset, w.length >>> 1);
  for (let r = 0; r < recs.length; r++) {
    const o = r * R.WORDS, d = o / 2;
    const bInit = (w[o + R.STATE]! & R.STATE_INITIATOR_B) !== 0;
    const meta = w[o + K.META]!;
    const v4 = ((meta >>> 8) & 7) === 4;
    const startSec = w[o + R.START_SEC]! >>> 0, endSec = w[o + R.LAST_SEC]! >>> 0;
    const timed = startSec !== 0 || endSec !== 0;
    const addr = (at: number) => v4 ? ipv4Text(w[at]! >>> 0) : ipv6Text(w, at);
    const a0 = bInit ? o + K.DST : o + K.SRC, b0 = bInit ? o + K.SRC : o + K.DST;
    let pa = -1, pb = -1;
    if ((meta & K.META_PORTS_PRESENT) !== 0) {
      const ports = w[o + K.PORTS]! >>> 0;
      pa = bInit ? ports & 0xffff : ports >>> 16;
      pb = bInit ? ports >>> 16 : ports & 0xffff;
    }
    const ab = bInit ? 1 : 0; // forward = initiator → responder
    out.push(
      [
        timed ? nsText(startSec, w[o + R.START_NSEC]!) : -1,
        timed ? nsText(endSec, w[o + R.LAST_NSEC]!) : -1,
        v4 ? 4 : 6,
        addr(a0),
        addr(b0),
        pa,
        pb,
        meta & 0xff,
        (meta & K.META_VLAN_PRESENT) !== 0 ? (meta >>> 16) & 0xfff : -1,
        dbl[d + R.D_PKTS_AB + ab]!,
        dbl[d + R.D_BYTES_AB + ab]!,
        dbl[d + R.D_PKTS_BA - ab]!,
        dbl[d + R.D_BYTES_BA - ab]!,
        w[o + R.FLAGS]!,
        w[o + R.SYN]!,
        w[o + R.SYNACK]!,
        w[o + R.FIN]!,
        w[o + R.RST]!,
        CLOSE_REASONS[w[o + R.REASON]!] ?? "",
      ].join("\t") + "\n",
    );
  }
}

/** A sketch task's window: the sketch itself (hex), then the keys it reports, by rank. */
function sketchLines(task: string, k: SketchExport, sketches: string[], keys: string[]): void {
  let hex = "";
  for (let i = 0; i < k.bytes.length; i++) hex += HEX[k.bytes[i]!];
  sketches.push(`${task}\t${k.kind}\t${k.packets}\t${k.estimate ?? -1}\t${hex}\n`);
  for (let r = 0; r < k.keys.length; r++) {
    keys.push(
      [
        task,
        r + 1,
        ...keyCells(k.keys, r),
        k.keyPackets.length > 0 ? Math.round(k.keyPackets[r]!) : -1,
        k.keyBytes.length > 0 ? Math.round(k.keyBytes[r]!) : -1,
        k.keySpread.length > 0 ? k.keySpread[r]! : -1,
      ].join("\t") + "\n",
    );
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** ip_version … vlan of a reported key, absent fields as in the flows table. */
function keyCells(k: KeyColumns, r: number): (string | number)[] {
  const family = k.family[r]!;
  const addr = (words: Uint32Array) =>
    family === 4 ? ipv4Text(words[r * 4]! >>> 0) : family === 6 ? ipv6Text(words, r * 4) : "";
  return [
    family,
    k.hasSrc ? addr(k.src) : "",
    k.hasDst ? addr(k.dst) : "",
    k.proto[r]!,
    k.srcPort[r]!,
    k.dstPort[r]!,
    k.vlan[r]!,
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
