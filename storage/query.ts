/**
 * Read-only SQL on the store for people (`netspectra sql`, later the API): one statement,
 * SELECT only, in a read-only, sandboxed instance (no files, no network, configuration
 * locked), with a row cap and a timeout.
 *
 * @module
 */

import { type DuckDBConnection, JsonDuckDBValueConverter, StatementType } from "@duckdb/node-api";
import { UserError } from "../collector/user_error.ts";

/** What a query runs on: a store opened for reading, or a reader connection of the writer's. */
export interface QueryTarget {
  readonly con: DuckDBConnection;
}

export const QUERY_ROWS_MAX_DEFAULT = 10_000;
export const QUERY_TIMEOUT_MS_DEFAULT = 30_000;

/** A statement the read-only SQL interface does not run. */
export class QueryRefusedError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = "QueryRefusedError";
  }
}

const NUMERIC_TYPE = /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DECIMAL.*|DOUBLE|FLOAT|REAL)$/;

/** What a query's rows look like, given before the first row. */
export interface QueryHead {
  columns: string[];
  /** Per column: a number type (right-aligned in tables). */
  numeric: boolean[];
}

export interface QueryResult extends QueryHead {
  /** Rows as JSON-safe values (integers beyond 2^53 as strings). */
  rows: unknown[][];
  /** True when the row cap cut the result short. */
  truncated: boolean;
}

/** Statements whose leading keyword reads only (DuckDB's type check still decides). */
const READ_KEYWORDS = /^(SELECT|WITH|FROM|VALUES|TABLE|SHOW|DESCRIBE|SUMMARIZE|PRAGMA|\()/i;

/** The statement's leading keyword, comments skipped ("" when there is none). */
export function leadingKeyword(sql: string): string {
  let t = sql;
  for (;;) {
    t = t.trimStart();
    if (t.startsWith("--")) {
      const nl = t.indexOf("\n");
      t = nl < 0 ? "" : t.slice(nl + 1);
    } else if (t.startsWith("/*")) {
      const end = t.indexOf("*/");
      t = end < 0 ? "" : t.slice(end + 2);
    } else break;
  }
  return /^(\(|[A-Za-z_]+)/.exec(t)?.[1]?.toUpperCase() ?? "";
}

/** 64-bit integers come as strings from DuckDB's JSON rows: numbers where exact. */
function jsonCell(v: unknown): unknown {
  if (typeof v === "string" && /^-?\d{1,16}$/.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  return v;
}

/**
 * Runs one read-only statement, handing its rows over chunk by chunk (`onRows`, at most
 * `maxRows` in all) so a large result is never one string. Throws QueryRefusedError for an
 * empty query, anything but a single reading statement (named by its own keyword), and a
 * query that runs past `timeoutMs` (it is interrupted).
 */
export async function streamReadOnlyQuery(
  store: QueryTarget,
  sql: string,
  opts: {
    maxRows?: number;
    timeoutMs?: number;
    onHead: (head: QueryHead) => void | Promise<void>;
    onRows: (rows: unknown[][]) => void | Promise<void>;
  },
): Promise<{ rows: number; truncated: boolean }> {
  const maxRows = opts.maxRows ?? QUERY_ROWS_MAX_DEFAULT;
  const timeoutMs = opts.timeoutMs ?? QUERY_TIMEOUT_MS_DEFAULT;
  const keyword = leadingKeyword(sql);
  if (keyword === "") {
    throw new QueryRefusedError("The query is empty (or only comments): give one SELECT");
  }
  // Parsed first (a typo is a parser error), then refused by kind before anything is bound.
  const extracted = await store.con.extractStatements(sql);
  if (extracted.count !== 1) {
    throw new QueryRefusedError(`Give exactly one SQL statement (got ${extracted.count})`);
  }
  if (!READ_KEYWORDS.test(keyword)) {
    throw new QueryRefusedError(
      `Only read-only statements (SELECT, WITH … SELECT) are allowed, got ${keyword}`,
    );
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    store.con.interrupt();
  }, timeoutMs);
  try {
    const prepared = await extracted.prepare(0);
    if (prepared.statementType !== StatementType.SELECT) {
      throw new QueryRefusedError(
        `Only read-only statements (SELECT, WITH … SELECT) are allowed, got ${keyword}`,
      );
    }
    const result = await prepared.stream();
    await opts.onHead({
      columns: result.columnNames(),
      // JSON rows carry 64/128-bit integers as strings; the type says they are numbers.
      numeric: result.columnTypes().map((t) => NUMERIC_TYPE.test(t.toString())),
    });
    let n = 0;
    for (;;) {
      const chunk = await result.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) return { rows: n, truncated: false };
      const rows = chunk.convertRows(JsonDuckDBValueConverter) as unknown[][];
      const take = Math.min(rows.length, maxRows - n);
      for (let r = 0; r < take; r++) rows[r] = rows[r]!.map(jsonCell);
      await opts.onRows(take < rows.length ? rows.slice(0, take) : rows);
      n += take;
      if (n >= maxRows) {
        // One more row decides whether the cap cut anything.
        const more = take < rows.length || ((await result.fetchChunk())?.rowCount ?? 0) > 0;
        return { rows: n, truncated: more };
      }
    }
  } catch (e) {
    if (timedOut) {
      throw new QueryRefusedError(
        `The query ran longer than ${timeoutMs / 1000} s and was stopped`,
      );
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one read-only statement and returns its rows (see streamReadOnlyQuery). */
export async function runReadOnlyQuery(
  store: QueryTarget,
  sql: string,
  opts: { maxRows?: number; timeoutMs?: number } = {},
): Promise<QueryResult> {
  let head: QueryHead = { columns: [], numeric: [] };
  const rows: unknown[][] = [];
  const r = await streamReadOnlyQuery(store, sql, {
    ...opts,
    onHead: (h) => void (head = h),
    onRows: (chunk) => {
      for (const row of chunk) rows.push(row);
    },
  });
  return { ...head, rows, truncated: r.truncated };
}
