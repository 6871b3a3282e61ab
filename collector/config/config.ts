/**
 * The YAML configuration (configs/netspectra.yaml documents every key): windows, tasks, flow
 * timeouts, store and retention. Validated at start with every problem reported at once.
 *
 * @module
 */

import { UserError } from "../user_error.ts";
import { parse } from "yaml";
import type { TaskSpec } from "../engine/mod.ts";
import { FLOWS_MAX_DEFAULT } from "../engine/mod.ts";
import { FLOW_TRACKER_DEFAULTS, type FlowTrackerOptions } from "../engine/mod.ts";
import { defaultTask } from "../ingest/mod.ts";
import { bytes } from "./_config_values.ts";
import {
  configSchema,
  type LOG_LEVELS,
  problemsOf,
  type SINK_TABLES,
  type TaskDoc,
} from "./schema.ts";
export { LOG_LEVELS } from "./schema.ts";
import { defaultSketches, type SketchSpec, sketchSpec } from "../engine/mod.ts";

/** A capture source of the daemon: a device, or a capture file replayed as if live. */
export type SourceConfig =
  | {
    interface: string;
    filter?: string;
    snaplen?: number;
    bufferBytes?: number;
    promiscuous?: boolean;
  }
  | { replay: string; speed?: number };

/** An API token as the configuration holds it: its SHA-256, never the token. */
export interface ApiToken {
  name: string;
  scope: "read" | "admin";
  sha256: string;
}

export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  windowSec: number;
  /** How long after its end a window still takes packets (undefined: the engine's 2 s). */
  latenessSec?: number;
  /** The sensor id every window carries (undefined: the host name). */
  sensor?: string;
  tasks: TaskSpec[];
  sketches: SketchSpec[];
  flows: FlowTrackerOptions;
  /** Whether flows are followed to their end as connection records (`flows.records`). */
  records: boolean;
  store: { path: string | null; retention: { maxAgeSec?: number; maxBytes?: number } };
  /** `run`'s sources (null: none named here). */
  sources: SourceConfig[] | null;
  /** `run`'s HTTP address, or "off" (undefined: the default). */
  listen?: string;
  /** API tokens, stored hashed (none: one admin token is made beside the store). */
  tokens: ApiToken[];
  /** TLS certificate and key files for the HTTP server. */
  tls?: { certFile: string; keyFile: string };
  logLevel?: LogLevel;
  /** Where windows are forwarded (forward/); the password is read when the sink starts. */
  sinks: SinkConfig[];
}

export interface SinkConfig {
  name: string;
  type: "clickhouse";
  url: string;
  database: string;
  user?: string;
  passwordFile?: string;
  passwordEnv?: string;
  timeoutSec: number;
  /** PEM files: the CA certificates to trust, and a client certificate with its key. */
  tls?: { caFile: string; certFile?: string; keyFile?: string };
  /** A batch is sent when it holds this many rows in a table or bytes, or has waited this long. */
  batch: { rows: number; bytes: number; intervalSec: number };
  /** The central tables sent (all when absent; `windows`, the totals, always). */
  tables?: SinkTable[];
  /** The tasks whose rows are sent (flows, sketches, sketch_keys; all when absent). */
  tasks?: string[];
}

export type SinkTable = typeof SINK_TABLES[number];

/** A sink's batch limits when the config gives none. */
export const SINK_BATCH_DEFAULTS = { rows: 100_000, bytes: 16 << 20, intervalSec: 1 } as const;

/** Largest configuration file read (a config, not a data file). */
export const CONFIG_BYTES_MAX = 1 << 20;
export { TASKS_MAX } from "./schema.ts";
/** Lateness in windows at most: the engine keeps 1 + that many windows open. */
export const LATE_WINDOWS_MAX = 7;
/** All sketch tasks' memory budgets together (each window holds one set). */
export const SKETCH_MEMORY_TOTAL_MAX = 1 << 30;

/** Ends `text` as a complete sentence: a trailing ":" or space goes, a full stop comes. */
function sentence(text: string): string {
  const t = text.trim().replace(/[:;,]+$/, "");
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

export class ConfigError extends UserError {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`Invalid configuration ${file}: ${sentence(problems.join("; "))}`);
    this.name = "ConfigError";
  }
}

export function defaultConfig(): Config {
  return {
    windowSec: 60,
    tasks: [defaultTask()],
    sketches: defaultSketches(),
    flows: { ...FLOW_TRACKER_DEFAULTS },
    records: true,
    store: { path: null, retention: {} },
    sources: null,
    tokens: [],
    sinks: [],
  };
}

/** Validates a parsed document (schema.ts); returns the config or the list of problems. */
export function validateConfig(doc: unknown): Config | string[] {
  const cfg = defaultConfig();
  if (doc === null || doc === undefined) return cfg;
  const r = configSchema.safeParse(doc, { reportInput: true });
  if (!r.success) return problemsOf(r.error);
  const d = r.data;
  const problems: string[] = [];
  if (d.window !== undefined) cfg.windowSec = d.window;
  if (d.lateness !== undefined) cfg.latenessSec = d.lateness;
  if (d.sensor !== undefined) cfg.sensor = d.sensor;
  if (cfg.latenessSec !== undefined && cfg.latenessSec > LATE_WINDOWS_MAX * cfg.windowSec) {
    problems.push(
      `lateness: at most ${LATE_WINDOWS_MAX} windows (${LATE_WINDOWS_MAX * cfg.windowSec}s)`,
    );
  }
  if (d.tasks !== undefined) {
    cfg.tasks = [];
    cfg.sketches = [];
    for (const t of d.tasks) {
      if (t.kind === "exact") {
        const flowsMax = t.flows_max ?? FLOWS_MAX_DEFAULT;
        cfg.tasks.push({ name: t.name, kind: "exact", key: t.key, flowsMax });
      } else cfg.sketches.push(sketchOf(t));
    }
    if (cfg.tasks.length === 0) {
      problems.push("tasks: at least one exact task (the report's flows come from it)");
    }
    const sketchBytes = cfg.sketches.reduce(
      (n, t) => n + (t.kind === "distinct" ? 2 ** t.precision : t.memoryBytes),
      0,
    );
    if (sketchBytes > SKETCH_MEMORY_TOTAL_MAX) {
      problems.push(
        `tasks: the sketches' memory adds up to ${sketchBytes} bytes, more than ${SKETCH_MEMORY_TOTAL_MAX}`,
      );
    }
  }
  if (d.flows?.idle_timeout !== undefined) cfg.flows.idleSec = d.flows.idle_timeout;
  if (d.flows?.active_timeout !== undefined) cfg.flows.activeSec = d.flows.active_timeout;
  if (d.flows?.max !== undefined) cfg.flows.flowsMax = d.flows.max;
  if (d.flows?.records !== undefined) cfg.records = d.flows.records;
  if (d.store?.path !== undefined) cfg.store.path = d.store.path;
  const ret = d.store?.retention;
  if (ret?.max_age !== undefined) cfg.store.retention.maxAgeSec = ret.max_age;
  if (ret?.max_bytes !== undefined) cfg.store.retention.maxBytes = ret.max_bytes;
  if (d.sources !== undefined) {
    cfg.sources = d.sources.map((s): SourceConfig =>
      s.replay !== undefined ? { replay: s.replay, speed: s.speed } : {
        interface: s.interface!,
        filter: s.filter,
        snaplen: s.snaplen,
        bufferBytes: s.buffer,
        promiscuous: s.promisc,
      }
    );
  }
  if (d.http?.listen !== undefined) cfg.listen = d.http.listen;
  if (d.http?.tokens !== undefined) cfg.tokens = d.http.tokens;
  if (d.http?.tls !== undefined) cfg.tls = { certFile: d.http.tls.cert, keyFile: d.http.tls.key };
  if (d.log_level !== undefined) cfg.logLevel = d.log_level;
  if (d.sinks !== undefined) {
    cfg.sinks = d.sinks.map((s) => ({
      name: s.name,
      type: s.type,
      url: s.url,
      database: s.database ?? "netspectra",
      user: s.user,
      passwordFile: s.password_file,
      passwordEnv: s.password_env,
      timeoutSec: s.timeout ?? 30,
      tls: s.tls === undefined
        ? undefined
        : { caFile: s.tls.ca, certFile: s.tls.cert, keyFile: s.tls.key },
      batch: {
        rows: s.batch?.rows ?? SINK_BATCH_DEFAULTS.rows,
        bytes: s.batch?.bytes ?? SINK_BATCH_DEFAULTS.bytes,
        intervalSec: s.batch?.interval ?? SINK_BATCH_DEFAULTS.intervalSec,
      },
      tables: s.tables === undefined ? undefined : [...new Set(["windows" as const, ...s.tables])],
      tasks: s.tasks,
    }));
    const names = new Set([...cfg.tasks, ...cfg.sketches].map((t) => t.name));
    d.sinks.forEach((s, n) => {
      for (const t of s.tasks ?? []) {
        if (!names.has(t)) {
          problems.push(`sinks[${n}].tasks: no task "${t}" (tasks: ${[...names].join(", ")})`);
        }
      }
    });
  }
  return problems.length > 0 ? problems : cfg;
}

/** A sketch task from its checked entry: the kind's defaults, then the options given. */
function sketchOf(t: TaskDoc): SketchSpec {
  const spec = sketchSpec({ name: t.name, kind: t.kind as SketchSpec["kind"], key: t.key });
  if (t.memory !== undefined) spec.memoryBytes = bytes(t.memory)!;
  if (t.by !== undefined) spec.by = t.by;
  if (t.top !== undefined) spec.top = t.top;
  if (t.conservative !== undefined) spec.conservative = t.conservative;
  if (t.precision !== undefined) spec.precision = t.precision;
  if (t.element !== undefined) spec.element = t.element;
  if (t.threshold !== undefined) spec.threshold = t.threshold;
  if (t.filter !== undefined) spec.filter = t.filter;
  return spec;
}

/** Reads and validates a YAML file; throws ConfigError listing every problem. */
export async function loadConfig(path: string): Promise<Config> {
  const info = await Deno.stat(path);
  if (info.size > CONFIG_BYTES_MAX) {
    throw new ConfigError(path, [`larger than ${CONFIG_BYTES_MAX} bytes`]);
  }
  let doc: unknown;
  try {
    doc = parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new ConfigError(path, [`not valid YAML: ${(e as Error).message.split("\n")[0]}`]);
  }
  const r = validateConfig(doc);
  if (Array.isArray(r)) throw new ConfigError(path, r);
  return r;
}
