/**
 * Connection records (`flow_records`) for the API: filtered by the records' fields (key
 * fields, close reason, duration, packets, bytes) over a time range of the windows they were
 * committed with, newest first, a page at a time. The cursor is the last row's place in that
 * order (its end time and row id), so a page never repeats or skips a row because newer records
 * arrived in between.
 *
 * @module
 */

import { UserError } from "../collector/user_error.ts";
import { parseFilter, RECORD_FIELDS } from "./filter.ts";
import { filterSql, SqlParams } from "./filter_sql.ts";
import { type QueryContext, type Row, select } from "./_sql.ts";
import { iso, resolveRange } from "./_time.ts";
import { storeFacts } from "./_tasks.ts";

export const RECORDS_LIMIT_MAX = 10_000;

export interface RecordsQuestion {
  from?: string;
  to?: string;
  filter?: string;
  limit: number;
  cursor?: string;
}

export interface RecordsAnswer {
  range: { from: string; to: string };
  rows: Row[];
  /** Give it as `cursor` for the next page; null when this page is the last. */
  next_cursor: string | null;
  took_ms: number;
}

function parseCursor(text: string): [string, string] {
  const m = /^(-?\d{1,40})_(\d{1,20})$/.exec(text);
  if (m === null) throw new UserError(`"cursor" is not one this API gave: "${text.slice(0, 80)}"`);
  return [m[1]!, m[2]!];
}

export async function queryRecords(ctx: QueryContext, q: RecordsQuestion): Promise<RecordsAnswer> {
  const t0 = performance.now();
  const filter = parseFilter(q.filter ?? "", RECORD_FIELDS);
  const facts = await storeFacts(ctx);
  const range = resolveRange(q.from, q.to, facts.anchorSec);
  const p = new SqlParams();
  const where = [
    p.within("r.window_start", range),
    filterSql(filter, p, "r"),
  ];
  if (q.cursor !== undefined) {
    const [end, row] = parseCursor(q.cursor);
    const e = p.add(end), id = p.add(row);
    where.push(
      `(r.end_ns < ${e}::HUGEINT OR (r.end_ns = ${e}::HUGEINT AND r.rowid < ${id}::BIGINT))`,
    );
  }
  const rows = await select(
    ctx,
    `SELECT r.rowid AS _row, s.source_id, r.start_ns::VARCHAR AS start_ns,
       r.end_ns::VARCHAR AS end_ns, round((r.end_ns - r.start_ns) / 1e9, 6) AS duration_sec,
       ip_text(r.src_addr, r.ip_version) AS src_ip, r.src_port,
       ip_text(r.dst_addr, r.ip_version) AS dst_ip, r.dst_port, r.proto, r.vlan,
       r.packets_fwd, r.bytes_fwd, r.packets_rev, r.bytes_rev, r.tcp_flags,
       close_reason(r.close_code) AS close_reason
     FROM flow_records r JOIN sources s USING (source_no)
     WHERE ${where.join(" AND ")}
     ORDER BY r.end_ns DESC, r.rowid DESC
     LIMIT ${p.add(q.limit + 1)}`,
    p.values,
  );
  const more = rows.length > q.limit;
  if (more) rows.pop();
  const last = rows[rows.length - 1];
  const next = more && last !== undefined ? `${last.end_ns}_${last._row}` : null;
  for (const r of rows) delete r._row;
  return {
    range: { from: iso(range.fromSec), to: iso(range.toSec) },
    rows,
    next_cursor: next,
    took_ms: Math.round((performance.now() - t0) * 10) / 10,
  };
}
