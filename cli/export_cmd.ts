/**
 * `netspectra export status|retry`: the operator's view of forwarding. `status` shows each
 * sink's outbox (what waits, since when, the latest error) — asked of the running daemon when
 * it holds the store, as `sql` is. `retry` sends what waits in a store's outbox now, with the
 * config's sinks, and exits once it is there (a daemon retries on its own, with backoff).
 *
 * @module
 */

import { loadConfig, type SinkConfig } from "../collector/config/mod.ts";
import { parseArgs, parseDbPath, parseDuration, UsageError } from "./args.ts";
import { readContact } from "./daemon_contact.ts";
import { DB_DEFAULT } from "./store_flags.ts";
import { sqlCommand } from "./sql_cmd.ts";

export const EXPORT_USAGE = `netspectra export status [--db FILE] [--format table|csv|json]
  netspectra export retry --config FILE [--sink NAME] [--db FILE] [--wait DUR]

  status             per sink: windows waiting in the store's outbox and sent, rows waiting,
                     the oldest waiting window's store time and the latest error
  retry              send what waits in the outbox now, to the config's sinks (--sink: one of
                     them); exits 0 once it is there, 1 if a sink takes nothing for --wait
                     (default 30s; the windows stay)`;

/** The outbox per sink, as `status` shows it. */
const STATUS_SQL = `
  SELECT sink, count(*) FILTER (WHERE state <> 'sent') AS waiting,
    count(*) FILTER (WHERE state = 'sent') AS sent,
    coalesce(sum(rows) FILTER (WHERE state <> 'sent'), 0) AS rows_waiting,
    min(created_at) FILTER (WHERE state <> 'sent') AS oldest_waiting,
    max(sent_at) AS last_sent,
    arg_max(last_error, commit_seq) FILTER (WHERE state <> 'sent' AND last_error IS NOT NULL)
      AS last_error
  FROM export_outbox GROUP BY sink ORDER BY sink`;

export async function exportCommand(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "status") {
    const args = parseArgs(rest, { values: ["db", "format"], booleans: [] }, "export status");
    const db = parseDbPath(args.values.get("db")) ?? DB_DEFAULT;
    return await sqlCommand([
      "--db",
      db,
      ...(args.values.has("format") ? ["--format", args.values.get("format")!] : []),
      STATUS_SQL,
    ]);
  }
  if (sub === "retry") return await retry(rest);
  throw new UsageError(`export: give status or retry (see: netspectra export --help)`);
}

async function retry(argv: readonly string[]): Promise<number> {
  const args = parseArgs(
    argv,
    { values: ["db", "config", "sink", "wait"], booleans: [] },
    "export retry",
  );
  const waitSec = parseDuration("wait", args.values.get("wait") ?? "30s", 1, 86400);
  const configPath = args.values.get("config");
  if (configPath === undefined) {
    throw new UsageError("export retry: give --config FILE (its sinks: say where windows go)");
  }
  const cfg = await loadConfig(configPath);
  const name = args.values.get("sink");
  const sinks: SinkConfig[] = name === undefined
    ? cfg.sinks
    : cfg.sinks.filter((s) => s.name === name);
  if (sinks.length === 0) {
    throw new UsageError(
      name === undefined
        ? `export retry: ${configPath} names no sinks`
        : `export retry: no sink "${name}" in ${configPath} (sinks: ${
          cfg.sinks.map((s) => s.name).join(", ") || "none"
        })`,
    );
  }
  const db = parseDbPath(args.values.get("db")) ?? DB_DEFAULT;
  if (await readContact(db) !== null) {
    console.error(
      `netspectra: a daemon holds ${db} and forwards on its own (it tries a failed sink again ` +
        `after at most 30 s); see netspectra export status`,
    );
    return 1;
  }
  const { Store } = await import("../storage/mod.ts");
  const { startForwarding } = await import("../forward/mod.ts");
  const store = await Store.open(db, { waitMs: 5000 });
  try {
    const f = await startForwarding(store, sinks, (level, msg, fields) =>
      console.error(
        `netspectra: ${level === "warn" ? "warning: " : ""}${msg}: ${
          Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(" ")
        }`,
      ));
    const ok = await f.drained(waitSec * 1000);
    await f.stop();
    const left = new Map((await store.exportBacklog()).map((b) => [b.sink, b.pending]));
    for (const [sink, k] of f.counters) {
      console.error(
        `netspectra: sink ${sink}: ${k.inserted} window(s) sent, ${k.present} found there ` +
          `already, ${left.get(sink) ?? 0} waiting` +
          (k.error === null ? "" : ` (last error: ${k.error})`),
      );
    }
    return ok ? 0 : 1;
  } finally {
    await store.close();
  }
}
