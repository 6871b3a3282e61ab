/**
 * What the `analyze` report shows, read back from the store for one source: the same path
 * for a fresh run and for history.
 *
 * @module
 */

import type { DuckDBValue } from "@duckdb/node-api";
import type { KeyField } from "../collector/key_fields.ts";
import type { FlowRow, Summary } from "../collector/summary.ts";
import type { Store } from "./store.ts";

/** "sec.nnnnnnnnn" from epoch nanoseconds (bigint from DuckDB). */
export function nsText(v: DuckDBValue): string | null {
  if (v === null || v === undefined) return null;
  const ns = BigInt(v as bigint);
  const sec = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  return `${sec}.${frac.toString().padStart(9, "0")}`;
}

const num = (v: DuckDBValue): number => v === null || v === undefined ? 0 : Number(v);
const numOrNull = (v: DuckDBValue): number | null =>
  v === null || v === undefined ? null : Number(v);

/** Reads the report of `sourceId`'s task `task` (key `groupBy`), top `limit` rows. */
export async function summarize(
  store: Store,
  sourceId: string,
  task: string,
  groupBy: readonly KeyField[],
  limit?: number,
): Promise<Summary> {
  const src = [sourceId];
  const [tot] = await store.rows(
    `SELECT count(*) AS windows, any_value(window_sec) AS window_sec, sum(packets) AS frames,
            sum(bytes) AS bytes, sum(cap_bytes) AS cap_bytes, sum(ipv4_packets) AS v4,
            sum(ipv6_packets) AS v6, sum(non_ip_packets) AS non_ip,
            min(first_ns) AS first_ns, max(last_ns) AS last_ns
     FROM window_totals WHERE source_id = $1`,
    src,
  );
  const protocols = await store.rows(
    `SELECT proto, sum(packets) AS packets, sum(bytes) AS bytes FROM window_protocols
     WHERE source_id = $1 GROUP BY proto ORDER BY packets DESC, proto`,
    src,
  );
  const errors = await store.rows(
    `SELECT reason, sum(packets) AS packets FROM window_decode_errors
     WHERE source_id = $1 GROUP BY reason ORDER BY packets DESC, reason`,
    src,
  );
  // Key columns are listed by name from a fixed set, never from user text.
  const cols = groupBy.map((f) => `"${f}"`).join(", ");
  const [count] = await store.rows(
    `SELECT count(*) AS n FROM (SELECT DISTINCT ${cols} FROM window_flows WHERE source_id = $1 AND task = $2)`,
    [sourceId, task],
  );
  const flowSql = (keys: string, order: string) =>
    `SELECT ${keys}, sum(packets) AS packets, sum(bytes) AS bytes, min(first_ns) AS first_ns,
            max(last_ns) AS last_ns, bit_or(tcp_flags) AS tcp_flags
     FROM window_flows WHERE source_id = $1 AND task = $2
     GROUP BY ALL ORDER BY ${order}, ${keys} NULLS FIRST
     ${limit === undefined ? "" : `LIMIT ${Math.floor(limit)}`}`;
  const flows = await store.rows(flowSql(cols, "packets DESC, bytes DESC"), [sourceId, task]);
  const talkers = groupBy.includes("src_ip")
    ? await store.rows(flowSql(`"src_ip"`, "bytes DESC, packets DESC"), [sourceId, task])
    : null;
  const records = await store.rows(
    `SELECT close_reason AS reason, count(*) AS n FROM flow_records WHERE source_id = $1
     GROUP BY close_reason ORDER BY close_reason`,
    src,
  );
  const toRow = (r: Record<string, DuckDBValue>, keys: readonly KeyField[]): FlowRow => {
    const row: Record<string, unknown> = {};
    for (const f of keys) {
      row[f] = f === "src_ip" || f === "dst_ip" ? (r[f] ?? null) : numOrNull(r[f]!);
    }
    return {
      ...row,
      packets: num(r.packets!),
      bytes: num(r.bytes!),
      first_ts: nsText(r.first_ns!),
      last_ts: nsText(r.last_ns!),
      tcp_flags: num(r.tcp_flags!),
    } as FlowRow;
  };
  const t = tot!;
  return {
    sourceId,
    overflowPackets: 0,
    task,
    groupBy,
    windowSec: num(t.window_sec!),
    windows: num(t.windows!),
    totals: {
      frames: num(t.frames!),
      bytes: num(t.bytes!),
      capBytes: num(t.cap_bytes!),
      ipv4Frames: num(t.v4!),
      ipv6Frames: num(t.v6!),
      nonIpFrames: num(t.non_ip!),
      firstTs: nsText(t.first_ns!),
      lastTs: nsText(t.last_ns!),
    },
    protocols: protocols.map((p) => ({
      proto: num(p.proto!),
      packets: num(p.packets!),
      bytes: num(p.bytes!),
    })),
    decodeErrors: errors.map((e) => ({ reason: String(e.reason), packets: num(e.packets!) })),
    flowCount: num(count!.n!),
    flows: flows.map((r) => toRow(r, groupBy)),
    talkers: talkers === null ? null : talkers.map((r) => toRow(r, ["src_ip"])),
    flowRecords: records.map((r) => ({ reason: String(r.reason), records: num(r.n!) })),
  };
}
