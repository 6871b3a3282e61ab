/**
 * The API's questions of the exact tables (`window_flows`): packets, bytes or flows over a
 * time range, filtered, grouped by any key fields and/or time, sorted and cut — and with every
 * answer a summary that says how complete it is (range covered, totals, rows shown of rows
 * matched, capture losses in the range, time taken). One question type for every route that
 * reads flows (`/query`, `/top`, `/timeseries`), as goProbe shares one between CLI and HTTP.
 * A one-field top-N with no filter is answered from a range view when the caller keeps them
 * (query/range_views.ts); everything else by one question of the store.
 *
 * @module
 */

import { UserError } from "../collector/user_error.ts";
import { ipv4Text, ipv6Text } from "../collector/packet/mod.ts";
import { FLOW_FIELDS, parseFilter } from "./filter.ts";
import { type Filter } from "./filter.ts";
import { filterSql, SqlParams } from "./filter_sql.ts";
import {
  inTransaction,
  memoized,
  num,
  type QueryContext,
  type Row,
  select,
  selectColumns,
} from "./_sql.ts";
import { iso, resolveRange, type TimeRange } from "./_time.ts";
import { pickTask, type StoreFacts, storeFacts, taskCondition } from "./_tasks.ts";
import {
  addressParts,
  type GroupKey,
  type GroupSums,
  type ViewIO,
  viewKeySql,
  type ViewWindow,
} from "./range_views.ts";

/** The store's rollup length (storage/_rollup.ts): hourly. */
const ROLLUP_SEC = 3600;

export const GROUP_FIELDS = [
  "src_ip",
  "dst_ip",
  "proto",
  "src_port",
  "dst_port",
  "vlan",
  "time",
] as const;
export type GroupField = (typeof GROUP_FIELDS)[number];
export const METRICS = ["packets", "bytes", "flows"] as const;
export type Metric = (typeof METRICS)[number];

export const LIMIT_DEFAULT = 100;
export const LIMIT_MAX = 10_000;
export const POINTS_DEFAULT = 300;
export const POINTS_MAX = 10_000;

/** A question about flows, as the API takes it (text values not yet checked). */
export interface FlowQuestion {
  from?: string;
  to?: string;
  filter?: string;
  groupBy: GroupField[];
  metric: Metric;
  /** A metric or a group field (default: the metric; `time` first when grouped by time). */
  sort?: string;
  order?: "asc" | "desc";
  limit: number;
  task?: string;
  /** Bucket length when grouped by time: auto, or a duration (1m, 5m, 1h). */
  step?: string;
  /** With step auto: about how many buckets the range should have. */
  points?: number;
  /** A condition of the caller's own, and-ed with the filter (a tree: never the user's text). */
  also?: Filter;
  /** Read the windows only, not the hourly rollups (tests compare the two). */
  windowsOnly?: boolean;
}

export interface Losses {
  /** Frames the kernel passed and lost for want of buffer (live sources). */
  capture_dropped: number;
  /** Drops the interface itself counted (live sources). */
  capture_if_dropped: number;
  /** Packets of new keys that found the task's table full (in the `other` row). */
  overflow_packets: number;
  /** Packets that came after their window closed (stored as late parts, counted). */
  late_packets: number;
  /** Decode errors of every reason (packets and app-layer messages). */
  decode_errors: number;
}

export interface Summary {
  task: string;
  /** The range asked for, resolved (ISO times). */
  range: { from: string; to: string };
  /** The windows that are in it: first start to last end (null: none stored). */
  covered: { from: string; to: string } | null;
  windows: number;
  window_sec: number | null;
  /** Every packet stored in the range (IP or not, before the filter). */
  totals: { packets: number; bytes: number };
  /** What the filter kept, over every group (not only the rows shown). */
  matched: { packets: number; bytes: number; rows: number };
  shown: number;
  step_sec?: number;
  losses: Losses;
  took_ms: number;
}

export interface FlowAnswer {
  summary: Summary;
  columns: string[];
  rows: Row[];
}

/** Answers `q`; user mistakes (bad filter, time, field for the task) throw UserError. */
export async function queryFlows(ctx: QueryContext, q: FlowQuestion): Promise<FlowAnswer> {
  const t0 = performance.now();
  const facts = await storeFacts(ctx);
  const plan = planQuestion(q, facts);
  const { rows, matched } = (q.windowsOnly ? null : await fromView(ctx, plan)) ??
    await computed(ctx, plan, q.windowsOnly === true);
  const summary = await summarize(ctx, plan, matched, rows.length);
  summary.took_ms = Math.round((performance.now() - t0) * 10) / 10;
  return { summary, columns: plan.columns, rows };
}

interface Found {
  rows: Row[];
  matched: Summary["matched"];
}

/** The answer computed by one question of the store (rollups unless `windowsOnly`). */
async function computed(ctx: QueryContext, plan: Plan, windowsOnly: boolean): Promise<Found> {
  const rolled = windowsOnly ? [] : await rolledHours(ctx, plan);
  const p = new SqlParams();
  const rows = await select(ctx, flowSql(plan, p, rolled), p.values);
  const first = rows[0];
  const matched = {
    packets: num(first?._packets),
    bytes: num(first?._bytes),
    rows: num(first?._rows),
  };
  for (const r of rows) delete r._packets, delete r._bytes, delete r._rows;
  return { rows, matched };
}

/**
 * The answer from a range view (query/range_views.ts) when the caller keeps views and a view
 * can hold the question: one key field, no filter, packets or bytes, sorted by one of them.
 * Null: compute it.
 */
async function fromView(ctx: QueryContext, plan: Plan): Promise<Found | null> {
  const field = plan.groupBy[0]!;
  const { fromSec, toSec } = plan.range;
  const sort = plan.sort;
  if (
    ctx.views === undefined || plan.filter !== null || plan.groupBy.length !== 1 ||
    plan.metric === "flows" || (sort !== "packets" && sort !== "bytes") || !(toSec > fromSec)
  ) return null;
  const key = viewKeySql(field, "f");
  if (key === null) return null;
  const facts = await storeFacts(ctx);
  const taskSources = new Set([...facts.taskNos.get(plan.task)?.values() ?? []].flat());
  const top = await ctx.views.top(
    `${plan.task} ${field} ${toSec - fromSec}`,
    plan.range,
    viewIO(ctx, plan, key, taskSources),
    plan.limit,
    sort,
    plan.order === "desc",
  );
  if (top === null) return null;
  return {
    rows: top.keys.map((k, i) => ({
      [field]: keyValue(field, k),
      packets: top.packets[i],
      bytes: top.bytes[i],
    })),
    matched: { packets: top.totalPackets, bytes: top.totalBytes, rows: top.groups },
  };
}

/**
 * The store's side of a view of `plan`'s task and a key field (`key`, its SQL on alias f);
 * `taskSources`: the sources that have the task (their windows are the view's).
 */
function viewIO(
  ctx: QueryContext,
  plan: Plan,
  key: NonNullable<ReturnType<typeof viewKeySql>>,
  taskSources: Set<number>,
): ViewIO {
  const group = key.group.join(", ");
  // Sums as doubles: a view adds them in JS (and checks they stay below 2^53).
  const sums = async (
    from: string,
    where: string,
    [packets, bytes]: [string, string],
    p: SqlParams,
    limit = "",
  ): Promise<GroupSums> => {
    const c = await selectColumns(
      ctx,
      `SELECT ${key.number}, ${key.text}, sum(${packets})::DOUBLE, sum(${bytes})::DOUBLE
       FROM ${from} f WHERE ${where} GROUP BY ${group} ${limit}`,
      p.values,
    );
    const keys: GroupKey[] = new Array(c[0]!.length);
    for (let i = 0; i < keys.length; i++) keys[i] = (c[0]![i] ?? c[1]![i]) as GroupKey;
    return { keys, packets: c[2] as number[], bytes: c[3] as number[] };
  };
  return {
    consistent: (fn) => inTransaction(ctx, fn),
    async windows(fromSec, toSec) {
      const p = new SqlParams();
      // Plain rows, put together here: string_agg and a join in SQL took 3-5 times as long.
      const [sources, starts, parts, seqs] = await selectColumns(
        ctx,
        `SELECT source_no, epoch_us(window_start)::DOUBLE, part, commit_seq::DOUBLE
         FROM window_totals WHERE ${p.within("window_start", { fromSec, toSec })}`,
        p.values,
      );
      const found = new Map<string, { source: number; startUs: number; parts: string[] }>();
      for (let i = 0; i < sources!.length; i++) {
        const source = Number(sources![i]);
        if (!taskSources.has(source)) continue;
        const startUs = Number(starts![i]), k = `${source}/${startUs}`;
        let w = found.get(k);
        if (w === undefined) found.set(k, w = { source, startUs, parts: [] });
        w.parts[Number(parts![i] ?? 0)] = seqs![i] === null ? "-" : String(seqs![i]);
      }
      return [...found.values()].map((w) => ({
        source: w.source,
        startUs: w.startUs,
        print: Array.from(w.parts, (x) => x ?? "?").join(","),
      }));
    },
    async all(fromSec, toSec, max) {
      const at = { ...plan, range: { fromSec, toSec } };
      const rolled = await rolledHours(ctx, at);
      const p = new SqlParams();
      const cols: [string, string] = ["f.packets::BIGINT", "f.bytes::BIGINT"];
      const where = flowWhere(at, p);
      return await sums(flowRows(at, p, rolled), where, cols, p, `LIMIT ${p.add(max + 1)}`);
    },
    async change(enter, leave) {
      const p = new SqlParams();
      const which = (ws: ViewWindow[]) =>
        ws.length === 0
          ? "false"
          : ws.map((w) =>
            `(f.source_no = ${p.add(w.source)} AND f.window_start = make_timestamp(${
              p.add(w.startUs)
            }::BIGINT))`
          ).join(" OR ");
      const entering = which(enter), leaving = which(leave);
      const signed = (c: string) =>
        `CASE WHEN ${entering} THEN ${c}::BIGINT ELSE -${c}::BIGINT END`;
      return await sums(
        "window_flows",
        `${plan.taskWhere("f", p)} AND (${entering} OR ${leaving})`,
        [signed("f.packets"), signed("f.bytes")],
        p,
      );
    },
  };
}

/** A view's key as the answer shows it: an address as the store's ip_text writes it, a number. */
function keyValue(field: string, key: GroupKey): unknown {
  if (field !== "src_ip" && field !== "dst_ip") return typeof key === "number" ? key : null;
  if (typeof key === "number") return ipv4Text(key);
  const [version, addr] = addressParts(key);
  if (addr === null) return null;
  if (version === 4) return ipv4Text(Number(addr));
  if (version !== 6) return null;
  const words = [96n, 64n, 32n, 0n].map((s) => Number((addr >> s) & 0xffffffffn));
  return ipv6Text(words);
}

/** A question checked against the store: task, range, filter, bucket, sort. */
export interface Plan {
  task: string;
  /** The task's rows as a condition on alias f (no join: see taskCondition). */
  taskWhere: (alias: string, p: SqlParams) => string;
  range: TimeRange;
  filter: Filter | null;
  groupBy: GroupField[];
  metric: Metric;
  sort: string;
  order: "asc" | "desc";
  limit: number;
  stepSec: number | null;
  windowSec: number | null;
  columns: string[];
}

export function planQuestion(q: FlowQuestion, facts: StoreFacts): Plan {
  const given = parseFilter(q.filter ?? "", FLOW_FIELDS);
  const filter: Filter | null = q.also === undefined
    ? given
    : given === null
    ? q.also
    : { op: "and", args: [given, q.also] };
  const groupBy = [...new Set(q.groupBy)];
  const task = pickTask(facts, q.task, groupBy.filter((g) => g !== "time"), filter);
  const range = resolveRange(q.from, q.to, facts.anchorSec);
  const stepSec = groupBy.includes("time") ? bucketSec(q, range, facts.windowSec) : null;
  const sort = q.sort ?? (groupBy.includes("time") ? "time" : q.metric);
  if (![...METRICS, ...groupBy].includes(sort as never)) {
    throw new UserError(
      `"sort" must be a metric (${METRICS.join(", ")}) or a field grouped by, got "${sort}"`,
    );
  }
  if (sort === "flows" && q.metric !== "flows") {
    throw new UserError(`Sorting by flows needs metric=flows (flows are counted only then)`);
  }
  const order = q.order ?? (sort === q.metric ? "desc" : "asc");
  const metrics = q.metric === "flows" ? ["packets", "bytes", "flows"] : ["packets", "bytes"];
  return {
    task,
    taskWhere: (alias, p) => taskCondition(facts, task, alias, (v) => p.add(v)),
    range,
    filter,
    groupBy,
    metric: q.metric,
    sort,
    order,
    limit: q.limit,
    stepSec,
    windowSec: facts.windowSec,
    columns: [...groupBy, ...metrics],
  };
}

const NICE_STEPS = [60, 300, 900, 3600, 6 * 3600, 86_400];

/** The bucket length: a duration given, or (auto) the smallest nice one giving ≤ points. */
function bucketSec(q: FlowQuestion, range: TimeRange, windowSec: number | null): number {
  const w = windowSec ?? 60;
  const step = q.step ?? "auto";
  if (step !== "auto") {
    const s = /^\d+[smhd]?$/.test(step) ? stepOf(step) : NaN;
    if (!(s >= 1 && s <= 86_400 * 366)) {
      throw new UserError(`"step" must be auto or a duration (1m, 5m, 1h), got "${step}"`);
    }
    return Math.max(s, w);
  }
  const want = (range.toSec - range.fromSec) / (q.points ?? POINTS_DEFAULT);
  const nice = [w, ...NICE_STEPS.filter((s) => s > w && s % w === 0)];
  return nice.find((s) => s >= want) ?? Math.ceil(want / 86_400) * 86_400;
}

function stepOf(text: string): number {
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[text.slice(-1)] ?? 1;
  return Number(text.replace(/[smhd]$/, "")) * unit;
}

/** The rows that a plan's filter and range select from window_flows (alias f). */
export function flowWhere(plan: Plan, p: SqlParams): string {
  return [
    plan.taskWhere("f", p),
    p.within("f.window_start", plan.range),
    filterSql(plan.filter, p, "f"),
  ].join(" AND ");
}

/** Inner grouping columns (addresses as numbers with their version) and outer ones (text). */
export function groupColumns(plan: Plan): { inner: string[]; outer: string[]; order: string[] } {
  const inner: string[] = [], outer: string[] = [], order: string[] = [];
  if (plan.groupBy.includes("src_ip") || plan.groupBy.includes("dst_ip")) {
    inner.push("f.ip_version");
  }
  for (const g of plan.groupBy) {
    if (g === "time") {
      inner.push(`epoch(f.window_start)::BIGINT // ${plan.stepSec} * ${plan.stepSec} AS time`);
      outer.push("time");
      order.push("time");
    } else if (g === "src_ip" || g === "dst_ip") {
      const col = g === "src_ip" ? "src_addr" : "dst_addr";
      inner.push(`f.${col}`);
      outer.push(`ip_text(${col}, ip_version) AS ${g}`);
      order.push(`ip_version, ${col}`);
    } else {
      inner.push(`f.${g}`);
      outer.push(g);
      order.push(g);
    }
  }
  return { inner, outer, order };
}

/**
 * Sums of signed 64-bit values: DuckDB adds UBIGINT through a 128-bit cast, a third of a
 * 24-hour question; one row's count of one key in one window or hour is far below 2^63, and
 * the sum is still 128 bits wide, so it stays exact.
 */
const SUMS = "sum(f.packets::BIGINT) AS packets, sum(f.bytes::BIGINT) AS bytes";

const FLOW_COUNT =
  "count(DISTINCT (f.ip_version, f.src_addr, f.dst_addr, f.proto, f.src_port, f.dst_port, f.vlan))";

/** Whole hours of the range that are rolled up (epoch seconds), when the question allows. */
function rolledHours(ctx: QueryContext, plan: Plan): Promise<number[]> {
  // A time bucket shorter than an hour, or not of whole hours, cannot use hourly rows.
  if (plan.stepSec !== null && plan.stepSec % ROLLUP_SEC !== 0) return Promise.resolve([]);
  const first = Math.ceil(plan.range.fromSec / ROLLUP_SEC) * ROLLUP_SEC;
  const last = Math.floor(plan.range.toSec / ROLLUP_SEC) * ROLLUP_SEC - ROLLUP_SEC;
  if (last < first) return Promise.resolve([]);
  return memoized(ctx, `hours ${first} ${last}`, async () => {
    const p = new SqlParams();
    const rows = await select(
      ctx,
      `SELECT epoch(hour_start)::BIGINT AS h FROM rollup_hours
       WHERE ${p.within("hour_start", { fromSec: first, toSec: last + ROLLUP_SEC })} ORDER BY h`,
      p.values,
    );
    return rows.map((r) => num(r.h));
  });
}

const KEY_COLUMNS = "ip_version, src_addr, dst_addr, proto, src_port, dst_port, vlan";

/**
 * The rows a question reads: the hourly rollup for the rolled-up hours (`rolled`, whole hours
 * inside the range), the windows for the rest of the range (storage/_rollup.ts keeps the two
 * equal: an hour is in one or the other, never both).
 */
function flowRows(plan: Plan, p: SqlParams, rolled: number[]): string {
  if (rolled.length === 0) return "window_flows";
  const cols = `source_no, task_no, window_start, ${KEY_COLUMNS}, packets, bytes`;
  const ts = (sec: number) => p.timestamp(sec);
  const parts = [
    `SELECT ${cols.replace("window_start", "hour_start AS window_start")} FROM rollup_flows_hour
     WHERE hour_start >= ${ts(rolled[0]!)} AND hour_start <= ${ts(rolled[rolled.length - 1]!)}`,
  ];
  let from = plan.range.fromSec;
  const raw = (to: number) => {
    if (to > from) {
      parts.push(
        `SELECT ${cols} FROM window_flows WHERE window_start >= ${ts(from)} AND window_start < ${
          ts(to)
        }`,
      );
    }
  };
  for (const h of rolled) raw(h), from = h + ROLLUP_SEC;
  raw(plan.range.toSec);
  return `(${parts.join(" UNION ALL ")})`;
}

function flowSql(plan: Plan, p: SqlParams, rolled: number[]): string {
  const { inner, outer, order } = groupColumns(plan);
  const flows = plan.metric === "flows" ? `, ${FLOW_COUNT} AS flows` : "";
  const sortKey = plan.groupBy.includes(plan.sort as GroupField)
    ? order[plan.groupBy.indexOf(plan.sort as GroupField)]!.split(", ")
      .map((c) => `${c} ${plan.order}`).join(", ")
    : `${plan.sort} ${plan.order}`;
  const orderBy = [sortKey, ...order].join(", ");
  return `
    WITH m AS (
      SELECT ${[...inner, SUMS].join(", ")}${flows}
      FROM ${flowRows(plan, p, rolled)} f
      WHERE ${flowWhere(plan, p)}
      ${inner.length === 0 ? "" : `GROUP BY ${inner.map((_, i) => i + 1).join(", ")}`}
      ${inner.length === 0 ? "HAVING count(*) > 0" : ""}
    )
    -- The rows shown are chosen first; only they are turned into text (address text for
    -- every group of a day was half of a 24-hour question).
    , shown AS (
      SELECT *, count(*) OVER () AS _rows, sum(packets) OVER () AS _packets,
        sum(bytes) OVER () AS _bytes
      FROM m
      ORDER BY ${orderBy} NULLS LAST
      LIMIT ${p.add(plan.limit)}
    )
    SELECT ${[...outer, "packets", "bytes"].join(", ")}${flows === "" ? "" : ", flows"},
      _rows, _packets, _bytes
    FROM shown
    ORDER BY ${orderBy} NULLS LAST`;
}

/** The summary every answer carries. */
async function summarize(
  ctx: QueryContext,
  plan: Plan,
  matched: Summary["matched"],
  shown: number,
): Promise<Summary> {
  const { fromSec, toSec } = plan.range;
  // The range's totals and losses are the same for every question of it while the store is
  // unchanged: a dashboard's panels ask one range several ways.
  const w = await memoized(ctx, `range ${plan.task} ${fromSec} ${toSec}`, async () => {
    const p = new SqlParams();
    const from = p.timestamp(fromSec), to = p.timestamp(toSec);
    const [row] = await select(
      ctx,
      `SELECT count(DISTINCT window_start) AS windows, min(epoch(window_start)) AS first,
         max(epoch(window_start) + window_sec) AS last, min(window_sec) AS window_sec,
         sum(packets) AS packets, sum(bytes) AS bytes, sum(late_packets) AS late,
         sum(capture_dropped) AS dropped, sum(capture_if_dropped) AS if_dropped,
         (SELECT sum(overflow_packets) FROM window_tasks x
           WHERE ${
        plan.taskWhere("x", p)
      } AND x.window_start >= ${from} AND x.window_start < ${to}) AS overflow,
         (SELECT sum(packets) FROM window_decode_errors e
           WHERE e.window_start >= ${from} AND e.window_start < ${to}) AS errors
       FROM window_totals WHERE window_start >= ${from} AND window_start < ${to}`,
      p.values,
    );
    return row;
  });
  const windows = num(w?.windows);
  return {
    task: plan.task,
    range: { from: iso(plan.range.fromSec), to: iso(plan.range.toSec) },
    covered: windows === 0 ? null : { from: iso(num(w!.first)), to: iso(num(w!.last)) },
    windows,
    window_sec: windows === 0 ? plan.windowSec : num(w!.window_sec),
    totals: { packets: num(w?.packets), bytes: num(w?.bytes) },
    matched,
    shown,
    ...(plan.stepSec === null ? {} : { step_sec: plan.stepSec }),
    losses: {
      capture_dropped: num(w?.dropped),
      capture_if_dropped: num(w?.if_dropped),
      overflow_packets: num(w?.overflow),
      late_packets: num(w?.late),
      decode_errors: num(w?.errors),
    },
    took_ms: 0,
  };
}
