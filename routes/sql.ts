/**
 * `POST /v1/sql`: read-only SQL on the running collector's store, for `netspectra sql` while
 * the daemon holds the file (DuckDB lets one process write it). Same guard, row cap and
 * timeout as the CLI (storage/query.ts), on a reader connection of its own. Only callers that
 * hold the token the daemon wrote beside the store (a file only its owner reads) may ask.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import type { Hono } from "hono";
import type { DuckDBConnection } from "@duckdb/node-api";
import { bodyLimit } from "hono/body-limit";
import { UserError } from "../collector/user_error.ts";
import type { QueryHead, Store } from "../storage/mod.ts";

export const SQL_BODY_BYTES_MAX = 64 * 1024;
export const SQL_ROWS_MAX = 1_000_000;
export const SQL_TIMEOUT_MS_MAX = 3_600_000;

/** What POST /v1/sql answers: the result whole (rows capped by max_rows). */
export interface SqlAnswer extends QueryHead {
  rows: unknown[][];
  truncated: boolean;
}

/** Whether `given` is the token, compared in time that does not depend on where they differ. */
function sameToken(given: string, token: string): boolean {
  const a = new TextEncoder().encode(given), b = new TextEncoder().encode(token);
  // The token's length is no secret (64 hex digits); its bytes are.
  return a.length === b.length && timingSafeEqual(a, b);
}

export function sqlRoutes(app: Hono, store: Store, token: string): void {
  app.post(
    "/v1/sql",
    bodyLimit({
      maxSize: SQL_BODY_BYTES_MAX,
      onError: (c) => c.json({ error: `The request is over ${SQL_BODY_BYTES_MAX} bytes` }, 413),
    }),
    async (c) => {
      const auth = c.req.header("authorization") ?? "";
      if (!auth.startsWith("Bearer ") || !sameToken(auth.slice(7), token)) {
        return c.json({ error: "A valid bearer token is needed" }, 401);
      }
      let body: { sql?: unknown; max_rows?: unknown; timeout_ms?: unknown };
      try {
        body = await c.req.json();
      } catch {
        return c.json({ error: "The body must be a JSON object" }, 400);
      }
      // Valid JSON that is not an object (null, a number, a list) is no request either.
      if (typeof body !== "object" || body === null || Array.isArray(body)) body = {};
      const { sql } = body;
      const maxRows = body.max_rows ?? 10_000, timeoutMs = body.timeout_ms ?? 30_000;
      if (
        typeof sql !== "string" || !Number.isInteger(maxRows) || !Number.isInteger(timeoutMs) ||
        (maxRows as number) < 1 || (maxRows as number) > SQL_ROWS_MAX ||
        (timeoutMs as number) < 1 || (timeoutMs as number) > SQL_TIMEOUT_MS_MAX
      ) {
        return c.json({
          error: `Give {"sql": "...", "max_rows": 1..${SQL_ROWS_MAX}, ` +
            `"timeout_ms": 1..${SQL_TIMEOUT_MS_MAX}}`,
        }, 400);
      }
      const con = await store.readerConnection();
      try {
        return c.json(await runSql(con, sql, maxRows as number, timeoutMs as number));
      } catch (e) {
        if (!(e instanceof SqlError)) throw e;
        return c.json({ error: e.message, refused: e.refused }, 400);
      } finally {
        con.closeSync();
      }
    },
  );
}

/** A statement refused or rejected by DuckDB: the asker's mistake (400), never ours. */
export class SqlError extends UserError {
  constructor(message: string, readonly refused: boolean) {
    super(message);
    this.name = "SqlError";
  }
}

/**
 * One read-only statement's whole answer (rows capped by maxRows). A refused statement or
 * one DuckDB rejects (syntax, unknown table) throws SqlError. Shared by /v1/sql and
 * /api/v1/sql.
 */
export async function runSql(
  con: DuckDBConnection,
  sql: string,
  maxRows: number,
  timeoutMs: number,
): Promise<SqlAnswer> {
  // Loaded on use: the commands that only import routes do without DuckDB's module.
  const { streamReadOnlyQuery } = await import("../storage/mod.ts");
  const answer: SqlAnswer = { columns: [], numeric: [], rows: [], truncated: false };
  try {
    const r = await streamReadOnlyQuery({ con }, sql, {
      maxRows,
      timeoutMs,
      onHead: (h) => void (answer.columns = h.columns, answer.numeric = h.numeric),
      onRows: (rows) => {
        for (const row of rows) answer.rows.push(row);
      },
    });
    answer.truncated = r.truncated;
    return answer;
  } catch (e) {
    const message = e instanceof Error ? e.message.split("\n")[0]! : String(e);
    throw new SqlError(message, e instanceof UserError);
  }
}
