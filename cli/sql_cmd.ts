/**
 * `netspectra sql [--db FILE] [--format table|csv|json] [--max-rows N] [--timeout DUR] "SELECT …"`
 *
 * @module
 */

import { UserError } from "../collector/user_error.ts";
import { REPORT_FORMATS, type ReportFormat } from "../collector/report.ts";
import { parseArgs, parseCount, parseDbPath, parseDuration, UsageError } from "./args.ts";
import { DB_DEFAULT, writeAll } from "./analyze_cmd.ts";
import { alignRows } from "./print_table.ts";

export const SQL_USAGE = `netspectra sql [options] "SELECT ..."
  read-only SQL on a store written by analyze --db (tables: storage/README.md)
  --db FILE        the store (default ./${DB_DEFAULT})
  --format FMT     table (default), csv or json
  --max-rows N     rows at most (default 10000); more are cut with a note on stderr
  --timeout DUR    stop the query after this long (default 30s)
  --db-wait DUR    wait this long for a process writing the store to finish (default 5s)`;

function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function asTable(columns: string[], numeric: boolean[], rows: unknown[][]): string {
  return alignRows(columns, rows.map((r) => r.map(cell)), numeric).join("\n") + "\n";
}

function asCsv(columns: string[], rows: unknown[][]): string {
  const esc = (s: string) => /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  return [columns.map(esc).join(","), ...rows.map((r) => r.map((v) => esc(cell(v))).join(","))]
    .join("\n") + "\n";
}

export async function sqlCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, {
    values: ["db", "format", "max-rows", "timeout", "db-wait"],
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
  const db = parseDbPath(args.values.get("db")) ?? DB_DEFAULT;
  try {
    await Deno.stat(db);
  } catch {
    throw new UserError(
      `sql: no store at ${db} (write one with: netspectra analyze --db ${db} FILE)`,
    );
  }
  const { Store } = await import("../storage/mod.ts");
  const { runReadOnlyQuery } = await import("../storage/query.ts");
  const store = await Store.open(db, { readOnly: true, sandboxed: true, waitMs: waitSec * 1000 });
  try {
    let r;
    try {
      r = await runReadOnlyQuery(store, args.positionals[0]!, {
        maxRows,
        timeoutMs: timeoutSec * 1000,
      });
    } catch (e) {
      // DuckDB's own errors (syntax, unknown table, refused file access) are user mistakes.
      if (e instanceof Error && !(e instanceof UserError)) {
        throw new UserError(`sql: ${e.message.split("\n")[0]}`);
      }
      throw e;
    }
    let text: string;
    if (format === "json") {
      text = JSON.stringify(
        r.rows.map((row) => Object.fromEntries(r.columns.map((c, k) => [c, row[k]]))),
        null,
        1,
      ) + "\n";
    } else if (format === "csv") text = asCsv(r.columns, r.rows);
    else text = asTable(r.columns, r.numeric, r.rows);
    await writeAll(Deno.stdout, new TextEncoder().encode(text));
    if (r.truncated) console.error(`netspectra: result cut at ${maxRows} rows (--max-rows)`);
    return 0;
  } finally {
    store.closeSync();
  }
}
