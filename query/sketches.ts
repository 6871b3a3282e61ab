/**
 * Sketch results over a time range, for `/api/v1/sketches`: heavy hitters summed over the
 * windows (beside the exact counts when an exact task keeps their key), distinct counts from
 * HyperLogLogs merged over the windows with their standard error, and super-spreaders and
 * port scanners from spread sketches merged over the windows (storage/sketch_summary.ts, the
 * same code as the report's, given the range).
 *
 * @module
 */

import type { KeyField } from "../collector/packet/mod.ts";
import type { SketchesSummary, Store } from "../storage/mod.ts";
import { type QueryContext, select } from "./_sql.ts";
import { iso, resolveRange } from "./_time.ts";
import { storeFacts } from "./_tasks.ts";
import { SqlParams } from "./filter_sql.ts";

export interface SketchAnswer {
  range: { from: string; to: string };
  heavy_hitters: SketchesSummary["heavyHitters"];
  distinct: (SketchesSummary["distinct"][number] & { standard_error: number })[];
  spread: SketchesSummary["spread"];
  count_min: SketchesSummary["countMin"];
}

export async function querySketches(
  ctx: QueryContext,
  store: Store,
  q: { from?: string; to?: string; limit: number },
): Promise<SketchAnswer> {
  const range = resolveRange(q.from, q.to, (await storeFacts(ctx)).anchorSec);
  const p = new SqlParams();
  const sources = await select(
    ctx,
    `SELECT DISTINCT source_no FROM window_totals WHERE ${
      p.within("window_start", range)
    } ORDER BY 1`,
    p.values,
  );
  const out: SketchAnswer = {
    range: { from: iso(range.fromSec), to: iso(range.toSec) },
    heavy_hitters: [],
    distinct: [],
    spread: [],
    count_min: [],
  };
  if (sources.length === 0) return out;
  const list = sources.map((r) => String(r.source_no)).join(",");
  const [exact] = await select(
    ctx,
    `SELECT name, task_no, key FROM tasks WHERE kind = 'exact'
       AND source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER)
     ORDER BY task_no LIMIT 1`,
    [list],
  );
  // Loaded on use: the CLI's commands import the API's modules and must not load DuckDB's
  // native module before they know it is allowed (a missing --allow-ffi is one line).
  const { summarizeSketches } = await import("../storage/mod.ts");
  const s = await summarizeSketches(
    store,
    list,
    exact === undefined ? null : {
      name: String(exact.name),
      taskNo: Number(exact.task_no),
      key: String(exact.key).split(",").filter((f) => f !== "") as KeyField[],
    },
    q.limit,
    range,
  );
  out.heavy_hitters = s.heavyHitters;
  // HyperLogLog's relative standard error: 1.04 / sqrt(registers), registers = 2^precision.
  out.distinct = s.distinct.map((d) => ({
    ...d,
    standard_error: 1.04 / Math.sqrt(2 ** d.precision),
  }));
  out.spread = s.spread;
  out.count_min = s.countMin;
  return out;
}
