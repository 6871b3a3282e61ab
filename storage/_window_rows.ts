/**
 * The wide rows of a window (window_flows, flow_records) straight from the window export's
 * fixed-width rows (layouts in collector/window_export.ts), through data chunks (_chunk.ts). Row writing yields to the event loop every
 * YIELD_ROWS rows, so intake on the same thread goes on while a large window is written.
 *
 * @module
 */

import { setImmediate } from "node:timers";
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
import {
  KEY,
  RECORD_ROW,
  type RecordRows,
  TABLE_ROW,
  type TableRows,
} from "../collector/export/mod.ts";
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

/** Rows written between two yields to the event loop (about 5 ms of work: intake goes on). */
export const YIELD_ROWS = 8192;

/**
 * Lets other tasks of the event loop (intake) run. setImmediate, not setTimeout(0): nested
 * timers are held back 4 ms each, which a million-row window would spend ~1 s sleeping.
 */
export function yieldNow(): Promise<void> {
  return new Promise((ok) => setImmediate(ok));
}

/**
 * A pause between pieces of a large window: the rows so far go into DuckDB now (the client's
 * appender flush is synchronous, and one flush of a million rows holds the thread for a few
 * hundred ms), then intake gets the thread.
 */
async function pause(c: ChunkWriter, a: DuckDBAppender): Promise<void> {
  c.flush();
  a.flushSync();
  await yieldNow();
}

/** A float64 counter (a whole number below 2^53) as UBIGINT: `>>> 0` takes it modulo 2^32. */
function u64Of(c: ChunkWriter, col: number, v: number): void {
  c.u64(col, v >>> 0, (v / 4294967296) >>> 0);
}

/** window_flows rows of one task, straight from its rows (TABLE_ROW), then the other row. */
export async function writeFlowRows(
  a: DuckDBAppender,
  sourceNo: number,
  taskNo: number,
  startMicros: number,
  rows: TableRows,
): Promise<void> {
  const c = new ChunkWriter(a, WINDOW_FLOW_TYPES);
  const t = rows.words, m = rows.mask, E = TABLE_ROW, K = KEY;
  // Window start as a 64-bit count of microseconds (exact below 2^53).
  const startLo = startMicros >>> 0, startHi = (startMicros / 4294967296) >>> 0;
  for (let e = 0; e < rows.length; e++) {
    const o = e * E.WORDS;
    const meta = t[o + K.META]!;
    const family = (meta >>> 8) & 7;
    c.u32(0, sourceNo), c.u16(1, taskNo), c.u64(2, startLo, startHi);
    if (family !== 0) c.u8(3, family);
    else c.null(3);
    if (m.srcIp && family !== 0) c.addr(4, t, o + K.SRC, family === 4);
    else c.null(4);
    if (m.dstIp && family !== 0) c.addr(5, t, o + K.DST, family === 4);
    else c.null(5);
    if (m.proto) c.u16(6, meta & 0xff);
    else c.null(6);
    const ports = t[o + K.PORTS]! >>> 0;
    const hasPorts = (meta & K.META_PORTS_PRESENT) !== 0;
    if (hasPorts && m.srcPort) c.u32(7, ports >>> 16);
    else c.null(7);
    if (hasPorts && m.dstPort) c.u32(8, ports & 0xffff);
    else c.null(8);
    if ((meta & K.META_VLAN_PRESENT) !== 0) c.u16(9, (meta >>> 16) & 0xfff);
    else c.null(9);
    c.u64(10, t[o + E.PKTS_LO]! >>> 0, t[o + E.PKTS_HI]! >>> 0);
    c.u64(11, t[o + E.BYTES_LO]! >>> 0, t[o + E.BYTES_HI]! >>> 0);
    if (t[o + E.FIRST_NSEC] === E.NO_TIME) c.null(12), c.null(13);
    else {
      const hi = t[o + E.SEC_HI]!;
      c.ns(12, (hi & 0xffff) * 4294967296 + (t[o + E.FIRST_SEC]! >>> 0), t[o + E.FIRST_NSEC]!);
      c.ns(13, (hi >>> 16) * 4294967296 + (t[o + E.LAST_SEC]! >>> 0), t[o + E.LAST_NSEC]!);
    }
    c.u16(14, t[o + E.TCP_FLAGS]!);
    c.endRow();
    if ((e + 1) % YIELD_ROWS === 0) await pause(c, a);
  }
  if (rows.overflowPackets > 0) {
    // The "other" row: packets that found the table full, so the rows still add up to the
    // window's IP packets. ip_version 0 marks it (real keys have 4, 6 or NULL).
    c.u32(0, sourceNo), c.u16(1, taskNo), c.u64(2, startLo, startHi), c.u8(3, 0);
    for (let col = 4; col <= 9; col++) c.null(col);
    u64Of(c, 10, rows.overflowPackets), u64Of(c, 11, rows.overflowBytes);
    c.null(12), c.null(13), c.u16(14, 0);
    c.endRow();
  }
  c.flush();
}

/** flow_records rows (initiator first) from RECORD_ROW records, committed with a window. */
export async function writeRecordRows(
  a: DuckDBAppender,
  sourceNo: number,
  startMicros: number,
  recs: RecordRows,
): Promise<void> {
  const c = new ChunkWriter(a, FLOW_RECORD_TYPES);
  const R = RECORD_ROW, K = KEY;
  const w = recs.words, dbl = new Float64Array(w.buffer, w.byteOffset, w.length >>> 1);
  const startLo = startMicros >>> 0, startHi = (startMicros / 4294967296) >>> 0;
  for (let r = 0; r < recs.length; r++) {
    const o = r * R.WORDS, d = o / 2;
    const bInit = (w[o + R.STATE]! & R.STATE_INITIATOR_B) !== 0;
    const meta = w[o + K.META]!;
    const v4 = ((meta >>> 8) & 7) === 4;
    c.u32(0, sourceNo);
    const startSec = w[o + R.START_SEC]! >>> 0, endSec = w[o + R.LAST_SEC]! >>> 0;
    if (startSec !== 0 || endSec !== 0) {
      c.ns(1, startSec, w[o + R.START_NSEC]!), c.ns(2, endSec, w[o + R.LAST_NSEC]!);
    } else c.null(1), c.null(2);
    c.u8(3, v4 ? 4 : 6);
    const a0 = bInit ? o + K.DST : o + K.SRC, b0 = bInit ? o + K.SRC : o + K.DST;
    c.addr(4, w, a0, v4), c.addr(5, w, b0, v4);
    if ((meta & K.META_PORTS_PRESENT) !== 0) {
      const ports = w[o + K.PORTS]! >>> 0;
      const pa = ports >>> 16, pb = ports & 0xffff;
      c.u32(6, bInit ? pb : pa), c.u32(7, bInit ? pa : pb);
    } else c.null(6), c.null(7);
    c.u16(8, meta & 0xff);
    if ((meta & K.META_VLAN_PRESENT) !== 0) c.u16(9, (meta >>> 16) & 0xfff);
    else c.null(9);
    const ab = bInit ? 1 : 0; // forward = initiator → responder
    u64Of(c, 10, dbl[d + R.D_PKTS_AB + ab]!), u64Of(c, 11, dbl[d + R.D_BYTES_AB + ab]!);
    u64Of(c, 12, dbl[d + R.D_PKTS_BA - ab]!), u64Of(c, 13, dbl[d + R.D_BYTES_BA - ab]!);
    c.u16(14, w[o + R.FLAGS]!);
    c.u32(15, w[o + R.SYN]!), c.u32(16, w[o + R.SYNACK]!);
    c.u32(17, w[o + R.FIN]!), c.u32(18, w[o + R.RST]!);
    c.u8(19, w[o + R.REASON]!);
    c.u64(20, startLo, startHi);
    c.endRow();
    if ((r + 1) % YIELD_ROWS === 0) await pause(c, a);
  }
  c.flush();
}
