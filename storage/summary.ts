/**
 * What the `analyze` report shows, read back from the store for one source: the same path
 * for a fresh run and for history.
 *
 * @module
 */

import type { DuckDBValue } from "@duckdb/node-api";
import type { KeyField } from "../collector/packet/mod.ts";
import type { FlowRow, Summary } from "./report_types.ts";
import { keyColumns, nsText } from "./_row_text.ts";
import { FlowColumns, flowRowSelect } from "./_flow_rows.ts";
import type { Store } from "./store.ts";
import { summarizeSketches } from "./sketch_summary.ts";
import { summarizeApp } from "./app_summary.ts";

const num = (v: DuckDBValue): number => v === null || v === undefined ? 0 : Number(v);

/** Where streamed flow rows go (see summarize). */
export interface FlowSink {
  begin(summary: Summary): Promise<void>;
  /** The next rows, as the store's result chunk (read them as objects or cell by cell). */
  rows(rows: FlowColumns): Promise<void>;
}

/** What a report needs besides its header and totals (each part costs a query). */
export interface SummaryOptions {
  /** Top rows of flows and talkers (default: all). */
  limit?: number;
  /**
   * Where the flow rows go instead of `Summary.flows`: once the rest is read, `begin` gets the
   * summary, then `rows` the rows chunk by chunk as the store gives them, so a report of
   * millions of keys is never held in memory whole.
   */
  onFlows?: FlowSink;
  /** The top talkers (default true; only when the key has src_ip). */
  talkers?: boolean;
  /** The number of distinct keys (default true; else `flowCount` is null). */
  flowCount?: boolean;
  /** The sketch tasks and DNS/HTTP (default true; else both null). */
  details?: boolean;
}

/**
 * Reads the report over the sources `sourceIds` (one per input of a run), task `task` (key
 * `groupBy`): the parts `opts` asks for.
 */
export async function summarize(
  store: Store,
  sourceIds: readonly string[],
  task: string,
  groupBy: readonly KeyField[],
  opts: SummaryOptions = {},
): Promise<Summary> {
  const { limit, onFlows } = opts;
  const ids = await store.rows(
    `SELECT s.source_no, t.task_no FROM sources s LEFT JOIN tasks t
       ON t.source_no = s.source_no AND t.name = $2
     WHERE list_contains(string_split($1, ','), s.source_id) ORDER BY s.source_no`,
    [sourceIds.join(","), task],
  );
  if (ids.length === 0) throw new RangeError(`No source ${sourceIds.join(", ")} in the store`);
  // A set of source numbers, bound as one text "1,2,3" (see the IN clauses).
  const sourceNo = ids.map((r) => Number(r.source_no)).join(",");
  const sourceId = [...new Set(sourceIds)].join(",");
  const taskNo = ids[0]!.task_no === null ? -1 : Number(ids[0]!.task_no);
  const src = [sourceNo];
  const srcTask = [sourceNo, taskNo];
  const [tot] = await store.rows(
    `SELECT count(*) FILTER (WHERE coalesce(part, 0) = 0) AS windows,
            any_value(window_sec) AS window_sec, sum(packets) AS frames,
            sum(bytes) AS bytes, sum(cap_bytes) AS cap_bytes, sum(ipv4_packets) AS v4,
            sum(ipv6_packets) AS v6, sum(non_ip_packets) AS non_ip,
            coalesce(sum(late_packets), 0) AS late,
            min(first_ns) AS first_ns, max(last_ns) AS last_ns
     FROM window_totals WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER)`,
    src,
  );
  const protocols = await store.rows(
    `SELECT proto, sum(packets) AS packets, sum(bytes) AS bytes FROM window_protocols
     WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) GROUP BY proto ORDER BY packets DESC, proto`,
    src,
  );
  const errors = await store.rows(
    `SELECT reason, sum(packets) AS packets FROM window_decode_errors
     WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) AND NOT starts_with(reason, 'dns_')
       AND reason NOT IN ('http_lost', 'ip_defrag_lost')
     GROUP BY reason ORDER BY packets DESC, reason`,
    src,
  );
  // Key columns come from a fixed set of names, never from user text.
  const cols = keyColumns(groupBy);
  // The task's keys in the sources (the `other` row, ip_version 0, is not a key).
  const where = `WHERE ip_version IS DISTINCT FROM 0 AND source_no IN
      (SELECT unnest(string_split($1, ','))::UINTEGER) AND task_no = $2`;
  const [count] = opts.flowCount === false ? [null] : await store.rows(
    `SELECT count(*) AS n FROM (SELECT DISTINCT ${cols} FROM window_flows ${where})`,
    srcTask,
  );
  const limitSql = limit === undefined ? "" : `LIMIT ${Math.floor(limit)}`;
  const flowQuery = `SELECT ${flowRowSelect(groupBy, true)} FROM window_flows ${where}
     GROUP BY ALL ORDER BY packets DESC, bytes DESC, ${cols} NULLS FIRST ${limitSql}`;
  const flows = onFlows === undefined ? await flowRows(store, flowQuery, srcTask, groupBy) : [];
  // Talkers show packets and bytes only: without the time and flag aggregates the query
  // takes a third of the time on large tasks.
  const talkers = groupBy.includes("src_ip") && (opts.talkers ?? true)
    ? await flowRows(
      store,
      `SELECT ${flowRowSelect(["src_ip"], false)} FROM window_flows ${where}
       GROUP BY ALL ORDER BY bytes DESC, packets DESC, ip_version, src_addr ${limitSql}`,
      srcTask,
      ["src_ip"],
    )
    : null;
  const [over] = await store.rows(
    `SELECT sum(overflow_packets) AS p FROM window_tasks WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) AND task_no = $2`,
    srcTask,
  );
  const records = await store.rows(
    `SELECT close_reason(close_code) AS reason, count(*) AS n FROM flow_records
     WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) GROUP BY ALL ORDER BY reason`,
    src,
  );
  const t = tot!;
  const summary: Summary = {
    sourceId,
    storePath: store.path,
    overflowPackets: num(over!.p!),
    task,
    groupBy,
    windowSec: num(t.window_sec!),
    windows: num(t.windows!),
    totals: {
      frames: num(t.frames!),
      bytes: num(t.bytes!),
      capBytes: num(t.cap_bytes!),
      latePackets: num(t.late!),
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
    flowCount: count === null ? null : num(count!.n!),
    flows,
    talkers,
    flowRecords: records.map((r) => ({ reason: String(r.reason), records: num(r.n!) })),
    app: opts.details === false ? null : await summarizeApp(store, sourceNo, limit),
    sketches: opts.details === false ? null : await summarizeSketches(
      store,
      sourceNo,
      taskNo < 0 ? null : { name: task, taskNo, key: groupBy },
      limit,
    ),
  };
  if (onFlows !== undefined) {
    await onFlows.begin(summary);
    await store.streamChunks(
      flowQuery,
      srcTask,
      (chunk, names) => onFlows.rows(new FlowColumns(chunk, names, groupBy)),
    );
  }
  return summary;
}

/** The rows of a report query (columns from flowRowSelect) as FlowRows. */
async function flowRows(
  store: Store,
  sql: string,
  params: DuckDBValue[],
  keys: readonly KeyField[],
): Promise<FlowRow[]> {
  const out: FlowRow[] = [];
  await store.streamChunks(sql, params, (chunk, names) => {
    for (const r of new FlowColumns(chunk, names, keys).rows()) out.push(r);
  });
  return out;
}
