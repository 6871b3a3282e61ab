/**
 * The wide rows of a window (window_flows, flow_records) from the window export's columns,
 * through data chunks (see _chunk.ts). Row writing yields to the event loop every
 * YIELD_ROWS rows, so intake on the same thread goes on while a large window is written.
 *
 * @module
 */

import {
  type DuckDBAppender,
  HUGEINT,
  INTEGER,
  TIMESTAMP,
  UBIGINT,
  UHUGEINT,
  UINTEGER,
  USMALLINT,
  UTINYINT,
} from "@duckdb/node-api";
import type { KeyColumns, RecordColumns, TableColumns } from "../collector/window_export.ts";
import { ChunkWriter } from "./_chunk.ts";

/** Column types of window_flows and flow_records, in table order (see schema.ts). */
const WINDOW_FLOW_TYPES = [
  UINTEGER,
  USMALLINT,
  TIMESTAMP,
  UTINYINT,
  UHUGEINT,
  UHUGEINT,
  USMALLINT,
  INTEGER,
  INTEGER,
  USMALLINT,
  UBIGINT,
  UBIGINT,
  HUGEINT,
  HUGEINT,
  USMALLINT,
];
const FLOW_RECORD_TYPES = [
  UINTEGER,
  HUGEINT,
  HUGEINT,
  UTINYINT,
  UHUGEINT,
  UHUGEINT,
  INTEGER,
  INTEGER,
  USMALLINT,
  USMALLINT,
  UBIGINT,
  UBIGINT,
  UBIGINT,
  UBIGINT,
  USMALLINT,
  UINTEGER,
  UINTEGER,
  UINTEGER,
  UINTEGER,
  UTINYINT,
  TIMESTAMP,
];

/** Rows written between two yields to the event loop (a few ms of work). */
export const YIELD_ROWS = 65536;

/** Lets other tasks of the event loop (intake) run. */
export function yieldNow(): Promise<void> {
  return new Promise((ok) => setTimeout(ok, 0));
}

/** A float64 counter (a whole number below 2^53) as UBIGINT: `>>> 0` takes it modulo 2^32. */
function u64Of(c: ChunkWriter, col: number, v: number): void {
  c.u64(col, v >>> 0, (v / 4294967296) >>> 0);
}

/** Key columns ip_version … vlan at columns `c0`…: of row r (ip_version, addrs, proto?). */
function keyCells(c: ChunkWriter, col: number, k: KeyColumns, r: number): void {
  const family = k.family[r]!;
  if (family !== 0) c.u8(col, family);
  else c.null(col);
  if (k.hasSrc && family !== 0) c.addr(col + 1, k.src, r * 4, family === 4);
  else c.null(col + 1);
  if (k.hasDst && family !== 0) c.addr(col + 2, k.dst, r * 4, family === 4);
  else c.null(col + 2);
}

/** The small-integer key columns proto, src_port, dst_port, vlan from `col` on (-1 = NULL). */
function smallKeyCells(c: ChunkWriter, col: number, k: KeyColumns, r: number): void {
  const proto = k.proto[r]!, sp = k.srcPort[r]!, dp = k.dstPort[r]!, vlan = k.vlan[r]!;
  if (proto < 0) c.null(col);
  else c.u16(col, proto);
  if (sp < 0) c.null(col + 1);
  else c.u32(col + 1, sp);
  if (dp < 0) c.null(col + 2);
  else c.u32(col + 2, dp);
  if (vlan < 0) c.null(col + 3);
  else c.u16(col + 3, vlan);
}

/** window_flows rows of one task. */
export async function writeFlowRows(
  a: DuckDBAppender,
  sourceNo: number,
  taskNo: number,
  startMicros: number,
  t: TableColumns,
): Promise<void> {
  const c = new ChunkWriter(a, WINDOW_FLOW_TYPES);
  // Window start as a 64-bit count of microseconds (exact below 2^53).
  const startLo = startMicros % 4294967296, startHi = Math.floor(startMicros / 4294967296);
  for (let r = 0; r < t.length; r++) {
    c.u32(0, sourceNo), c.u16(1, taskNo), c.u64(2, startLo, startHi);
    keyCells(c, 3, t, r);
    smallKeyCells(c, 6, t, r);
    u64Of(c, 10, t.packets[r]!), u64Of(c, 11, t.bytes[r]!);
    if (t.firstSec[r] !== t.firstSec[r]) c.null(12), c.null(13);
    else c.ns(12, t.firstSec[r]!, t.firstNsec[r]!), c.ns(13, t.lastSec[r]!, t.lastNsec[r]!);
    c.u16(14, t.tcpFlags[r]!);
    c.endRow();
    if ((r + 1) % YIELD_ROWS === 0) await yieldNow();
  }
  if (t.overflowPackets > 0) {
    // The "other" row: packets that found the table full, so the rows still add up to the
    // window's IP packets. ip_version 0 marks it (real keys have 4, 6 or NULL).
    c.u32(0, sourceNo), c.u16(1, taskNo), c.u64(2, startLo, startHi), c.u8(3, 0);
    for (let col = 4; col <= 9; col++) c.null(col);
    u64Of(c, 10, t.overflowPackets), u64Of(c, 11, t.overflowBytes);
    c.null(12), c.null(13), c.u16(14, 0);
    c.endRow();
  }
  c.flush();
}

/** flow_records rows (initiator first), committed with window `startMicros`. */
export async function writeRecordRows(
  a: DuckDBAppender,
  sourceNo: number,
  startMicros: number,
  recs: RecordColumns,
): Promise<void> {
  const c = new ChunkWriter(a, FLOW_RECORD_TYPES);
  const startLo = startMicros % 4294967296, startHi = Math.floor(startMicros / 4294967296);
  for (let r = 0; r < recs.length; r++) {
    c.u32(0, sourceNo);
    if (recs.startSec[r] === recs.startSec[r]) {
      c.ns(1, recs.startSec[r]!, recs.startNsec[r]!), c.ns(2, recs.endSec[r]!, recs.endNsec[r]!);
    } else c.null(1), c.null(2);
    keyCells(c, 3, recs, r);
    const sp = recs.srcPort[r]!, dp = recs.dstPort[r]!, vlan = recs.vlan[r]!;
    if (sp < 0) c.null(6);
    else c.u32(6, sp);
    if (dp < 0) c.null(7);
    else c.u32(7, dp);
    c.u16(8, recs.proto[r]!);
    if (vlan < 0) c.null(9);
    else c.u16(9, vlan);
    u64Of(c, 10, recs.packetsFwd[r]!), u64Of(c, 11, recs.bytesFwd[r]!);
    u64Of(c, 12, recs.packetsRev[r]!), u64Of(c, 13, recs.bytesRev[r]!);
    c.u16(14, recs.tcpFlags[r]!);
    c.u32(15, recs.syn[r]!), c.u32(16, recs.synAck[r]!);
    c.u32(17, recs.fin[r]!), c.u32(18, recs.rst[r]!);
    c.u8(19, recs.closeCode[r]!);
    c.u64(20, startLo, startHi);
    c.endRow();
    if ((r + 1) % YIELD_ROWS === 0) await yieldNow();
  }
  c.flush();
}
