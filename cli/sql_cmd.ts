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

export const SQL_USAGE = `netspectra sql [options] "SELECT ..."
  read-only SQL on a store written by analyze --db (tables: storage/README.md)
  --db FILE        the store (default ./${DB_DEFAULT})
  --format FMT     table (default), csv or json
  --max-rows N     rows at most (default 10000); more are cut with a note on stderr
  --timeout DUR    stop the query after this long (default 30s)
  --memory-limit N memory the query may use (default 1G); a query needing more fails
  --db-wait DUR    wait this long for a process writing the store to finish (default 5s)`;

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
  const { Store } = await import("../storage/mod.ts");
  const { streamReadOnlyQuery } = await import("../storage/mod.ts");
  const store = await Store.open(db, {
    readOnly: true,
    sandboxed: true,
    waitMs: waitSec * 1000,
    memoryLimitBytes,
  });
  try {
    const out = new BufferedStdout();
    let head: QueryHead = { columns: [], numeric: [] };
    // A table needs its widths first, so it keeps its (capped) rows; csv and json stream.
    const tableRows: string[][] = [];
    let first = true;
    let r;
    try {
      r = await streamReadOnlyQuery(store, args.positionals[0]!, {
        maxRows,
        timeoutMs: timeoutSec * 1000,
        onHead: async (h) => {
          head = h;
          if (format === "csv") await out.write(h.columns.map(esc).join(",") + "\n");
          else if (format === "json") await out.write("[");
        },
        onRows: async (rows) => {
          for (const row of rows) {
            if (format === "csv") await out.write(row.map((v) => esc(cell(v))).join(",") + "\n");
            else if (format === "json") {
              const o = Object.fromEntries(head.columns.map((c, k) => [c, row[k]]));
              await out.write((first ? "\n " : ",\n ") + JSON.stringify(o));
            } else tableRows.push(row.map(cell));
            first = false;
          }
        },
      });
    } catch (e) {
      // DuckDB's own errors (syntax, unknown table, refused file access) are user mistakes.
      if (e instanceof Error && !(e instanceof UserError)) {
        throw new UserError(`sql: ${e.message.split("\n")[0]}`);
      }
      throw e;
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
    store.closeSync();
  }
}
