/**
 * Read-only SQL on the store for people (`netspectra sql`, later the API): one statement,
 * SELECT only, in a read-only, sandboxed instance (no files, no network, configuration
 * locked), with a row cap and a timeout.
 *
 * @module
 */

import { StatementType } from "@duckdb/node-api";
import { UserError } from "../collector/user_error.ts";
import type { Store } from "./store.ts";

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

export interface QueryResult {
  columns: string[];
  /** Per column: a number type (right-aligned in tables). */
  numeric: boolean[];
  /** Rows as JSON-safe values (big integers as strings when beyond 2^53). */
  rows: unknown[][];
  /** True when the row cap cut the result short. */
  truncated: boolean;
}

/**
 * Runs one read-only statement. Throws QueryRefusedError for anything but a single SELECT,
 * and for a query that runs past `timeoutMs` (it is interrupted).
 */
export async function runReadOnlyQuery(
  store: Store,
  sql: string,
  opts: { maxRows?: number; timeoutMs?: number } = {},
): Promise<QueryResult> {
  const maxRows = opts.maxRows ?? QUERY_ROWS_MAX_DEFAULT;
  const timeoutMs = opts.timeoutMs ?? QUERY_TIMEOUT_MS_DEFAULT;
  const extracted = await store.con.extractStatements(sql);
  if (extracted.count !== 1) {
    throw new QueryRefusedError(`Give exactly one SQL statement (got ${extracted.count})`);
  }
  const prepared = await extracted.prepare(0);
  if (prepared.statementType !== StatementType.SELECT) {
    throw new QueryRefusedError(
      `Only read-only statements (SELECT, WITH … SELECT) are allowed, got ${
        StatementType[prepared.statementType]
      }`,
    );
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    store.con.interrupt();
  }, timeoutMs);
  try {
    const reader = await prepared.streamAndReadUntil(maxRows + 1);
    const rows = reader.getRowsJson() as unknown[][];
    const truncated = rows.length > maxRows;
    return {
      columns: reader.columnNames(),
      // JSON rows carry 64/128-bit integers as strings; the type says they are numbers.
      numeric: reader.columnTypes().map((t) => NUMERIC_TYPE.test(t.toString())),
      rows: truncated ? rows.slice(0, maxRows) : rows,
      truncated,
    };
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
