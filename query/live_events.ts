/**
 * The live stream's `window` events, read from the store: each committed window part in
 * commit order (`window_totals.commit_seq`) with its identity, totals, accounting and top
 * talkers. Live events and the ones a reconnecting client missed are made by this one query,
 * so a resumed stream carries exactly what the live one did.
 *
 * @module
 */

import { num, type QueryContext, type Row, select } from "./_sql.ts";
import { iso } from "./_time.ts";

export interface WindowEvent {
  seq: number;
  sensor: string;
  source: string;
  window_start: string;
  window_sec: number;
  part: number;
  packets: number;
  bytes: number;
  late_packets: number;
  /** The kernel's counts for the window (live sources), else null. */
  capture: { received: number; dropped: number; skipped: number; if_dropped: number } | null;
  overflow_packets: number;
  decode_errors: number;
  protocols: Row[];
  top_sources: Row[];
  top_destinations: Row[];
}

/** Top rows per window in an event. */
export const EVENT_TOP = 5;

/** The newest and oldest commit numbers stored (0 when none). */
export async function commitRange(ctx: QueryContext): Promise<{ oldest: number; newest: number }> {
  const [r] = await select(
    ctx,
    "SELECT coalesce(min(commit_seq), 0) AS lo, coalesce(max(commit_seq), 0) AS hi FROM window_totals",
    [],
  );
  return { oldest: num(r?.lo), newest: num(r?.hi) };
}

/** Window events with seq in (afterSeq, uptoSeq], oldest first, at most `limit`. */
export async function windowEvents(
  ctx: QueryContext,
  afterSeq: number,
  uptoSeq: number,
  limit: number,
): Promise<WindowEvent[]> {
  const heads = await select(
    ctx,
    `SELECT w.commit_seq AS seq, s.sensor_id, s.source_id, w.source_no,
       epoch(w.window_start)::BIGINT AS start, w.window_sec, w.part, w.packets, w.bytes,
       w.late_packets, w.capture_received, w.capture_dropped, w.capture_skipped,
       w.capture_if_dropped,
       (SELECT sum(x.overflow_packets) FROM window_tasks x WHERE x.source_no = w.source_no
          AND x.window_start = w.window_start AND x.task_no = 0) AS overflow,
       (SELECT sum(e.packets) FROM window_decode_errors e WHERE e.source_no = w.source_no
          AND e.window_start = w.window_start) AS errors
     FROM window_totals w JOIN sources s USING (source_no)
     WHERE w.commit_seq > $1 AND w.commit_seq <= $2 ORDER BY w.commit_seq LIMIT $3`,
    [afterSeq, uptoSeq, limit],
  );
  if (heads.length === 0) return [];
  const lo = heads.reduce((m, h) => Math.min(m, num(h.start)), Infinity);
  const hi = heads.reduce((m, h) => Math.max(m, num(h.start)), 0);
  const keyOf = (r: Row) => `${r.source_no}/${r.start}`;
  const tops = await topPerWindow(ctx, lo, hi, keyOf);
  return heads.map((h) => {
    const k = keyOf(h), t = tops.get(k);
    const captured = h.capture_received !== null && h.capture_received !== undefined;
    return {
      seq: num(h.seq),
      sensor: String(h.sensor_id ?? ""),
      source: String(h.source_id),
      window_start: iso(num(h.start)),
      window_sec: num(h.window_sec),
      part: num(h.part),
      packets: num(h.packets),
      bytes: num(h.bytes),
      late_packets: num(h.late_packets),
      capture: captured
        ? {
          received: num(h.capture_received),
          dropped: num(h.capture_dropped),
          skipped: num(h.capture_skipped),
          if_dropped: num(h.capture_if_dropped),
        }
        : null,
      overflow_packets: num(h.overflow),
      decode_errors: num(h.errors),
      protocols: t?.protocols ?? [],
      top_sources: t?.src ?? [],
      top_destinations: t?.dst ?? [],
    };
  });
}

interface Tops {
  protocols: Row[];
  src: Row[];
  dst: Row[];
}

/** Per (source, window) of a range: protocol mix and top talkers of the first exact task. */
async function topPerWindow(
  ctx: QueryContext,
  loSec: number,
  hiSec: number,
  keyOf: (r: Row) => string,
): Promise<Map<string, Tops>> {
  const out = new Map<string, Tops>();
  const get = (r: Row) => {
    const k = keyOf(r);
    let t = out.get(k);
    if (t === undefined) out.set(k, t = { protocols: [], src: [], dst: [] });
    return t;
  };
  const range = [loSec * 1e6, hiSec * 1e6];
  const where = "window_start BETWEEN make_timestamp($1::BIGINT) AND make_timestamp($2::BIGINT)";
  for (
    const r of await select(
      ctx,
      `SELECT source_no, epoch(window_start)::BIGINT AS start, proto, packets, bytes
     FROM window_protocols WHERE ${where} ORDER BY bytes DESC`,
      range,
    )
  ) {
    get(r).protocols.push({ proto: r.proto, packets: r.packets, bytes: r.bytes });
  }
  for (const side of ["src", "dst"] as const) {
    for (
      const r of await select(
        ctx,
        `SELECT source_no, epoch(window_start)::BIGINT AS start,
         ip_text(${side}_addr, ip_version) AS ip, sum(packets) AS packets, sum(bytes) AS bytes
       FROM window_flows WHERE ${where} AND task_no = 0 AND ip_version > 0
       GROUP BY source_no, window_start, ip_version, ${side}_addr
       QUALIFY row_number() OVER (PARTITION BY source_no, window_start ORDER BY sum(bytes) DESC,
         ${side}_addr) <= ${EVENT_TOP}
       ORDER BY source_no, window_start, bytes DESC`,
        range,
      )
    ) {
      get(r)[side].push({ ip: r.ip, packets: r.packets, bytes: r.bytes });
    }
  }
  return out;
}
