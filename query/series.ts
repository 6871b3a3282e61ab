/**
 * Top-N and time series, built from the one flow question (flows.ts): a top-N answer ends
 * with an `other` row holding what the shown rows leave out, so the rows still add up to what
 * the filter matched; a series answer is column-oriented — the bucket times once, then one
 * array of values per series (the top groups, then `other`, each the same length, zeros where
 * a group had nothing) — the shape chart libraries such as uPlot draw directly.
 *
 * @module
 */

import { UserError } from "../collector/user_error.ts";
import { type Filter, FLOW_FIELDS, type Value } from "./filter.ts";
import { parseValue } from "./_fields.ts";
import {
  type FlowAnswer,
  type FlowQuestion,
  type GroupField,
  POINTS_MAX,
  queryFlows,
  type Summary,
} from "./flows.ts";
import { num, type QueryContext, type Row } from "./_sql.ts";

export const SERIES_DEFAULT = 5;
export const SERIES_MAX = 50;

/** The top `limit` values of `dimension` by the metric, and an `other` row after them. */
export async function topFlows(
  ctx: QueryContext,
  dimension: Exclude<GroupField, "time">,
  q: Omit<FlowQuestion, "groupBy" | "sort" | "order">,
): Promise<FlowAnswer> {
  const a = await queryFlows(ctx, { ...q, groupBy: [dimension] });
  const rest = a.summary.matched.rows - a.rows.length;
  if (rest > 0) {
    let packets = a.summary.matched.packets, bytes = a.summary.matched.bytes;
    for (const r of a.rows) packets -= num(r.packets), bytes -= num(r.bytes);
    a.rows.push({ [dimension]: "other", packets, bytes, other: rest });
  }
  return a;
}

export interface SeriesAnswer {
  summary: Summary;
  /** Bucket starts, epoch seconds, every bucket of the range (none left out). */
  times: number[];
  /** One per group (`key` its field values) and `other`; `values` aligned with `times`. */
  series: { label: string; key: Row | null; values: number[] }[];
}

/**
 * The metric per time bucket, in all or per group of `field` (its top `series` groups over the
 * range, the rest summed as `other`).
 */
export async function timeSeries(
  ctx: QueryContext,
  field: Exclude<GroupField, "time"> | null,
  series: number,
  q: Omit<FlowQuestion, "groupBy" | "sort" | "order" | "limit">,
): Promise<SeriesAnswer> {
  const t0 = performance.now();
  const total = await queryFlows(ctx, { ...q, groupBy: ["time"], limit: POINTS_MAX });
  const step = total.summary.step_sec!;
  const from = Math.floor(Date.parse(total.summary.range.from) / 1000 / step) * step;
  const to = Date.parse(total.summary.range.to) / 1000;
  const count = Math.ceil((to - from) / step);
  if (count > POINTS_MAX) {
    throw new UserError(`The range holds ${count} steps of ${step} s; at most ${POINTS_MAX}`);
  }
  const times = Array.from({ length: count }, (_, i) => from + i * step);
  const at = (t: unknown) => Math.round((num(t) - from) / step);
  const metric = q.metric;
  const totals = new Array<number>(count).fill(0);
  for (const r of total.rows) totals[at(r.time)] = num(r[metric]);
  if (field === null) {
    return finish(total.summary, times, [{ label: "total", key: null, values: totals }], t0);
  }
  const top = await queryFlows(ctx, { ...q, groupBy: [field], limit: series, metric });
  const keys = top.rows.filter((r) => r[field] !== null).map((r) => String(r[field]));
  const out: SeriesAnswer["series"] = keys.map((k) => ({
    label: k,
    key: { [field]: parseKeyText(field, k) },
    values: new Array<number>(count).fill(0),
  }));
  if (keys.length > 0) {
    const per = await queryFlows(ctx, {
      ...q,
      also: keysIn(field, keys),
      groupBy: ["time", field],
      limit: POINTS_MAX * SERIES_MAX,
    });
    for (const r of per.rows) {
      out[keys.indexOf(String(r[field]))]!.values[at(r.time)] = num(r[metric]);
    }
  }
  // The rest of each bucket: what no top group holds (flows are not additive: no other there).
  if (metric !== "flows") {
    const other = totals.map((v, i) => v - out.reduce((s, x) => s + x.values[i]!, 0));
    if (other.some((v) => v !== 0)) out.push({ label: "other", key: null, values: other });
  }
  return finish(total.summary, times, out, t0);
}

function finish(
  summary: Summary,
  times: number[],
  series: SeriesAnswer["series"],
  t0: number,
): SeriesAnswer {
  summary.shown = series.length;
  summary.took_ms = Math.round((performance.now() - t0) * 10) / 10;
  return { summary, times, series };
}

/** A key's text as the API gives it: a number for ports and the like, text for addresses. */
function parseKeyText(field: string, text: string): string | number {
  return field === "src_ip" || field === "dst_ip" ? text : Number(text);
}

/** `field in (keys)` as a syntax tree: the keys came from the store, so they parse. */
function keysIn(field: Exclude<GroupField, "time">, keys: string[]): Filter {
  const kind = FLOW_FIELDS.get(field)!;
  const values: Value[] = keys.map((k) => {
    const v = parseValue(kind, k);
    if (typeof v === "string") throw new Error(`internal error: stored key ${k} is no value: ${v}`);
    return v;
  });
  return { op: "in", field, kind, values, negated: false };
}
