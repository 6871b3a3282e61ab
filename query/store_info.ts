/**
 * What the store holds, for `/sources` and `/status`: each source (a capture file by its
 * content identity, or a live interface) with its windows, packets and capture losses; the
 * store's size on disk and its oldest and newest windows.
 *
 * @module
 */

import { num, type QueryContext, type Row, select } from "./_sql.ts";

export async function querySources(ctx: QueryContext): Promise<Row[]> {
  return await select(
    ctx,
    `SELECT s.source_id, coalesce(s.kind, 'file') AS kind, s.inputs, s.sensor_id, s.window_sec,
       strftime(s.started_at, '%Y-%m-%dT%H:%M:%SZ') AS started_at,
       strftime(s.finished_at, '%Y-%m-%dT%H:%M:%SZ') AS finished_at,
       count(DISTINCT w.window_start) AS windows,
       strftime(min(w.window_start), '%Y-%m-%dT%H:%M:%SZ') AS first_window,
       strftime(max(w.window_start), '%Y-%m-%dT%H:%M:%SZ') AS last_window,
       coalesce(sum(w.packets), 0) AS packets, coalesce(sum(w.bytes), 0) AS bytes,
       coalesce(sum(w.late_packets), 0) AS late_packets,
       sum(w.capture_received) AS capture_received, sum(w.capture_dropped) AS capture_dropped,
       sum(w.capture_skipped) AS capture_skipped, sum(w.capture_if_dropped) AS capture_if_dropped,
       s.warnings
     FROM sources s LEFT JOIN window_totals w USING (source_no)
     GROUP BY s.source_no, s.source_id, s.kind, s.inputs, s.sensor_id, s.window_sec,
       s.started_at, s.finished_at, s.warnings
     ORDER BY s.started_at, s.source_id`,
    [],
  );
}

export interface StoreStatus {
  path: string;
  bytes: number;
  sources: number;
  windows: number;
  oldest_window: string | null;
  newest_window: string | null;
  window_sec: number | null;
  packets: number;
  capture_dropped: number;
  capture_if_dropped: number;
  late_packets: number;
}

export async function queryStoreStatus(ctx: QueryContext, path: string): Promise<StoreStatus> {
  const [w] = await select(
    ctx,
    `SELECT (SELECT count(*) FROM sources) AS sources, count(DISTINCT window_start) AS windows,
       strftime(min(window_start), '%Y-%m-%dT%H:%M:%SZ') AS oldest,
       strftime(max(window_start), '%Y-%m-%dT%H:%M:%SZ') AS newest,
       arg_max(window_sec, window_start) AS window_sec, coalesce(sum(packets), 0) AS packets,
       coalesce(sum(capture_dropped), 0) AS dropped,
       coalesce(sum(capture_if_dropped), 0) AS if_dropped,
       coalesce(sum(late_packets), 0) AS late
     FROM window_totals`,
    [],
  );
  const [size] = await select(
    ctx,
    "SELECT used_blocks * block_size AS bytes FROM pragma_database_size() WHERE database_name = current_database()",
    [],
  );
  return {
    path,
    bytes: num(size?.bytes),
    sources: num(w?.sources),
    windows: num(w?.windows),
    oldest_window: (w?.oldest as string | null) ?? null,
    newest_window: (w?.newest as string | null) ?? null,
    window_sec: w?.window_sec === null || w?.window_sec === undefined ? null : num(w.window_sec),
    packets: num(w?.packets),
    capture_dropped: num(w?.dropped),
    capture_if_dropped: num(w?.if_dropped),
    late_packets: num(w?.late),
  };
}
