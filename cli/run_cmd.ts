/**
 * `netspectra run [--config F] [--interface DEV … | --replay FILE …]`: the collector daemon.
 * Sources (capture devices, replays) from flags or the config; windows into the store; HTTP
 * for operators (/healthz, /readyz, /metrics) and for `sql` while it runs; retention applied
 * periodically; JSON log lines on stderr. SIGINT / SIGTERM: the open windows are stored and the
 * exit code is 0. SIGHUP: the config is read again and what can change without a restart
 * (capture filters, retention, log level; tasks from the next window) does; an invalid config is
 * refused, the run goes on.
 *
 * @module
 */

import {
  type Config,
  ConfigError,
  loadConfig,
  LOG_LEVELS,
  type LogLevel,
  type SourceConfig,
} from "../collector/config/mod.ts";
import {
  defaultSketches,
  flowsMaxFor,
  type FlowTrackerOptions,
  LATENESS_SEC_DEFAULT,
  type SketchSpec,
  TABLE_MEMORY_DEFAULT,
  type TaskSpec,
} from "../collector/engine/mod.ts";
import {
  CollectorStatus,
  defaultTask,
  ingestFiles,
  ingestLive,
  WINDOW_SEC_DEFAULT,
} from "../collector/ingest/mod.ts";
import {
  BUFFER_BYTES_DEFAULT,
  BUFFER_BYTES_MAX,
  BUFFER_BYTES_MIN,
  type LiveOptions,
  SNAPLEN_DEFAULT,
} from "../collector/live/mod.ts";
import {
  type Auth,
  httpApp,
  LISTEN_DEFAULT,
  newToken,
  parseListen,
  serve,
  type Server,
} from "../routes/mod.ts";
import { apiAccess } from "./api_access.ts";
import type { Forwarder } from "../forward/mod.ts";
import { parseArgs, parseCount, type ParsedArgs, UsageError } from "./args.ts";
import { removeContact, writeContact } from "./daemon_contact.ts";
import { DB_DEFAULT, retentionOf, STORE_FLAGS, storeFlags } from "./store_flags.ts";

/** Retention runs every window while the daemon runs, at most this long apart, and at the end. */
export const RETENTION_EVERY_SEC_MAX = 60;

export const RUN_USAGE =
  `netspectra run [--config FILE] (--interface DEV | --replay FILE) ... [options]
  --interface DEV    capture from this network device (repeatable; needs root or CAP_NET_RAW)
  --replay FILE      feed a capture file through the daemon (repeatable): windows follow its
                     packet time, so it stores what analyze stores; --speed N: N times its
                     original pace (default 1; 0: as fast as it can be read). A run of replays
                     only ends once they are stored
  --filter EXPR      capture filter in tcpdump's language, e.g. "udp port 53" (default: all)
  --snaplen N        bytes kept of each frame (default ${SNAPLEN_DEFAULT})
  --buffer BYTES     the capture ring of each device (default ${BUFFER_BYTES_DEFAULT / 2 ** 20}M)
  --promisc          also take frames not addressed to this host
  --db FILE          the store (default ./${DB_DEFAULT})
  --window DUR       window length (default ${WINDOW_SEC_DEFAULT}s); --lateness DUR (default 2s)
  --sensor NAME      the sensor id every window carries (default: the host name)
  --config FILE      sources, tasks, window, flow timeouts, store, retention, http (listen,
                     tokens, tls), log_level (configs/netspectra.yaml); flags win; sources from flags
                     replace the config's
  --retain DUR, --retain-bytes N   retention (windows older than DUR before the newest; the
                     oldest until the store's used space fits N bytes), applied every window
                     (at least every ${RETENTION_EVERY_SEC_MAX} s) and at the end
  --no-sketches, --no-records   as for analyze
  --listen ADDR      HTTP: the API (/api/v1), /healthz, /readyz, /metrics, and netspectra sql
                     while this runs (default ${LISTEN_DEFAULT}; "off": none). API tokens:
                     the config's http.tokens, else an admin token made in FILE.token
  --log-level LVL    debug, info (default), warn or error
  Every window the clock passes is stored, an empty one with zero totals. SIGINT or SIGTERM
  stores the open windows and exits 0. SIGHUP reads the config again: capture filters,
  retention and the log level change at once, tasks from the next window (a new source);
  other changes need a restart (logged).`;

type LogFn = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

/** One JSON object per line on stderr, from the level `min()` says up. */
function logger(min: () => LogLevel): LogFn {
  return (level, msg, fields = {}) => {
    if (LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(min())) return;
    console.error(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields }));
  };
}

/** The sources: flags replace the config's; capture flags win over a config source's values. */
function sourcesOf(args: ParsedArgs, cfg: Config | null): {
  devices: LiveOptions[];
  replays: { file: string; speed: number }[];
} {
  const speedText = args.values.get("speed");
  const speed = speedText === undefined ? undefined : Number(speedText);
  if (speed !== undefined && (!(speed >= 0 && speed <= 1e6) || speedText!.trim() === "")) {
    throw new UsageError(`run: --speed must be a number from 0 to 1000000, got "${speedText}"`);
  }
  const snaplenText = args.values.get("snaplen");
  const bufferText = args.values.get("buffer");
  const flags: Partial<LiveOptions> = {
    filter: args.values.get("filter"),
    snaplen: snaplenText === undefined
      ? undefined
      : parseCount("snaplen", snaplenText, 64, SNAPLEN_DEFAULT),
    bufferBytes: bufferText === undefined
      ? undefined
      : parseCount("buffer", bufferText, BUFFER_BYTES_MIN, BUFFER_BYTES_MAX),
    promiscuous: args.booleans.has("promisc") ? true : undefined,
  };
  const fromFlags = args.lists.has("interface") || args.lists.has("replay");
  const sources: SourceConfig[] = fromFlags
    ? [
      ...(args.lists.get("interface") ?? []).map((d) => ({ interface: d })),
      ...(args.lists.get("replay") ?? []).map((f) => ({ replay: f })),
    ]
    : cfg?.sources ?? [];
  const devices: LiveOptions[] = [];
  const replays: { file: string; speed: number }[] = [];
  for (const s of sources) {
    if ("replay" in s) replays.push({ file: s.replay, speed: speed ?? s.speed ?? 1 });
    else {
      devices.push({
        device: s.interface,
        filter: flags.filter ?? s.filter,
        snaplen: flags.snaplen ?? s.snaplen,
        bufferBytes: flags.bufferBytes ?? s.bufferBytes,
        promiscuous: flags.promiscuous ?? s.promiscuous,
      });
    }
  }
  if (devices.length === 0 && replays.length === 0) {
    throw new UsageError("run: give at least one --interface or --replay (or sources in --config)");
  }
  const names = devices.map((d) => d.device);
  const twice = names.find((d, k) => names.indexOf(d) !== k);
  if (twice !== undefined) throw new UsageError(`run: device ${twice} is given twice`);
  if (new Set(replays.map((r) => r.speed)).size > 1) {
    throw new UsageError("run: every replay of one run goes at one speed");
  }
  return { devices, replays };
}

export async function runCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, {
    values: [
      ...STORE_FLAGS,
      "interface",
      "filter",
      "snaplen",
      "buffer",
      "config",
      "replay",
      "speed",
      "listen",
      "log-level",
      "retain",
      "retain-bytes",
    ],
    booleans: ["promisc", "no-sketches", "no-records"],
    repeated: ["interface", "replay"],
  }, "run");
  if (args.positionals.length > 0) {
    throw new UsageError(`run: unexpected argument "${args.positionals[0]}"`);
  }
  const levelFlag = args.values.get("log-level");
  if (levelFlag !== undefined && !(LOG_LEVELS as readonly string[]).includes(levelFlag)) {
    throw new UsageError(`run: --log-level must be one of ${LOG_LEVELS.join(", ")}`);
  }
  const configPath = args.values.get("config");
  const cfg = configPath === undefined ? null : await loadConfig(configPath);
  let level: LogLevel = (levelFlag as LogLevel | undefined) ?? cfg?.logLevel ?? "info";
  const log = logger(() => level);
  const listenText = args.values.get("listen") ?? cfg?.listen ?? LISTEN_DEFAULT;
  const listen = listenText === "off" ? null : parseListen(listenText);
  const { devices, replays } = sourcesOf(args, cfg);
  const { dbPath, windowSec, latenessSec, sensor, waitSec } = storeFlags(args, cfg, "run");
  let retention = retentionOf(args, cfg);
  const tasks: TaskSpec[] = cfg?.tasks ??
    [{ ...defaultTask(), flowsMax: flowsMaxFor(TABLE_MEMORY_DEFAULT, 1) }];
  const sketches = args.booleans.has("no-sketches") ? [] : cfg?.sketches ?? defaultSketches();
  const flows: FlowTrackerOptions | false | undefined =
    args.booleans.has("no-records") || cfg?.records === false ? false : cfg?.flows;

  // Loaded here: help and flag errors do without DuckDB's native module.
  const { Store } = await import("../storage/mod.ts");
  // The daemon answers people's SQL too (sql while it runs): no file but the store is read.
  const store = await Store.open(dbPath, { waitMs: waitSec * 1000, noFileAccess: true });
  const status = new CollectorStatus(windowSec, latenessSec ?? LATENESS_SEC_DEFAULT);
  // The contact file's token (netspectra sql while this runs): made anew every run.
  const token = newToken();
  let server: Server | null = null;
  let auth: Auth | null = null;
  let hub: { stop(): Promise<void> } | null = null;
  let url = "";
  // Said with the listening line, once capture runs (a device that cannot be opened is then
  // the only line).
  const sayLater: [string, Record<string, unknown>][] = [];
  try {
    if (listen !== null) {
      const access = await apiAccess({
        tokens: cfg?.tokens ?? [],
        tls: cfg?.tls,
        dbPath,
        listen,
        say: (msg, fields) => sayLater.push([msg, fields]),
      });
      auth = access.auth;
      const tls = access.tls;
      const http = await httpApp({
        store,
        storePath: dbPath,
        auth,
        status,
        contactToken: token,
        tls: tls !== null,
        log: (e) =>
          log("error", "internal error", { error: e instanceof Error ? e.stack : String(e) }),
      });
      hub = http.hub;
      server = serve(http.app, listen, tls);
      url = `${tls === null ? "http" : "https"}://${server.hostname}:${server.port}/`;
      if (dbPath !== ":memory:") await writeContact(dbPath, url, token, tls?.cert);
    }
  } catch (e) {
    await hub?.stop();
    await server?.close();
    await store.close();
    throw e;
  }
  // Said once capture runs (a device that cannot be opened is then the only line).
  const listening = () => {
    if (server !== null) {
      for (const [msg, fields] of sayLater.splice(0)) log("info", msg, fields);
      log("info", "listening", { url });
    }
  };

  let stop = false;
  const onStop = () => stop = true;
  let filterChanges: Map<string, string> | undefined;
  let tasksChange: { tasks: TaskSpec[]; sketches: SketchSpec[] } | undefined;
  // What the daemon runs now: what SIGHUP compares a new file with.
  let current = cfg;
  const onReload = () => {
    if (configPath === undefined) {
      log("warn", "SIGHUP: no --config to read again; nothing changed");
      return;
    }
    loadConfig(configPath).then((next) => {
      const changed: string[] = [];
      if (args.values.get("filter") === undefined && next.sources !== null) {
        for (const s of next.sources) {
          if (!("interface" in s)) continue;
          const d = devices.find((d) => d.device === s.interface);
          if (d === undefined || (d.filter ?? "") === (s.filter ?? "")) continue;
          d.filter = s.filter;
          (filterChanges ??= new Map()).set(d.device, s.filter ?? "");
          changed.push(`filter of ${d.device}`);
        }
      }
      const nextRetention = retentionOf(args, next);
      if (JSON.stringify(nextRetention) !== JSON.stringify(retention)) {
        retention = nextRetention;
        changed.push("retention");
      }
      const nextLevel = (levelFlag as LogLevel | undefined) ?? next.logLevel ?? "info";
      if (nextLevel !== level) level = nextLevel, changed.push("log level");
      const taskNames = (c: Config) => JSON.stringify([c.tasks, c.sketches]);
      if (current !== null && taskNames(current) !== taskNames(next)) {
        if (devices.length > 0) {
          tasksChange = {
            tasks: next.tasks,
            sketches: args.booleans.has("no-sketches") ? [] : next.sketches,
          };
          changed.push("tasks (from the next window)");
        }
      }
      // Configured tokens are replaced at once (a token revoked stops working now); going from
      // none to some, or back, changes who is let in at start (the first-start token): restart.
      const tokensNow = current?.tokens ?? [];
      const tokensChanged = JSON.stringify(tokensNow) !== JSON.stringify(next.tokens);
      const tokensTaken = tokensChanged && auth !== null && tokensNow.length > 0 &&
        next.tokens.length > 0;
      if (tokensTaken) auth!.setTokens(next.tokens), changed.push("API tokens");
      const restart = needsRestart(current, next);
      if (tokensChanged && !tokensTaken) restart.push("http.tokens");
      // What now runs: the running configuration with what was taken from the new one.
      current = {
        ...current!,
        tasks: next.tasks,
        sketches: next.sketches,
        store: { ...current!.store, retention: next.store.retention },
        logLevel: next.logLevel,
        sources: restart.includes("sources") ? current!.sources : next.sources,
        tokens: tokensTaken ? next.tokens : current!.tokens,
      };
      log("info", "configuration read again", { file: configPath, changed });
      if (restart.length > 0) {
        log("warn", "configuration changes that need a restart were not applied", {
          keys: restart,
        });
      }
    }).catch((e) => {
      const why = e instanceof ConfigError || e instanceof Error ? e.message : String(e);
      log("error", "configuration refused; the running one stays", { error: why });
    });
  };
  const signals: [Deno.Signal, () => void][] = [
    ["SIGINT", onStop],
    ["SIGTERM", onStop],
    ["SIGHUP", onReload],
  ];
  for (const [s, f] of signals) Deno.addSignalListener(s, f);
  // Retention while the daemon runs, through the store's one write queue (beside windows).
  let retaining = Promise.resolve();
  const retainNow = () => {
    if (retention.maxAgeSec === undefined && retention.maxBytes === undefined) return;
    retaining = retaining.then(async () => {
      const dropped = await store.applyRetention(retention);
      if (dropped > 0) log("info", "retention dropped windows", { windows: dropped });
      // Retention never drops what waits for a sink: the outbox keeps those rows, and says so.
      for (const b of forwarder === null ? [] : await store.exportBacklog()) {
        if (b.pending > 0 && dropped > 0) {
          log("warn", "retention leaves the outbox alone: windows wait there for a sink", {
            sink: b.sink,
            windows: b.pending,
            bytes: b.bytes,
          });
        }
      }
    }).catch((e) => log("error", "retention failed", { error: String(e) }));
  };
  const retentionTimer = setInterval(
    retainNow,
    Math.min(windowSec, RETENTION_EVERY_SEC_MAX) * 1000,
  );
  let forwarder: Forwarder | null = null;
  try {
    if (cfg !== null && cfg.sinks.length > 0) {
      const { startForwarding } = await import("../forward/mod.ts");
      forwarder = await startForwarding(
        store,
        cfg.sinks,
        (lvl, msg, fields) => log(lvl, msg, fields),
        status,
      );
      log("info", "forwarding", { sinks: cfg.sinks.map((s) => s.name) });
    }
    const common = {
      store,
      sensor,
      windowSec,
      latenessSec,
      tasks,
      sketches,
      flows,
    };
    const replayed = replays.length === 0 ? null : ingestFiles({
      ...common,
      files: replays.map((r) => r.file),
      speed: replays[0]!.speed,
      stopRequested: () => stop,
      status,
    }).then((run) => {
      for (let k = 0; k < run.files.length; k++) {
        log("info", "replay stored", {
          file: run.files[k]!.name,
          source: run.sourceIds[k],
          records: run.files[k]!.records,
          warnings: run.files[k]!.warnings,
        });
      }
      return run;
    });
    if (devices.length === 0) {
      listening();
      log("info", "replaying", {
        files: replays.map((r) => r.file),
        speed: replays[0]!.speed,
        db: dbPath,
        windowSec,
      });
      await replayed;
      // A run of replays ends once its windows are where they go: while a sink is down it
      // waits (a signal ends the wait; what is left stays in the outbox for the next start).
      return await forwarded(forwarder, () => stop, log) ? 0 : 1;
    }
    const runs = await ingestLive({
      ...common,
      devices,
      stopRequested: () => stop,
      status,
      onEvent: log,
      filterChange: () => {
        const c = filterChanges;
        filterChanges = undefined;
        return c;
      },
      tasksChange: () => {
        const c = tasksChange;
        tasksChange = undefined;
        return c;
      },
      onStarted: () => {
        listening();
        log("info", "capturing", {
          devices: devices.map((d) => d.device),
          filter: devices[0]!.filter ?? null,
          db: dbPath,
          windowSec,
        });
      },
    });
    await replayed;
    for (const r of runs) {
      log("info", "capture stopped", {
        device: r.device,
        source: r.sourceId,
        packets: r.packets,
        windows: r.windows,
        received: r.capture.received,
        dropped: r.capture.dropped,
        skipped: r.capture.skipped,
        ifDropped: r.capture.ifDropped,
      });
    }
    // Stopping: the windows just stored get a moment to reach the sinks; the rest waits in
    // the outbox for the next start.
    const until = Date.now() + FORWARD_STOP_MS;
    await forwarded(forwarder, () => Date.now() > until, log);
    return 0;
  } finally {
    await forwarder?.stop();
    clearInterval(retentionTimer);
    for (const [s, f] of signals) Deno.removeSignalListener(s, f);
    retainNow();
    await retaining;
    await hub?.stop();
    await server?.close();
    if (server !== null) await removeContact(dbPath);
    await store.close();
  }
}

/** A stopping daemon gives its sinks this long to take the windows just stored. */
const FORWARD_STOP_MS = 5_000;

/** Waits for the outbox to drain or `giveUp`; logs what is left when a sink does not take it. */
async function forwarded(
  f: Forwarder | null,
  giveUp: () => boolean,
  log: LogFn,
): Promise<boolean> {
  if (f === null) return true;
  if (await f.drained(Infinity, giveUp)) return true;
  for (const [sink, k] of f.counters) {
    if (k.backlog > 0) {
      log("warn", "windows wait in the outbox for the next start", {
        sink,
        windows: k.backlog,
        error: k.error,
      });
    }
  }
  return false;
}

/**
 * The configuration keys whose change a running daemon does not take (a restart does); tasks,
 * filters, retention and the log level it takes.
 */
function needsRestart(before: Config | null, after: Config): string[] {
  const keys: string[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (before === null) return [];
  if (before.windowSec !== after.windowSec) keys.push("window");
  if (before.latenessSec !== after.latenessSec) keys.push("lateness");
  if (before.sensor !== after.sensor) keys.push("sensor");
  if (!same(before.flows, after.flows) || before.records !== after.records) keys.push("flows");
  if (before.store.path !== after.store.path) keys.push("store.path");
  if (before.listen !== after.listen) keys.push("http.listen");
  if (!same(before.tls, after.tls)) keys.push("http.tls");
  const shape = (c: Config) =>
    c.sources?.map((s) => "replay" in s ? s : { ...s, filter: undefined }) ?? null;
  if (!same(shape(before), shape(after))) keys.push("sources");
  return keys;
}
