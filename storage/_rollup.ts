/**
 * Hourly rollups of the exact tables (`rollup_flows_hour`): every key's packets and bytes per
 * source, task and hour, so a question over a day reads 24 hours of rows instead of 1,440
 * windows of them. One rule keeps them exact: an hour listed in `rollup_hours` has every
 * `window_flows` row of that hour summed in the rollup. So an hour is rolled up whole, once
 * the store has a window of a later hour, in one transaction; and whatever adds or removes
 * window rows of a rolled hour — a late part, a source replaced or abandoned, retention —
 * first takes that hour's rollup away (it is rolled up again at the next hour's first
 * window). Queries (query/flows.ts) use the rollup for the whole hours of a range that are
 * rolled up, and the windows for the rest.
 *
 * @module
 */

import type { DuckDBValue } from "@duckdb/node-api";
import type { Db } from "./_db.ts";

export const ROLLUP_SEC = 3600;

const KEY = "ip_version, src_addr, dst_addr, proto, src_port, dst_port, vlan";

/**
 * Inside a write's transaction: the hours of window_totals rows matching `where` lose their
 * rollup (their rows are about to change).
 */
export async function unrollHoursWhere(
  db: Db,
  where: string,
  params: DuckDBValue[],
): Promise<void> {
  const hours =
    `SELECT DISTINCT date_trunc('hour', window_start) FROM window_totals WHERE ${where}`;
  await db.con.run(`DELETE FROM rollup_flows_hour WHERE hour_start IN (${hours})`, params);
  await db.con.run(`DELETE FROM rollup_hours WHERE hour_start IN (${hours})`, params);
}

/** Inside a window's transaction: its hour, if rolled up, loses its rollup. */
export async function unrollHourOf(db: Db, startMicros: number): Promise<void> {
  const h = "date_trunc('hour', make_timestamp($1::BIGINT))";
  const [marked] = await db.query(
    `SELECT count(*) AS n FROM rollup_hours WHERE hour_start = ${h}`,
    [
      startMicros,
    ],
  );
  if (Number(marked!.n) === 0) return;
  await db.con.run(`DELETE FROM rollup_flows_hour WHERE hour_start = ${h}`, [startMicros]);
  await db.con.run(`DELETE FROM rollup_hours WHERE hour_start = ${h}`, [startMicros]);
}

/**
 * Rolls up every hour before the newest window's hour that has windows and no rollup, each
 * in a transaction of its own behind the writes before it. Returns the hours rolled up.
 */
export async function rollCompleteHours(db: Db): Promise<number> {
  const todo = await db.rows(
    `SELECT DISTINCT date_trunc('hour', window_start) AS h FROM window_totals
     WHERE window_start < (SELECT date_trunc('hour', max(window_start)) FROM window_totals)
       AND date_trunc('hour', window_start) NOT IN (SELECT hour_start FROM rollup_hours)
     ORDER BY h`,
  );
  for (const { h } of todo) {
    await db.transaction(async () => {
      await db.con.run(
        `INSERT INTO rollup_flows_hour
         SELECT source_no, task_no, $1::TIMESTAMP, ${KEY}, sum(packets), sum(bytes)
         FROM window_flows
         WHERE window_start >= $1::TIMESTAMP AND window_start < $1::TIMESTAMP + INTERVAL 1 HOUR
         GROUP BY source_no, task_no, ${KEY}`,
        [h as DuckDBValue],
      );
      await db.con.run("INSERT INTO rollup_hours VALUES ($1::TIMESTAMP)", [h as DuckDBValue]);
    });
  }
  return todo.length;
}
