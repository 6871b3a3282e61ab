/**
 * `netspectra run --interface DEV … [--db FILE]`: the collector daemon (first part: live
 * sources into the store; replay, the HTTP server and SIGHUP come next). Logs are JSON lines on
 * stderr. SIGINT / SIGTERM stop capture; the open windows are stored and the exit code is 0.
 *
 * @module
 */

import { loadConfig } from "../collector/config/mod.ts";
import {
  defaultSketches,
  flowsMaxFor,
  type FlowTrackerOptions,
  LATENESS_SEC_DEFAULT,
  TABLE_MEMORY_DEFAULT,
  type TaskSpec,
} from "../collector/engine/mod.ts";
import {
  defaultTask,
  ingestFiles,
  ingestLive,
  WINDOW_SEC_DEFAULT,
} from "../collector/ingest/mod.ts";
import {
  BUFFER_BYTES_DEFAULT,
  BUFFER_BYTES_MAX,
  BUFFER_BYTES_MIN,
  SNAPLEN_DEFAULT,
} from "../collector/live/mod.ts";
import { CollectorStatus } from "../collector/ingest/mod.ts";
import {
  LISTEN_DEFAULT,
  opsRoutes,
  parseListen,
  serve,
  type Server,
  sqlRoutes,
} from "../routes/mod.ts";
import { newToken, removeContact, writeContact } from "./daemon_contact.ts";
import { parseArgs, parseCount, UsageError } from "./args.ts";
import { DB_DEFAULT, STORE_FLAGS, storeFlags } from "./store_flags.ts";

export const RUN_USAGE = `netspectra run (--interface DEV | --replay FILE) ... [options]
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
  --config FILE      tasks, window, flow timeouts, store path (flags win)
  --no-sketches, --no-records   as for analyze
  --listen ADDR      HTTP for operators: /healthz, /readyz, /metrics (default ${LISTEN_DEFAULT};
                     "off": none). Not on 127.0.0.1 only if you say so
  --log-level LVL    debug, info (default), warn or error
  Every window the clock passes is stored, an empty one with zero totals. SIGINT or SIGTERM
  stores the open windows and exits 0.`;

const LEVELS = ["debug", "info", "warn", "error"] as const;
type Level = (typeof LEVELS)[number];

/** One JSON object per line on stderr, from `min` up. */
function logger(min: Level) {
  const from = LEVELS.indexOf(min);
  return (level: Level, msg: string, fields: Record<string, unknown> = {}): void => {
    if (LEVELS.indexOf(level) < from) return;
    console.error(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields }));
  };
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
    ],
    booleans: ["promisc", "no-sketches", "no-records"],
    repeated: ["interface", "replay"],
  }, "run");
  if (args.positionals.length > 0) {
    throw new UsageError(`run: unexpected argument "${args.positionals[0]}"`);
  }
  const devices = args.lists.get("interface") ?? [];
  const replays = args.lists.get("replay") ?? [];
  if (devices.length === 0 && replays.length === 0) {
    throw new UsageError("run: give at least one --interface or --replay");
  }
  const levelText = args.values.get("log-level") ?? "info";
  if (!(LEVELS as readonly string[]).includes(levelText)) {
    throw new UsageError(`run: --log-level must be one of ${LEVELS.join(", ")}`);
  }
  const log = logger(levelText as Level);
  const listenText = args.values.get("listen") ?? LISTEN_DEFAULT;
  const listen = listenText === "off" ? null : parseListen(listenText);
  const speedText = args.values.get("speed") ?? "1";
  const speed = Number(speedText);
  if (!(speed >= 0 && speed <= 1e6) || speedText.trim() === "") {
    throw new UsageError(`run: --speed must be a number from 0 to 1000000, got "${speedText}"`);
  }
  const filter = args.values.get("filter");
  const snaplenText = args.values.get("snaplen");
  const snaplen = snaplenText === undefined
    ? undefined
    : parseCount("snaplen", snaplenText, 64, SNAPLEN_DEFAULT);
  const bufferText = args.values.get("buffer");
  const bufferBytes = bufferText === undefined
    ? undefined
    : parseCount("buffer", bufferText, BUFFER_BYTES_MIN, BUFFER_BYTES_MAX);
  const configPath = args.values.get("config");
  const cfg = configPath === undefined ? null : await loadConfig(configPath);
  const { dbPath, windowSec, latenessSec, sensor, waitSec } = storeFlags(args, cfg, "run");
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
  const token = newToken();
  let server: Server | null = null;
  try {
    if (listen !== null) {
      const app = opsRoutes(status);
      sqlRoutes(app, store, token);
      server = serve(app, listen);
      if (dbPath !== ":memory:") {
        await writeContact(dbPath, `http://${server.hostname}:${server.port}/`, token);
      }
    }
  } catch (e) {
    await server?.close();
    await store.close();
    throw e;
  }
  // Said once capture runs (a device that cannot be opened is then the only line).
  const listening = () => {
    if (server !== null) {
      log("info", "listening", { url: `http://${server.hostname}:${server.port}/` });
    }
  };
  let stop = false;
  const onSignal = () => stop = true;
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
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
      files: replays,
      speed,
      stopRequested: () => stop,
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
      log("info", "replaying", { files: replays, speed, db: dbPath, windowSec });
      await replayed;
      return 0;
    }
    const runs = await ingestLive({
      ...common,
      devices: devices.map((device) => ({
        device,
        filter,
        snaplen,
        bufferBytes,
        promiscuous: args.booleans.has("promisc"),
      })),
      stopRequested: () => stop,
      status,
      onEvent: log,
      onStarted: () => {
        listening();
        log("info", "capturing", { devices, filter: filter ?? null, db: dbPath, windowSec });
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
      });
    }
    return 0;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    await server?.close();
    if (server !== null) await removeContact(dbPath);
    await store.close();
  }
}
