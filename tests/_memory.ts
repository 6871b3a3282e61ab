/**
 * The in-memory analysis: capture files → decoded batches → totals and one exact flow table,
 * with no windows and no store. `analyze` does not use it (it ingests into the store and
 * reports from there); it is the independent reference the tests check the store's report
 * against.
 *
 * @module
 */

import { BATCH_PACKETS_DEFAULT, PacketBatch } from "../collector/packet/batch.ts";
import { decodeBatch, ERROR_NAMES } from "../collector/decode/mod.ts";
import {
  FLOWS_MAX_DEFAULT,
  FlowTable,
  KEY_WORDS,
  readKey,
} from "../collector/engine/flow_table.ts";
import type { FileSummary } from "../collector/ingest/ingest.ts";
import { ipv4Text, ipv6Text } from "../collector/packet/ip_text.ts";
import { FIVE_TUPLE, type KeyField } from "../collector/packet/key_fields.ts";
import { openCapture } from "../collector/reader/mod.ts";
import { Totals, tsText } from "../collector/engine/totals.ts";
import type { FlowRow, Summary } from "../storage/report_types.ts";

export interface AnalyzeOptions {
  files: readonly string[];
  groupBy?: readonly KeyField[];
  flowsMax?: number;
  batchPackets?: number;
  /** Called about every batch with bytes read and total of the current file. */
  onProgress?: (file: string, read: number, total: number) => void;
}

export interface AnalyzeResult {
  files: FileSummary[];
  groupBy: readonly KeyField[];
  totals: Totals;
  flows: FlowTable;
  warnings: string[];
}

/**
 * Runs the pipeline over every file in order. Throws PcapFormatError (one clear message) for
 * a file that is not a capture; a file cut short is read to its last whole record and
 * reported in `warnings`.
 */
export async function analyzeFiles(opts: AnalyzeOptions): Promise<AnalyzeResult> {
  if (opts.files.length === 0) throw new TypeError("No input files given");
  const groupBy = opts.groupBy ?? FIVE_TUPLE;
  const batch = new PacketBatch(opts.batchPackets ?? BATCH_PACKETS_DEFAULT);
  const totals = new Totals();
  const flows = new FlowTable(groupBy, opts.flowsMax ?? FLOWS_MAX_DEFAULT);
  const files: FileSummary[] = [];
  const warnings: string[] = [];
  for (const file of opts.files) {
    const reader = await openCapture(file);
    try {
      while (await reader.fill(batch) > 0) {
        decodeBatch(batch);
        totals.addBatch(batch);
        flows.addBatch(batch);
        opts.onProgress?.(file, reader.rawBytesRead, reader.rawBytesTotal);
      }
    } finally {
      reader.close();
    }
    files.push({
      name: file,
      format: reader.format,
      linkTypes: [...reader.linkTypes],
      records: reader.records,
      warnings: reader.warnings,
    });
    warnings.push(...reader.warnings);
  }
  return { files, groupBy, totals, flows, warnings };
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

/** The summary of an in-memory analysis, top `limit` rows. */
export function summaryOf(res: AnalyzeResult, limit?: number): Summary {
  const t = res.totals;
  const protocols = [];
  for (let p = 0; p < 256; p++) {
    if (t.protoFrames[p]! > 0) {
      protocols.push({ proto: p, packets: t.protoFrames[p]!, bytes: t.protoBytes[p]! });
    }
  }
  protocols.sort((a, b) => b.packets - a.packets || a.proto - b.proto);
  const decodeErrors = [];
  for (let c = 1; c < t.errors.length; c++) {
    if (t.errors[c]! > 0) decodeErrors.push({ reason: ERROR_NAMES[c]!, packets: t.errors[c]! });
  }
  decodeErrors.sort((a, b) => b.packets - a.packets || (a.reason < b.reason ? -1 : 1));
  let talkers: FlowRow[] | null = null;
  if (res.groupBy.includes("src_ip")) {
    const bySource = new FlowTable(["src_ip"], res.flows.flowsMax);
    res.flows.rollupInto(bySource);
    talkers = flowRows(bySource, ["src_ip"], limit, "bytes");
  }
  return {
    sourceId: null,
    storePath: null,
    task: "flows",
    groupBy: res.groupBy,
    windowSec: 0,
    windows: 0,
    totals: {
      frames: t.frames,
      bytes: t.wireBytes,
      capBytes: t.capBytes,
      ipv4Frames: t.ipv4Frames,
      ipv6Frames: t.ipv6Frames,
      nonIpFrames: t.nonIpFrames,
      latePackets: 0,
      firstTs: tsText(t.firstSec, t.firstNsec),
      lastTs: tsText(t.lastSec, t.lastNsec),
    },
    protocols,
    decodeErrors,
    flowCount: res.flows.size,
    overflowPackets: res.flows.overflowPackets,
    flows: flowRows(res.flows, res.groupBy, limit),
    talkers,
    flowRecords: [],
    sketches: null,
    app: null,
  };
}
