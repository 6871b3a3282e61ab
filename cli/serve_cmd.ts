/**
 * `netspectra serve --db FILE`: the API (and the dashboard) over a stored analysis, read-only,
 * until SIGINT or SIGTERM. `analyze --serve` ends here too, once its report is written.
 *
 * @module
 */

import { type Config, loadConfig } from "../collector/config/mod.ts";
import { UserError } from "../collector/user_error.ts";
import { httpApp, LISTEN_DEFAULT, parseListen, serve } from "../routes/mod.ts";
import { apiAccess } from "./api_access.ts";
import { parseArgs, parseDbPath, parseDuration, UsageError } from "./args.ts";
import { DB_DEFAULT, DB_WAIT_SEC_DEFAULT } from "./store_flags.ts";

export const SERVE_USAGE = `netspectra serve [--db FILE] [--listen ADDR] [--config FILE]
  the API (/api/v1) and the dashboard (/) over a stored analysis, until Ctrl-C
  --db FILE       the store (default ./${DB_DEFAULT}; the config's store.path)
  --listen ADDR   where to listen (default ${LISTEN_DEFAULT})
  --config FILE   for http.tokens and http.tls (none: an admin token is made in FILE.token)
  --db-wait DUR   wait this long for a process writing the store (default ${DB_WAIT_SEC_DEFAULT}s)`;

/** Memory the API's questions may use in all (a query needing more fails, the box goes on). */
const SERVE_MEMORY_BYTES = 1 << 30;

export async function serveCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(
    argv,
    { values: ["db", "listen", "config", "db-wait"], booleans: [] },
    "serve",
  );
  if (args.positionals.length > 0) {
    throw new UsageError(`serve: takes no files (serve the store they went to: --db FILE)`);
  }
  const configPath = args.values.get("config");
  const cfg = configPath === undefined ? null : await loadConfig(configPath);
  const dbPath = parseDbPath(args.values.get("db")) ?? cfg?.store.path ?? DB_DEFAULT;
  const waitSec = parseDuration(
    "db-wait",
    args.values.get("db-wait") ?? `${DB_WAIT_SEC_DEFAULT}s`,
    0,
    3600,
  );
  return await serveStore({ dbPath, listenText: args.values.get("listen"), cfg, waitSec });
}

export interface ServeOptions {
  dbPath: string;
  listenText: string | undefined;
  cfg: Config | null;
  waitSec: number;
}

export async function serveStore(o: ServeOptions): Promise<number> {
  if (o.dbPath === ":memory:") throw new UsageError("serve: needs a store file (--db FILE)");
  try {
    await Deno.stat(o.dbPath);
  } catch {
    throw new UserError(
      `serve: no store at ${o.dbPath} (write one with: netspectra analyze --db ${o.dbPath} FILE)`,
    );
  }
  const listenText = o.listenText ?? o.cfg?.listen ?? LISTEN_DEFAULT;
  if (listenText === "off") throw new UsageError("serve: --listen off leaves nothing to serve");
  const listen = parseListen(listenText);
  const say = (msg: string, fields: Record<string, unknown>) =>
    console.error(
      `netspectra: ${msg}${Object.entries(fields).map(([k, v]) => ` ${k}=${v}`).join("")}`,
    );
  const { auth, tls } = await apiAccess({
    tokens: o.cfg?.tokens ?? [],
    tls: o.cfg?.tls,
    dbPath: o.dbPath,
    listen,
    say,
  });
  const { Store, SCHEMA_VERSION } = await import("../storage/mod.ts");
  const open = () =>
    Store.open(o.dbPath, {
      readOnly: true,
      sandboxed: true,
      waitMs: o.waitSec * 1000,
      memoryLimitBytes: SERVE_MEMORY_BYTES,
    });
  let store = await open();
  if (await store.schemaVersion() < SCHEMA_VERSION) {
    // Written by an older version: brought up to date once (as analyze or run would), so the
    // API's questions find what they ask for; a reader cannot migrate.
    store.closeSync();
    await (await Store.open(o.dbPath, { waitMs: o.waitSec * 1000 })).close();
    say("the store's schema was brought up to date", { version: SCHEMA_VERSION });
    store = await open();
  }
  try {
    const { app, hub } = await httpApp({
      store,
      storePath: o.dbPath,
      auth,
      status: null,
      contactToken: null,
      tls: tls !== null,
      log: (e) => console.error(`netspectra: internal error: ${e instanceof Error ? e.stack : e}`),
    });
    const server = serve(app, listen, tls);
    const scheme = tls === null ? "http" : "https";
    say("serving", { url: `${scheme}://${server.hostname}:${server.port}/`, store: o.dbPath });
    await stopSignal();
    await hub.stop();
    await server.close();
  } finally {
    store.closeSync();
  }
  return 0;
}

/** Resolves at the first SIGINT or SIGTERM. */
function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
      resolve();
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
}
