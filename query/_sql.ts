/**
 * Running the API's own SELECTs: bound parameters, a timeout that interrupts the query, and
 * rows as JSON-ready objects (integers as numbers where exact, else as decimal strings).
 *
 * @module
 */

import type { DuckDBConnection } from "@duckdb/node-api";
import { UserError } from "../collector/user_error.ts";
import type { RangeViews } from "./range_views.ts";

export type Row = Record<string, unknown>;

/** A question the API asks the store: one connection of its own per question. */
export interface QueryContext {
  readonly con: DuckDBConnection;
  /** The query is interrupted after this long (a 400 saying so, not a stuck request). */
  readonly timeoutMs: number;
  /**
   * What questions share while the store has not changed (the store's facts, a range's
   * totals), when the caller keeps it: a new map after every commit (routes/_api_env.ts).
   */
  readonly memo?: Map<string, Promise<unknown>>;
  /** The store's range views (query/range_views.ts), when the caller keeps them. */
  readonly views?: RangeViews;
}

export const QUERY_TIMEOUT_MS_DEFAULT = 10_000;

export async function select(ctx: QueryContext, sql: string, params: unknown[]): Promise<Row[]> {
  const r = await run(ctx, sql, params);
  const names = r.columnNames(), types = r.columnTypes();
  const wide = names.filter((_, i) => WIDE_INTEGER.test(types[i]!.toString()));
  const rows = r.getRowObjectsJson() as Row[];
  for (const row of rows) for (const k of wide) row[k] = exact(row[k]);
  return rows;
}

/**
 * The answer's columns as JS values (numbers, strings; BIGINT as bigint): for many rows, where
 * an object per row costs more than the question.
 */
export async function selectColumns(
  ctx: QueryContext,
  sql: string,
  params: unknown[],
): Promise<unknown[][]> {
  const r = await run(ctx, sql, params);
  const columns = r.getColumnsJS();
  // No rows, no columns at all: give each its empty array.
  while (columns.length < r.columnCount) columns.push([]);
  return columns;
}

/**
 * Runs `fn` in one read transaction on the question's connection: every query of `fn` sees
 * one state of the store, whatever the writer commits meanwhile.
 */
export async function inTransaction<T>(ctx: QueryContext, fn: () => Promise<T>): Promise<T> {
  await ctx.con.run("BEGIN TRANSACTION");
  try {
    const out = await fn();
    await ctx.con.run("COMMIT");
    return out;
  } catch (e) {
    await ctx.con.run("ROLLBACK").catch(() => {});
    throw e;
  }
}

async function run(ctx: QueryContext, sql: string, params: unknown[]) {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctx.con.interrupt();
  }, ctx.timeoutMs);
  try {
    return await ctx.con.runAndReadAll(sql, params as never);
  } catch (e) {
    if (timedOut) {
      throw new UserError(`The query ran longer than ${ctx.timeoutMs / 1000} s and was stopped`);
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** Column types that DuckDB's JSON rows give as strings. */
const WIDE_INTEGER = /^U?(BIG|HUGE)INT$|^DECIMAL/;

/** A wide integer as a number where that is exact, else its decimal string. */
function exact(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const n = Number(v);
  return Number.isSafeInteger(n) || (v.includes(".") && Number.isFinite(n)) ? n : v;
}

/**
 * `compute`'s answer, kept in `ctx.memo` under `key` for the questions after it (a failed
 * answer is not kept). Keep only what depends on the store alone, and never change it.
 */
export function memoized<T>(ctx: QueryContext, key: string, compute: () => Promise<T>): Promise<T> {
  const memo = ctx.memo;
  if (memo === undefined) return compute();
  const hit = memo.get(key);
  if (hit !== undefined) return hit as Promise<T>;
  const p = compute();
  memo.set(key, p);
  p.catch(() => memo.delete(key));
  return p;
}

/** A number from a row's cell (NULL: 0). */
export function num(v: unknown): number {
  return v === null || v === undefined ? 0 : Number(v);
}
