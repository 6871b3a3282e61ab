/**
 * `netspectra sql [--db FILE] [--format table|csv|json] [--max-rows N] [--timeout DUR] "SELECT …"`
 *
 * @module
 */

import { UserError } from "../collector/user_error.ts";
import { REPORT_FORMATS, type ReportFormat } from "./report/mod.ts";
import { parseArgs, parseCount, parseDbPath, parseDuration, UsageError } from "./args.ts";
import { DB_DEFAULT } from "./analyze_cmd.ts";
import { alignRows, BufferedStdout } from "./report/mod.ts";
import type { QueryHead } from "../storage/mod.ts";
import type { SqlAnswer } from "../routes/mod.ts";
import { type DaemonContact, readContact } from "./daemon_contact.ts";

export const SQL_USAGE = `netspectra sql [options] "SELECT ..."
  read-only SQL on a store written by analyze --db (tables: storage/README.md)
  --db FILE        the store (default ./${DB_DEFAULT})
  --format FMT     table (default), csv or json
  --max-rows N     rows at most (default 10000); more are cut with a note on stderr
  --timeout DUR    stop the query after this long (default 30s)
  --memory-limit N memory the query may use (default 1G); a query needing more fails
  --db-wait DUR    wait this long for a process writing the store to finish (default 5s)
  While netspectra run writes the store, the query is asked of it (same limits; its memory).`;

function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

const esc = (s: string) => /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;

export async function sqlCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, {
    values: ["db", "format", "max-rows", "timeout", "db-wait", "memory-limit"],
    booleans: [],
  }, "sql");
  if (args.positionals.length !== 1) {
    throw new UsageError('sql: give the query as one argument, e.g. netspectra sql "SELECT 1"');
  }
  const format = (args.values.get("format") ?? "table") as ReportFormat;
  if (!REPORT_FORMATS.includes(format)) {
    throw new UsageError(`sql: --format must be one of ${REPORT_FORMATS.join(", ")}`);
  }
  const maxRows = parseCount("max-rows", args.values.get("max-rows") ?? "10000", 1, 1_000_000);
  const timeoutSec = parseDuration("timeout", args.values.get("timeout") ?? "30s", 1, 3600);
  const waitSec = parseDuration("db-wait", args.values.get("db-wait") ?? "5s", 0, 3600);
  const memoryLimitBytes = parseCount(
    "memory-limit",
    args.values.get("memory-limit") ?? "1G",
    16 << 20,
    2 ** 40,
  );
  const db = parseDbPath(args.values.get("db")) ?? DB_DEFAULT;
  try {
    await Deno.stat(db);
  } catch {
    throw new UserError(
      `sql: no store at ${db} (write one with: netspectra analyze --db ${db} FILE)`,
    );
  }
  const out = new BufferedStdout();
  let head: QueryHead = { columns: [], numeric: [] };
  // A table needs its widths first, so it keeps its (capped) rows; csv and json stream.
  const tableRows: string[][] = [];
  let first = true;
  const onHead = async (h: QueryHead) => {
    head = h;
    if (format === "csv") await out.write(h.columns.map(esc).join(",") + "\n");
    else if (format === "json") await out.write("[");
  };
  const onRows = async (rows: unknown[][]) => {
    for (const row of rows) {
      if (format === "csv") await out.write(row.map((v) => esc(cell(v))).join(",") + "\n");
      else if (format === "json") {
        const o = Object.fromEntries(head.columns.map((c, k) => [c, row[k]]));
        await out.write((first ? "\n " : ",\n ") + JSON.stringify(o));
      } else tableRows.push(row.map(cell));
      first = false;
    }
  };
  const sql = args.positionals[0]!;
  // A daemon writing the store holds it: it answers instead (capture goes on).
  const daemon = await readContact(db);
  let r = daemon === null
    ? null
    : await askDaemon(daemon, sql, maxRows, timeoutSec * 1000, onHead, onRows);
  let store: { closeSync(): void } | null = null;
  try {
    if (r === null) {
      const { Store } = await import("../storage/mod.ts");
      const { streamReadOnlyQuery } = await import("../storage/mod.ts");
      const opened = await Store.open(db, {
        readOnly: true,
        sandboxed: true,
        waitMs: waitSec * 1000,
        memoryLimitBytes,
      });
      store = opened;
      try {
        r = await streamReadOnlyQuery(opened, sql, {
          maxRows,
          timeoutMs: timeoutSec * 1000,
          onHead,
          onRows,
        });
      } catch (e) {
        // DuckDB's own errors (syntax, unknown table, refused file access) are user mistakes.
        if (e instanceof Error && !(e instanceof UserError)) {
          throw new UserError(`sql: ${e.message.split("\n")[0]}`);
        }
        throw e;
      }
    }
    if (format === "json") await out.write(first ? "]\n" : "\n]\n");
    else if (format === "table") {
      for (const line of alignRows(head.columns, tableRows, head.numeric)) {
        await out.write(line + "\n");
      }
    }
    await out.flush();
    if (r.truncated) console.error(`netspectra: result cut at ${maxRows} rows (--max-rows)`);
    return 0;
  } finally {
    store?.closeSync();
  }
}

/**
 * The query asked of the daemon at `c` (POST /v1/sql); null when no daemon of this store
 * answers there (a stale contact: the file is then opened as usual). A refused or failing query is a UserError.
 */
async function askDaemon(
  c: DaemonContact,
  sql: string,
  maxRows: number,
  timeoutMs: number,
  onHead: (h: QueryHead) => Promise<void>,
  onRows: (rows: unknown[][]) => Promise<void>,
): Promise<{ truncated: boolean } | null> {
  let res: Response;
  // A daemon serving HTTPS: its own certificate is the one to trust (it may be self-signed).
  const client = c.cert === undefined ? undefined : Deno.createHttpClient({ caCerts: [c.cert] });
  try {
    res = await fetch(new URL("v1/sql", c.url), {
      method: "POST",
      headers: { authorization: `Bearer ${c.token}`, "content-type": "application/json" },
      body: JSON.stringify({ sql, max_rows: maxRows, timeout_ms: timeoutMs }),
      signal: AbortSignal.timeout(timeoutMs + 10_000),
      client,
    });
  } catch (e) {
    client?.close();
    if (e instanceof Deno.errors.NotCapable) throw e;
    return null;
  }
  const body = await res.json().catch(() => null);
  client?.close();
  // Not this store's daemon (a stale contact whose port another program took).
  if (res.status === 401 || res.status === 404 || body === null) return null;
  if (!res.ok) {
    if (body?.refused === true) throw new UserError(String(body.error));
    throw new UserError(`sql: ${body?.error ?? `the running collector answered ${res.status}`}`);
  }
  const a = body as SqlAnswer;
  await onHead({ columns: a.columns, numeric: a.numeric });
  await onRows(a.rows);
  return { truncated: a.truncated };
}
