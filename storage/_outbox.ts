/**
 * The export outbox: the spool every forwarder sends from (issue 15). While sinks are named
 * (`export_sinks`), each window's transaction also writes the window's rows as they will be
 * sent (`export_payloads`, one per table: storage/_export_rows.ts) and one `export_outbox`
 * entry per sink — so a committed window is either stored and queued for every sink, or
 * neither, whatever kills the process. A forwarder takes its sink's entries in commit order,
 * marks one `sending` (with its attempt counted) before it sends, and `sent` once the sink
 * holds it; an entry found `sending` was interrupted with its outcome unknown. A payload goes
 * once every sink has its entry sent.
 *
 * A file's windows wait until the file is finished: their identity is its content.
 *
 * @module
 */

import { DuckDBBlobValue, type DuckDBListValue, listValue } from "@duckdb/node-api";
import type { WindowExport } from "../collector/export/mod.ts";
import type { Db } from "./_db.ts";
import { exportPayloads, type ExportTable } from "./_export_rows.ts";

export type ExportState = "pending" | "sending" | "sent";

/** One window waiting for a sink, with what its batches need. */
export interface OutboxEntry {
  sink: string;
  commitSeq: number;
  sensor: string;
  source: string;
  startSec: number;
  windowSec: number;
  part: number;
  state: ExportState;
  attempts: number;
  rows: number;
  checksum: string;
  /** When its window was committed (epoch seconds). */
  createdSec: number;
  /** Its payloads' sizes, per table with rows (what a batch's limits count). */
  sizes: PayloadSize[];
}

export interface PayloadSize {
  table: ExportTable;
  rows: number;
  bytes: number;
}

export interface OutboxPayload {
  table: ExportTable;
  rows: number;
  body: Uint8Array;
}

/**
 * Names the sinks this process forwards to: windows it writes from now on are queued for
 * them (a process that forwards nothing queues nothing; what others queued stays queued).
 */
export async function nameSinks(db: Db, sinks: readonly string[]): Promise<void> {
  await db.transaction(async () => {
    await db.con.run("DELETE FROM export_sinks");
    for (const s of sinks) {
      await db.con.run("INSERT INTO export_sinks VALUES ($1, make_timestamp(epoch_us(now())))", [
        s,
      ]);
    }
  });
  db.sinks = [...sinks];
}

/** Inside a window's transaction: its payloads and an entry per named sink. */
export async function enqueueWindow(
  db: Db,
  sourceNo: number,
  startMicros: number,
  seq: bigint,
  w: WindowExport,
): Promise<void> {
  if (db.sinks.length === 0) return;
  const names = w.sketches.length === 0 ? [] : (await db.query(
    "SELECT name FROM tasks WHERE source_no = $1 AND task_no >= $2 ORDER BY task_no",
    [sourceNo, w.tasks.length],
  )).map((r) => String(r.name));
  const payloads = exportPayloads(w, names);
  const hash = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-256",
      concat(payloads.map((p) => p.body)),
    ),
  );
  const checksum = [...hash.subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
  let rows = 0;
  for (const p of payloads) {
    rows += p.rows;
    await db.con.run("INSERT INTO export_payloads VALUES ($1, $2, $3, $4, $5)", [
      seq,
      p.table,
      p.rows,
      new DuckDBBlobValue(p.body),
      p.body.length,
    ]);
  }
  for (const sink of db.sinks) {
    await db.con.run(
      `INSERT INTO export_outbox VALUES ($1, $2, $3, make_timestamp($4::BIGINT), $5, 'pending',
         0, NULL, $6, $7, make_timestamp(epoch_us(now())), NULL)`,
      [sink, seq, sourceNo, startMicros, w.id.part, rows, checksum],
    );
  }
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.length;
  return out;
}

/** Inside a source's removal: what it had not sent goes with it. */
export async function dropSourceExports(db: Db, sourceNo: number): Promise<void> {
  await db.con.run(
    `DELETE FROM export_payloads WHERE commit_seq IN
       (SELECT commit_seq FROM export_outbox WHERE source_no = $1 AND state <> 'sent')`,
    [sourceNo],
  );
  await db.con.run("DELETE FROM export_outbox WHERE source_no = $1 AND state <> 'sent'", [
    sourceNo,
  ]);
}

/**
 * A sink's next unsent windows in commit order (a file's only once it is finished), each with
 * its payloads' sizes.
 */
export async function nextExports(db: Db, sink: string, limit: number): Promise<OutboxEntry[]> {
  const r = await db.rows(
    `SELECT o.commit_seq, s.sensor_id, s.source_id, epoch(o.window_start)::BIGINT AS start,
       s.window_sec, o.part, o.state, o.attempts, o.rows, o.checksum,
       epoch(o.created_at) AS created,
       (SELECT coalesce(list(p.tbl || ' ' || p.rows || ' ' || p.bytes
          ORDER BY p.tbl), [])
        FROM export_payloads p WHERE p.commit_seq = o.commit_seq AND p.rows > 0) AS sizes
     FROM export_outbox o JOIN sources s USING (source_no)
     WHERE o.sink = $1 AND o.state <> 'sent' AND s.finished_at IS NOT NULL
     ORDER BY o.commit_seq LIMIT $2`,
    [sink, limit],
  );
  return r.map((x) => ({
    sink,
    commitSeq: Number(x.commit_seq),
    sensor: String(x.sensor_id ?? ""),
    source: String(x.source_id),
    startSec: Number(x.start),
    windowSec: Number(x.window_sec),
    part: Number(x.part),
    state: String(x.state) as ExportState,
    attempts: Number(x.attempts),
    rows: Number(x.rows),
    checksum: String(x.checksum),
    createdSec: Number(x.created),
    sizes: (x.sizes as DuckDBListValue).items.map((t) => {
      const [table, rows, bytes] = String(t).split(" ");
      return { table: table as ExportTable, rows: Number(rows), bytes: Number(bytes) };
    }),
  }));
}

/** The payloads of these windows, per commit sequence number. */
export async function exportPayloadsOf(
  db: Db,
  commitSeqs: readonly number[],
): Promise<Map<number, OutboxPayload[]>> {
  const out = new Map<number, OutboxPayload[]>(commitSeqs.map((c) => [c, []]));
  if (commitSeqs.length === 0) return out;
  const r = await db.rows(
    `SELECT commit_seq, tbl, rows, body FROM export_payloads
     WHERE commit_seq IN (SELECT unnest($1::BIGINT[])) ORDER BY commit_seq, tbl`,
    [listValue(commitSeqs.map(BigInt))],
  );
  for (const x of r) {
    out.get(Number(x.commit_seq))?.push({
      table: String(x.tbl) as ExportTable,
      rows: Number(x.rows),
      body: (x.body as DuckDBBlobValue).bytes,
    });
  }
  return out;
}

/** Before a send: the entries are `sending`, their attempts counted (committed first). */
export async function markSending(db: Db, es: readonly OutboxEntry[]): Promise<void> {
  await db.transaction(() =>
    db.con.run(
      `UPDATE export_outbox SET state = 'sending', attempts = attempts + 1
       WHERE sink = $1 AND commit_seq IN (SELECT unnest($2::BIGINT[]))`,
      seqArgs(es),
    )
  );
}

/** The sink holds the windows: sent; a payload goes once no sink waits for it. */
export async function markSent(db: Db, es: readonly OutboxEntry[]): Promise<void> {
  await db.transaction(async () => {
    await db.con.run(
      `UPDATE export_outbox SET state = 'sent', sent_at = make_timestamp(epoch_us(now())), last_error = NULL
       WHERE sink = $1 AND commit_seq IN (SELECT unnest($2::BIGINT[]))`,
      seqArgs(es),
    );
    await db.con.run(
      `DELETE FROM export_payloads p WHERE p.commit_seq IN (SELECT unnest($1::BIGINT[]))
       AND NOT EXISTS (SELECT 1 FROM export_outbox o
         WHERE o.commit_seq = p.commit_seq AND o.state <> 'sent')`,
      [seqArgs(es)[1]],
    );
  });
}

/** A failed attempt: its error kept for `export status` (the entries stay where they were). */
export async function markFailed(db: Db, es: readonly OutboxEntry[], error: string): Promise<void> {
  await db.transaction(() =>
    db.con.run(
      `UPDATE export_outbox SET last_error = $3
       WHERE sink = $1 AND commit_seq IN (SELECT unnest($2::BIGINT[]))`,
      [...seqArgs(es), error.slice(0, 2000)],
    )
  );
}

/** The sink and the commit sequence numbers of entries, as bound values. */
function seqArgs(es: readonly OutboxEntry[]): [string, DuckDBListValue] {
  return [es[0]?.sink ?? "", listValue(es.map((e) => BigInt(e.commitSeq)))];
}

export interface SinkBacklog {
  sink: string;
  pending: number;
  sent: number;
  rows: number;
  /** Commit time of the oldest unsent window (epoch seconds), or null. */
  oldestSec: number | null;
  /** Bytes of the rows waiting for the sink (the disk the outbox holds for it). */
  bytes: number;
  lastError: string | null;
}

/** Per sink: windows waiting (a cheap question, asked often while waiting for a drain). */
export async function exportPending(db: Db): Promise<Map<string, number>> {
  const r = await db.rows(
    "SELECT sink, count(*) AS n FROM export_outbox WHERE state <> 'sent' GROUP BY sink",
  );
  return new Map(r.map((x) => [String(x.sink), Number(x.n)]));
}

/** Per sink: windows waiting and sent, the oldest waiting, the latest error. */
export async function exportBacklog(db: Db): Promise<SinkBacklog[]> {
  const r = await db.rows(
    `SELECT sink, count(*) FILTER (WHERE state <> 'sent') AS pending,
       count(*) FILTER (WHERE state = 'sent') AS sent,
       coalesce(sum(rows) FILTER (WHERE state <> 'sent'), 0) AS rows,
       epoch(min(created_at) FILTER (WHERE state <> 'sent')) AS oldest,
       arg_max(last_error, commit_seq) FILTER (WHERE state <> 'sent' AND last_error IS NOT NULL)
         AS last_error,
       (SELECT coalesce(sum(p.bytes), 0) FROM export_payloads p
         WHERE p.commit_seq IN (SELECT w.commit_seq FROM export_outbox w
           WHERE w.sink = o.sink AND w.state <> 'sent')) AS bytes
     FROM export_outbox o GROUP BY sink ORDER BY sink`,
  );
  return r.map((x) => ({
    sink: String(x.sink),
    pending: Number(x.pending),
    sent: Number(x.sent),
    rows: Number(x.rows),
    oldestSec: x.oldest === null ? null : Number(x.oldest),
    lastError: x.last_error === null ? null : String(x.last_error),
    bytes: Number(x.bytes),
  }));
}
