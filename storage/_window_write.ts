/**
 * One closed window into the store: every table's rows in one transaction, behind every write
 * before it.
 *
 * @module
 */

import { DuckDBTimestampValue } from "@duckdb/node-api";
import type { WindowExport } from "../collector/export/mod.ts";
import type { Db } from "./_db.ts";
import { rollCompleteHours, ROLLUP_SEC, unrollHourOf } from "./_rollup.ts";
import { appendSketches, appendSketchKeys } from "./_sketch_rows.ts";
import {
  appendAppErrors,
  appendDns,
  appendDnsRcodes,
  appendHttp,
  appendHttpAgents,
  appendHttpStatus,
} from "./_app_rows.ts";
import { writeFlowRows, writeRecordRows } from "./_window_rows.ts";
import { enqueueWindow } from "./_outbox.ts";

const NS = 1_000_000_000n;
/**
 * DuckDB TIMESTAMPs end in the year 294246; captures with nonsense times beyond (tshark shows
 * them as is) are stored in this last window. Packet times keep full range (HUGEINT ns).
 */
const WINDOW_START_MAX_SEC = 9_000_000_000_000;

function nsOf(sec: number, nsec: number): bigint {
  return BigInt(sec) * NS + BigInt(nsec);
}

/**
 * Writes one closed window — totals, protocols, decode errors, DNS/HTTP, every task's rows,
 * sketches and the flow records that ended with it — in one transaction, behind every
 * earlier write. Task k of `w.tasks` is the source's task_no k.
 */
export async function writeWindow(db: Db, sourceNo: number, w: WindowExport): Promise<void> {
  await db.transaction(() => appendWindow(db, sourceNo, w));
  db.committed();
  // The first window of a later hour: the hours before it can be rolled up (_rollup.ts).
  const hour = Math.floor(w.id.startSec / ROLLUP_SEC);
  if (hour > db.newestHour) {
    db.newestHour = hour;
    await rollCompleteHours(db);
  }
}

async function appendWindow(
  db: Db,
  sourceNo: number,
  w: WindowExport,
): Promise<void> {
  const startSec = Math.min(w.id.startSec, WINDOW_START_MAX_SEC);
  const startMicros = startSec * 1e6;
  const start = new DuckDBTimestampValue(BigInt(startSec) * 1_000_000n);
  const t = w.totals;
  await unrollHourOf(db, startMicros);
  const [seq] = await db.query(
    "UPDATE settings SET value = (value::UBIGINT + 1)::VARCHAR WHERE key = 'commit_seq' RETURNING value::UBIGINT AS s",
  );
  await db.append("window_totals", (a) => {
    a.appendUInteger(sourceNo);
    a.appendTimestamp(start);
    a.appendInteger(w.id.windowSec);
    for (
      const v of [t.packets, t.bytes, t.capBytes, t.ipv4Packets, t.ipv6Packets, t.nonIpPackets]
    ) {
      a.appendUBigInt(BigInt(v));
    }
    if (t.firstSec === t.firstSec) {
      a.appendHugeInt(nsOf(t.firstSec, t.firstNsec));
      a.appendHugeInt(nsOf(t.lastSec, t.lastNsec));
    } else a.appendNull(), a.appendNull();
    a.appendUBigInt(BigInt(t.latePackets)), a.appendUBigInt(BigInt(t.lateBytes));
    a.appendUBigInt(BigInt(w.trackerOverflowPackets));
    a.appendUSmallInt(w.id.part);
    const c = w.capture;
    if (c === null) a.appendNull(), a.appendNull(), a.appendNull(), a.appendNull();
    else {
      for (const v of [c.received, c.dropped, c.skipped, c.ifDropped]) a.appendUBigInt(BigInt(v));
    }
    a.appendUBigInt(BigInt(seq!.s as bigint));
    a.endRow();
  });
  await enqueueWindow(db, sourceNo, startMicros, seq!.s as bigint, w);
  await db.append("window_protocols", (a) => {
    for (let p = 0; p < 256; p++) {
      if (t.protoPackets[p] === 0) continue;
      a.appendUInteger(sourceNo), a.appendTimestamp(start), a.appendUSmallInt(p);
      a.appendUBigInt(BigInt(t.protoPackets[p]!)), a.appendUBigInt(BigInt(t.protoBytes[p]!));
      a.endRow();
    }
  });
  await db.append("window_decode_errors", (a) => {
    for (const [reason, n] of t.decodeErrors) {
      a.appendUInteger(sourceNo), a.appendTimestamp(start), a.appendVarchar(reason);
      a.appendUBigInt(BigInt(n));
      a.endRow();
    }
    if (w.app !== null) appendAppErrors(a, sourceNo, start, w.app);
  });
  const app = w.app;
  if (app !== null) {
    await db.appendAsync("window_dns", (a) => appendDns(a, sourceNo, start, app));
    await db.append("window_dns_rcodes", (a) => appendDnsRcodes(a, sourceNo, start, app));
    await db.appendAsync("window_http", (a) => appendHttp(a, sourceNo, start, app));
    await db.append("window_http_status", (a) => appendHttpStatus(a, sourceNo, start, app));
    await db.appendAsync(
      "window_http_agents",
      (a) => appendHttpAgents(a, sourceNo, start, app),
    );
  }
  await db.append("window_tasks", (a) => {
    for (let k = 0; k < w.tasks.length; k++) {
      const rows = w.tasks[k]!.rows;
      a.appendUInteger(sourceNo), a.appendUSmallInt(k), a.appendTimestamp(start);
      a.appendUBigInt(BigInt(rows.length)), a.appendUBigInt(BigInt(rows.overflowPackets));
      a.appendUBigInt(BigInt(rows.overflowBytes));
      a.endRow();
    }
  });
  for (let k = 0; k < w.tasks.length; k++) {
    const rows = w.tasks[k]!.rows;
    await db.appendAsync(
      "window_flows",
      (a) => writeFlowRows(a, sourceNo, k, startMicros, rows),
    );
  }
  if (w.sketches.length > 0) {
    const n = w.tasks.length;
    await db.append(
      "window_sketches",
      (a) => appendSketches(a, sourceNo, n, start, w.sketches),
    );
    await db.append(
      "window_sketch_keys",
      (a) => appendSketchKeys(a, sourceNo, n, start, w.sketches),
    );
  }
  if (w.records.length > 0) {
    await db.appendAsync(
      "flow_records",
      (a) => writeRecordRows(a, sourceNo, startMicros, w.records),
    );
  }
}
