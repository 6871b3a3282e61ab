/**
 * Retention: windows dropped by age (event time, before the newest stored window) and by the
 * file's used space; flow records go with the window they were committed with.
 *
 * @module
 */

import type { DuckDBValue } from "@duckdb/node-api";
import type { Db } from "./_db.ts";
import { rollCompleteHours, unrollHoursWhere } from "./_rollup.ts";

/** Tables with rows per window (retention drops them by window_start). */
export const WINDOW_TABLES = [
  "window_totals",
  "window_protocols",
  "window_decode_errors",
  "window_tasks",
  "window_flows",
  "window_sketches",
  "window_sketch_keys",
  "window_dns",
  "window_dns_rcodes",
  "window_http",
  "window_http_status",
  "window_http_agents",
];

/**
 * Retention: drops windows older than `maxAgeSec` before the newest one, then the oldest
 * windows until the file's used space is within `maxBytes`. Returns windows dropped.
 */
export async function applyRetention(
  db: Db,
  opts: { maxAgeSec?: number; maxBytes?: number },
): Promise<number> {
  let dropped = 0;
  if (opts.maxAgeSec !== undefined) {
    const r = await db.rows(
      "SELECT count(DISTINCT window_start) AS n FROM window_totals WHERE window_start < (SELECT max(window_start) FROM window_totals) - to_seconds($1::BIGINT)",
      [opts.maxAgeSec],
    );
    dropped += Number(r[0]!.n);
    await dropWindowsBefore(
      db,
      "(SELECT max(window_start) FROM window_totals) - to_seconds($1::BIGINT)",
      [opts.maxAgeSec],
    );
  }
  if (opts.maxBytes !== undefined) {
    for (let round = 0; round < 10_000 && await usedBytes(db) > opts.maxBytes; round++) {
      const oldest = await db.rows("SELECT min(window_start) AS w FROM window_totals");
      if (oldest[0]!.w === null) break;
      await dropWindowsBefore(
        db,
        "(SELECT min(window_start) FROM window_totals) + INTERVAL 1 MICROSECOND",
        [],
      );
      await db.serial(() => db.con.run("CHECKPOINT"));
      dropped++;
    }
  }
  // Hours retention cut are rolled up again from the windows left.
  if (dropped > 0) await rollCompleteHours(db);
  return dropped;
}

async function dropWindowsBefore(
  db: Db,
  boundSql: string,
  params: DuckDBValue[],
): Promise<void> {
  await db.transaction(async () => {
    const bound = await db.query(`SELECT ${boundSql} AS b`, params);
    const b = bound[0]!.b;
    if (b === null || b === undefined) return;
    await unrollHoursWhere(db, "window_start < $1", [b]);
    for (const t of WINDOW_TABLES) {
      await db.con.run(`DELETE FROM ${t} WHERE window_start < $1`, [b]);
    }
    // Records go with the window they were committed with (older stores: by end time).
    await db.con.run(
      "DELETE FROM flow_records WHERE coalesce(window_start < $1, end_ns < epoch_ns($1::TIMESTAMP)::HUGEINT)",
      [b],
    );
    // What was sent of them is history now; what waits keeps its payload (the rows to send)
    // and is sent still: retention never loses a window a sink has not got.
    await db.con.run("DELETE FROM export_outbox WHERE state = 'sent' AND window_start < $1", [b]);
  });
}

/** Bytes of the file's blocks in use. */
export async function usedBytes(
  db: Db,
): Promise<number> {
  const r = await db.rows(
    "SELECT block_size, total_blocks, free_blocks FROM pragma_database_size()",
  );
  const x = r[0]!;
  return Number(x.block_size) * (Number(x.total_blocks) - Number(x.free_blocks));
}
