/**
 * The sketch part of the report, read back from the store and combined over windows at query
 * time: heavy hitters summed per key (beside the exact counts where an exact task's key covers
 * the sketch's), distinct counts from HyperLogLogs merged across windows (beside the exact
 * count where the exact task can give it), spreaders from spread sketches merged across
 * windows.
 *
 * @module
 */

import type { DuckDBValue } from "@duckdb/node-api";
import type { KeyField } from "../collector/packet/mod.ts";
import type { KeyedRow, SketchesSummary } from "./report_types.ts";
import { ipv4Text, ipv6Text } from "../collector/packet/mod.ts";
import { KEY } from "../collector/export/mod.ts";
import { HyperLogLog } from "../sketches/mod.ts";
import { SpreadSketch } from "../sketches/mod.ts";
import { HH_KEY_WORDS } from "../sketches/mod.ts";
import type { Store } from "./store.ts";
import { addrOf, keyColumns } from "./_row_text.ts";

const num = (v: DuckDBValue): number => v === null || v === undefined ? 0 : Number(v);

function fieldsOf(text: string): KeyField[] {
  return text === "" ? [] : text.split(",") as KeyField[];
}

/** Key fields of a row read from a key table (addresses as text). */
function keyedOf(r: Record<string, DuckDBValue>, key: readonly KeyField[]): KeyedRow {
  const row: KeyedRow = {};
  for (const f of key) {
    if (f === "src_ip") row[f] = addrOf(r.src_addr!, r.ip_version!);
    else if (f === "dst_ip") row[f] = addrOf(r.dst_addr!, r.ip_version!);
    else row[f] = r[f] === null || r[f] === undefined ? null : Number(r[f]);
  }
  return row;
}

/** Key fields of a key held as 10 words (a sketch's store), addresses as text. */
function keyedOfWords(w: Int32Array, o: number, key: readonly KeyField[]): KeyedRow {
  const meta = w[o + KEY.META]!;
  const v4 = ((meta >>> 8) & 7) === 4;
  const addr = (at: number) =>
    v4 ? ipv4Text(w[at]! >>> 0) : ipv6Text([0, 1, 2, 3].map((j) => w[at + j]! >>> 0));
  const ports = w[o + KEY.PORTS]! >>> 0;
  const hasPorts = (meta & KEY.META_PORTS_PRESENT) !== 0;
  const row: KeyedRow = {};
  for (const f of key) {
    if (f === "src_ip") row[f] = addr(o);
    else if (f === "dst_ip") row[f] = addr(o + 4);
    else if (f === "proto") row[f] = meta & 0xff;
    else if (f === "src_port") row[f] = hasPorts ? ports >>> 16 : null;
    else if (f === "dst_port") row[f] = hasPorts ? ports & 0xffff : null;
    else row[f] = (meta & KEY.META_VLAN_PRESENT) !== 0 ? (meta >>> 16) & 0xfff : null;
  }
  return row;
}

/**
 * `AND window_start in the range` (empty: every window). The bounds are numbers this program
 * computed (whole microseconds), checked as such, never text it was given.
 */
function windowRange(range: { fromSec: number; toSec: number } | undefined): string {
  if (range === undefined) return "";
  const from = Math.round(range.fromSec * 1e6), to = Math.round(range.toSec * 1e6);
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) {
    throw new RangeError(`window range out of bounds: ${range.fromSec}..${range.toSec}`);
  }
  return ` AND window_start >= make_timestamp(${from}::BIGINT) AND window_start < make_timestamp(${to}::BIGINT)`;
}

async function blobs(
  store: Store,
  sourceNo: string,
  taskNo: number,
  within = "",
): Promise<Uint8Array[]> {
  const rows = await store.rows(
    `SELECT sketch FROM window_sketches WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) AND task_no = $2${within}
     ORDER BY window_start`,
    [sourceNo, taskNo],
  );
  return rows.map((r) => (r.sketch as { bytes: Uint8Array }).bytes);
}

/**
 * Reads every sketch task of `sourceNo`. `exact` is the exact task the report shows (its
 * number and key), used for the exact columns when its key covers a sketch's key.
 */
export async function summarizeSketches(
  store: Store,
  sourceNo: string,
  exact: { name: string; taskNo: number; key: readonly KeyField[] } | null,
  limit: number | undefined,
  range?: { fromSec: number; toSec: number },
): Promise<SketchesSummary> {
  const within = windowRange(range);
  const tasks = await store.rows(
    `SELECT task_no, name, kind, key, params FROM tasks
     WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) AND kind <> 'exact' ORDER BY task_no`,
    [sourceNo],
  );
  const out: SketchesSummary = { heavyHitters: [], distinct: [], spread: [], countMin: [] };
  const covers = (key: readonly KeyField[]) =>
    exact !== null && key.every((f) => exact.key.includes(f));
  const lim = limit === undefined ? "" : `LIMIT ${Math.floor(limit)}`;
  for (const t of tasks) {
    const taskNo = Number(t.task_no), name = String(t.name), key = fieldsOf(String(t.key));
    const p = JSON.parse(String(t.params ?? "{}"));
    const ids = [sourceNo, taskNo];
    if (t.kind === "heavy_hitters") {
      const cols = keyColumns(key);
      const order = p.by === "bytes" ? "bytes DESC, packets DESC" : "packets DESC, bytes DESC";
      const exactJoin = covers(key)
        ? `LEFT JOIN (SELECT ${cols}, sum(packets) AS exact_packets, sum(bytes) AS exact_bytes
             FROM window_flows WHERE ip_version IS DISTINCT FROM 0 AND source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) AND task_no = $3${within} GROUP BY ALL) e
             USING (${cols})`
        : "";
      // A key's error bound over the windows (HeavyHitters.merge's rule, per window): where a
      // window reported its top list full and the key is not in it, the key counted less than
      // that list's smallest count; a window that reported fewer keys held every key it saw.
      const metric = p.by === "bytes" ? "bytes" : "packets";
      const top = Number.isInteger(p.top) && p.top > 0 ? p.top : 1e9;
      const rows = await store.rows(
        `WITH k AS (
           SELECT source_no, window_start, ${cols}, packets, bytes FROM window_sketch_keys
           WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) AND task_no = $2${within}),
         floors AS (
           SELECT source_no, window_start,
             CASE WHEN count(*) >= ${top} THEN min(${metric}) ELSE 0 END AS floor
           FROM k GROUP BY source_no, window_start)
         SELECT s.*${covers(key) ? ", exact_packets, exact_bytes" : ""} FROM (
           SELECT ${cols.split(", ").map((c) => `k.${c}`).join(", ")}, sum(k.packets) AS packets,
             sum(k.bytes) AS bytes,
             (SELECT coalesce(sum(floor), 0) FROM floors) - sum(f.floor) AS error_bound
           FROM k JOIN floors f USING (source_no, window_start)
           GROUP BY ${cols.split(", ").map((c) => `k.${c}`).join(", ")}) s ${exactJoin}
         ORDER BY ${order}, ${cols} ${lim}`,
        covers(key) ? [...ids, exact!.taskNo] : ids,
      );
      out.heavyHitters.push({
        task: name,
        key,
        by: p.by,
        memoryBytes: p.memory_bytes,
        exactTask: covers(key) ? exact!.name : null,
        rows: rows.map((r) => ({
          ...keyedOf(r, key),
          packets: num(r.packets!),
          bytes: num(r.bytes!),
          error_bound: num(r.error_bound!),
          exact_packets: r.exact_packets === undefined || r.exact_packets === null
            ? null
            : num(r.exact_packets),
          exact_bytes: r.exact_bytes === undefined || r.exact_bytes === null
            ? null
            : num(r.exact_bytes),
        })),
      });
    } else if (t.kind === "distinct") {
      const parts = await blobs(store, sourceNo, taskNo, within);
      let estimate = 0;
      if (parts.length === 1) {
        const [r] = await store.rows(
          `SELECT estimate FROM window_sketches WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) AND task_no = $2${within}`,
          ids,
        );
        estimate = num(r!.estimate!);
      } else if (parts.length > 1) {
        const h = HyperLogLog.deserialize(parts[0]!);
        for (const b of parts.slice(1)) h.merge(HyperLogLog.deserialize(b));
        estimate = h.estimate();
      }
      let exactCount: number | null = null;
      if (covers(key)) {
        const [r] = await store.rows(
          `SELECT count(*) AS n FROM (SELECT DISTINCT ${keyColumns(key)} FROM window_flows
           WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) AND task_no = $2 AND ip_version IS NOT NULL AND ip_version <> 0${within})`,
          [sourceNo, exact!.taskNo],
        );
        exactCount = num(r!.n!);
      }
      out.distinct.push({ task: name, key, precision: p.precision, estimate, exact: exactCount });
    } else if (t.kind === "spread") {
      const parts = await blobs(store, sourceNo, taskNo, within);
      const rows: (KeyedRow & { spread: number })[] = [];
      if (parts.length > 0) {
        const s = SpreadSketch.deserialize(parts[0]!);
        for (const b of parts.slice(1)) s.merge(SpreadSketch.deserialize(b));
        const found = s.spreaders();
        for (const e of limit === undefined ? found : found.slice(0, limit)) {
          rows.push({ ...keyedOfWords(s.keys, e * HH_KEY_WORDS, key), spread: s.spreadOf(e) });
        }
      }
      out.spread.push({
        task: name,
        key,
        element: fieldsOf(String(p.element)),
        threshold: p.threshold,
        filter: p.filter,
        memoryBytes: p.memory_bytes,
        rows,
      });
    } else {
      const [r] = await store.rows(
        `SELECT sum(packets) AS n FROM window_sketches WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) AND task_no = $2${within}`,
        ids,
      );
      out.countMin.push({
        task: name,
        key,
        by: p.by,
        memoryBytes: p.memory_bytes,
        packets: num(r!.n!),
      });
    }
  }
  return out;
}
