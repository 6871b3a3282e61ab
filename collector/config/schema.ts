/**
 * The configuration's schema (zod): every key, its type and its limits in one place. Values
 * people write as text — durations (10s, 5m), sizes (256KiB, 10GB), key field lists — are read
 * by the shared value parsers (_config_values.ts) inside the schema, and every problem becomes
 * one issue with the path of the key, so a document is checked whole and reported at once.
 *
 * @module
 */

import { z } from "zod";
import { HH_MEMORY_MAX, HH_MEMORY_MIN, HLL_P_MAX, HLL_P_MIN } from "../../sketches/mod.ts";
import { SPREAD_MEMORY_MAX, SPREAD_MEMORY_MIN } from "../../sketches/mod.ts";
import { SKETCH_FILTERS, SKETCH_KINDS, WINDOW_SEC_MAX } from "../engine/mod.ts";
import { KEY_FIELDS } from "../packet/mod.ts";
import { bytes, listenAddress, seconds } from "./_config_values.ts";

/** API tokens in one configuration. */
export const TOKENS_MAX = 64;

export const TASKS_MAX = 64;
/** Sinks in one configuration (each a forwarder of its own). */
export const SINKS_MAX = 8;
/**
 * A sink's batch rows per table at most: under ClickHouse's insert block (1,048,576 rows), so
 * a batch is stored whole or not at all.
 */
export const BATCH_ROWS_MAX = 1_000_000;
export const BATCH_BYTES_MAX = 256 << 20;
/** The central tables a sink can be given (forward/: one per exported table of the store). */
export const SINK_TABLES = [
  "windows",
  "flows",
  "records",
  "sketches",
  "sketch_keys",
  "decode_errors",
  "dns",
  "dns_rcodes",
  "http",
  "http_status",
  "http_agents",
] as const;

export const SOURCES_MAX = 16;
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** Bounds of a capture source's options (the ring's, collector/live/). */
const SNAPLEN = [64, 262144] as const;
const BUFFER = [8 << 20, 2 ** 31] as const;

/** Refinements that run even when a field before them failed: every problem at once. */
const ALWAYS = { when: () => true };

/** A duration in whole seconds from `min` to `max`; `what` says what was expected. */
function duration(min: number, max: number, what: (v: unknown) => string) {
  return z.unknown().transform((v, ctx) => {
    const s = seconds(v);
    if (s === null || s < min || s > max) {
      ctx.addIssue({ code: "custom", message: what(v) });
      return z.NEVER;
    }
    return s;
  });
}

/** A size in bytes from `min` to `max`. */
function size(min: number, max: number, what: string) {
  return z.unknown().transform((v, ctx) => {
    const b = bytes(v);
    if (b === null || b < min || b > max) {
      ctx.addIssue({ code: "custom", message: what });
      return z.NEVER;
    }
    return b;
  });
}

function whole(min: number, max: number, what: string) {
  return z.number({ error: what }).int({ error: what }).min(min, { error: what }).max(max, {
    error: what,
  });
}

/** A list of key fields, each known and given once. */
const keyList = z.unknown().transform((v, ctx) => {
  if (!Array.isArray(v) || v.length === 0) {
    ctx.addIssue({ code: "custom", message: `a list of key fields (${KEY_FIELDS.join(", ")})` });
    return z.NEVER;
  }
  const seen: string[] = [];
  for (const f of v) {
    if (!(KEY_FIELDS as readonly unknown[]).includes(f)) {
      ctx.addIssue({ code: "custom", message: `unknown field ${JSON.stringify(f)}` });
    } else if (seen.includes(f)) ctx.addIssue({ code: "custom", message: `${f} given twice` });
    else seen.push(f);
  }
  return seen as (typeof KEY_FIELDS)[number][];
});

/** Options each kind of task takes besides name, kind and key. */
export const TASK_OPTIONS: Record<string, readonly string[]> = {
  exact: ["flows_max"],
  heavy_hitters: ["memory", "by", "top", "filter"],
  count_min: ["memory", "by", "conservative", "filter"],
  distinct: ["precision", "filter"],
  spread: ["memory", "element", "threshold", "filter"],
};
const MEMORY: Record<string, [number, number]> = {
  heavy_hitters: [HH_MEMORY_MIN, HH_MEMORY_MAX],
  count_min: [1024, 1 << 28],
  spread: [SPREAD_MEMORY_MIN, SPREAD_MEMORY_MAX],
};

const KINDS = ["exact", ...SKETCH_KINDS] as const;

/** One entry of `tasks`: the options are checked against the kind in `superRefine`. */
const task = z.looseObject({
  name: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/),
  kind: z.enum(KINDS).default("exact"),
  key: keyList,
  flows_max: whole(1, 1 << 26, `a whole number from 1 to ${1 << 26}`).optional(),
  memory: z.unknown().optional(),
  by: z.enum(["packets", "bytes"], { error: "packets or bytes" }).optional(),
  top: whole(1, 10000, "a whole number from 1 to 10000").optional(),
  conservative: z.boolean({ error: "true or false" }).optional(),
  precision: whole(HLL_P_MIN, HLL_P_MAX, `${HLL_P_MIN} to ${HLL_P_MAX} (2^p registers)`)
    .optional(),
  element: keyList.optional(),
  threshold: whole(2, 1e9, "a whole number from 2 to 10^9").optional(),
  filter: z.enum(SKETCH_FILTERS, { error: `one of ${SKETCH_FILTERS.join(", ")}` }).optional(),
}).superRefine((raw, ctx) => {
  // Runs even when a field failed (ALWAYS), so it sees the raw entry: every problem at once.
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return; // reported already
  const t = raw as Record<string, unknown>;
  const kind = typeof t.kind === "string" && t.kind in TASK_OPTIONS ? t.kind : t.kind ?? "exact";
  const options = TASK_OPTIONS[kind as string];
  if (options === undefined) return; // a bad kind is its own problem
  const allowed = ["name", "kind", "key", ...options];
  for (const k of Object.keys(t)) {
    if (!allowed.includes(k)) {
      ctx.addIssue({
        code: "custom",
        path: [],
        message: `unknown key "${k}" (known: ${allowed.join(", ")})`,
      });
    }
  }
  const mem = MEMORY[kind as string];
  if (t.memory !== undefined && mem !== undefined) {
    const v = bytes(t.memory);
    if (v === null || v < mem[0] || v > mem[1]) {
      ctx.addIssue({
        code: "custom",
        path: ["memory"],
        message: `a size from ${mem[0]} to ${mem[1]} bytes, such as 256KiB`,
      });
    }
  }
}, ALWAYS);

/** A capture source: a device (`interface`) or a capture file fed as if live (`replay`). */
const source = z.strictObject({
  interface: z.string({ error: "a device name such as eth0" })
    .regex(/^[^\s/\0]{1,15}$/, { error: "a device name of 1 to 15 characters" }).optional(),
  filter: z.string({ error: 'a capture filter such as "udp port 53"' })
    .max(4096, { error: "a capture filter of at most 4096 characters" }).optional(),
  snaplen: whole(SNAPLEN[0], SNAPLEN[1], `a whole number from ${SNAPLEN[0]} to ${SNAPLEN[1]}`)
    .optional(),
  buffer: size(BUFFER[0], BUFFER[1], "a size from 8MiB to 2GiB, such as 64MiB").optional(),
  promisc: z.boolean({ error: "true or false" }).optional(),
  replay: z.string({ error: "a capture file name" }).min(1, { error: "a capture file name" })
    .optional(),
  speed: z.number({ error: "a number from 0 (as fast as read) to 1000000" }).min(0, {
    error: "a number from 0 (as fast as read) to 1000000",
  }).max(1e6, { error: "a number from 0 (as fast as read) to 1000000" }).optional(),
}, { error: "must be a mapping" }).superRefine((s, ctx) => {
  // Runs even when the entry failed above: then it may not be a mapping at all.
  if (typeof s !== "object" || s === null || Array.isArray(s)) return;
  if ((s.interface === undefined) === (s.replay === undefined)) {
    ctx.addIssue({ code: "custom", message: "give either interface or replay" });
  }
  const live = ["filter", "snaplen", "buffer", "promisc"] as const;
  for (const k of live) {
    if (s.replay !== undefined && s[k] !== undefined) {
      ctx.addIssue({ code: "custom", path: [k], message: "only for an interface" });
    }
  }
  if (s.interface !== undefined && s.speed !== undefined) {
    ctx.addIssue({ code: "custom", path: ["speed"], message: "only for a replay" });
  }
}, ALWAYS);

/** A sink: where windows are forwarded (issue 15; forward/). */
const sink = z.strictObject({
  name: z.string({ error: "lower-case letters, digits and _ (up to 64)" })
    .regex(/^[a-z0-9_]{1,64}$/, { error: "lower-case letters, digits and _ (up to 64)" }),
  type: z.enum(["clickhouse"], { error: "clickhouse" }),
  url: z.string({ error: "an http:// or https:// URL" }).regex(/^https?:\/\/[^\s]+$/, {
    error: "an http:// or https:// URL",
  }),
  database: z.string({ error: "a database name" }).regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, {
    error: "a database name (letters, digits, _)",
  }).optional(),
  user: z.string({ error: "a user name" }).min(1).max(128).optional(),
  password_file: z.string({ error: "a file holding the password" }).min(1).optional(),
  password_env: z.string({ error: "an environment variable holding the password" })
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "an environment variable's name" }).optional(),
  timeout: duration(1, 600, () => "a duration from 1s to 10m").optional(),
  tls: z.strictObject({
    ca: z.string({ error: "a PEM file of the CA certificates to trust" }).min(1),
    cert: z.string({ error: "a PEM client certificate file" }).min(1).optional(),
    key: z.string({ error: "a PEM private key file" }).min(1).optional(),
  }, { error: "a mapping with ca (and cert with key)" }).optional(),
  batch: z.strictObject({
    rows: whole(1, BATCH_ROWS_MAX, `a whole number from 1 to ${BATCH_ROWS_MAX}`).optional(),
    bytes: size(1024, BATCH_BYTES_MAX, "a size from 1KiB to 256MiB").optional(),
    interval: duration(0, 60, () => "a duration from 0s to 60s").optional(),
  }, { error: "a mapping with rows, bytes and interval" }).optional(),
  tables: z.array(z.enum(SINK_TABLES, { error: `one of ${SINK_TABLES.join(", ")}` }), {
    error: "a list of central tables",
  }).min(1, { error: "a list of central tables" }).optional(),
  tasks: z.array(z.string({ error: "a task's name" }), { error: "a list of task names" })
    .min(1, { error: "a list of task names" }).optional(),
}, { error: "a mapping with name, type and url" }).superRefine((s, ctx) => {
  if (typeof s !== "object" || s === null) return;
  if (s.password_file !== undefined && s.password_env !== undefined) {
    ctx.addIssue({ code: "custom", message: "give password_file or password_env, not both" });
  }
  if (s.tls !== undefined && (s.tls.cert === undefined) !== (s.tls.key === undefined)) {
    ctx.addIssue({ code: "custom", path: ["tls"], message: "give cert and key together" });
  }
  if (s.tls !== undefined && !String(s.url).startsWith("https://")) {
    ctx.addIssue({ code: "custom", path: ["tls"], message: "tls needs an https:// url" });
  }
}, ALWAYS);

/** A list of 1 to `max` entries of `item` whose `name`s differ (each repeat is one problem). */
function namedList<T extends z.ZodType>(item: T, max: number, what: string) {
  const error = `a list of 1 to ${max} ${what}`;
  return z.array(z.unknown(), { error })
    .min(1, { error })
    .max(max, { error })
    .pipe(z.array(item))
    .superRefine((items, ctx) => {
      // Runs even when an entry failed above: it may not be a mapping at all.
      const names = new Set<unknown>();
      (items as unknown[]).forEach((t, n) => {
        const name = (t as { name?: unknown } | null)?.name;
        if (typeof name !== "string") return;
        if (names.has(name)) {
          ctx.addIssue({ code: "custom", path: [n, "name"], message: `"${name}" is used twice` });
        }
        names.add(name);
      });
    }, ALWAYS);
}

export const configSchema = z.strictObject({
  window: duration(
    1,
    WINDOW_SEC_MAX,
    (v) => `a duration from 1s to ${WINDOW_SEC_MAX}s, got ${JSON.stringify(v)}`,
  ).optional(),
  lateness: duration(0, 3600, (v) => `a duration from 0s to 1h, got ${JSON.stringify(v)}`)
    .optional(),
  sensor: z.string({ error: "a name of 1 to 128 characters" }).min(1, {
    error: "a name of 1 to 128 characters",
  }).max(128, { error: "a name of 1 to 128 characters" }).optional(),
  tasks: namedList(task, TASKS_MAX, "tasks").optional(),
  flows: z.strictObject({
    idle_timeout: duration(1, 86400, () => "a duration from 1s to 1d").optional(),
    active_timeout: duration(1, 86400, () => "a duration from 1s to 1d").optional(),
    max: whole(1, 1 << 24, `a whole number from 1 to ${1 << 24}`).optional(),
    records: z.boolean({ error: "true or false" }).optional(),
  }, { error: "must be a mapping" }).optional(),
  sources: z.array(source, { error: `a list of 1 to ${SOURCES_MAX} sources` })
    .min(1, { error: `a list of 1 to ${SOURCES_MAX} sources` })
    .max(SOURCES_MAX, { error: `a list of 1 to ${SOURCES_MAX} sources` })
    .optional(),
  http: z.strictObject({
    listen: z.string({ error: 'HOST:PORT such as 127.0.0.1:9470, or "off"' }).refine(
      (v) => v === "off" || listenAddress(v) !== null,
      { error: 'HOST:PORT such as 127.0.0.1:9470, or "off"' },
    ).optional(),
    tokens: z.array(
      z.strictObject({
        name: z.string({ error: "a name for the token" }).min(1).max(64),
        scope: z.enum(["read", "admin"], { error: "read or admin" }),
        sha256: z.string({ error: "the token's SHA-256, 64 hex digits (netspectra token)" })
          .regex(/^[0-9a-f]{64}$/, {
            error: "the token's SHA-256, 64 hex digits (netspectra token)",
          }),
      }, { error: "a mapping with name, scope and sha256" }),
      { error: `a list of at most ${TOKENS_MAX} tokens` },
    ).max(TOKENS_MAX, { error: `a list of at most ${TOKENS_MAX} tokens` }).optional(),
    tls: z.strictObject({
      cert: z.string({ error: "a PEM certificate file" }).min(1),
      key: z.string({ error: "a PEM private key file" }).min(1),
    }, { error: "a mapping with cert and key (PEM files)" }).optional(),
  }, { error: "must be a mapping" }).optional(),
  sinks: namedList(sink, SINKS_MAX, "sinks").optional(),
  log_level: z.enum(LOG_LEVELS, { error: `one of ${LOG_LEVELS.join(", ")}` }).optional(),
  store: z.strictObject({
    path: z.string({ error: "a file name or :memory:" }).min(1, {
      error: "a file name or :memory:",
    }).optional(),
    retention: z.strictObject({
      max_age: duration(1, Infinity, () => "a duration such as 7d").optional(),
      max_bytes: size(1, Infinity, "a size such as 10GB").optional(),
    }, { error: "must be a mapping" }).optional(),
  }, { error: "must be a mapping" }).optional(),
}, { error: "the top level must be a mapping" });

export type ConfigDoc = z.output<typeof configSchema>;
export type TaskDoc = z.output<typeof task>;

/** Zod's issues as this project's one-line problems: `tasks[1].key: unknown field "mac"`. */
export function problemsOf(error: z.ZodError): string[] {
  return error.issues.map((i) => {
    const path = i.path.reduce<string>(
      (s, p) => typeof p === "number" ? `${s}[${p}]` : s === "" ? String(p) : `${s}.${String(p)}`,
      "",
    );
    const where = path === "" ? "top level" : path;
    if (i.code === "unrecognized_keys") {
      return i.keys.map((k) => `${where}: unknown key "${k}"`).join("; ");
    }
    if (i.code === "invalid_value" && i.path.at(-1) === "kind") {
      return `${where}: one of ${KINDS.join(", ")}, got ${JSON.stringify(i.input)}`;
    }
    if (i.code === "invalid_format" && i.path.at(-1) === "name") {
      return `${where}: lower-case letters, digits and _ (up to 64), got ${
        JSON.stringify(i.input)
      }`;
    }
    if (i.path.at(-1) === "name" && i.code === "invalid_type") {
      return `${where}: lower-case letters, digits and _ (up to 64), got ${
        JSON.stringify(i.input)
      }`;
    }
    if (i.code === "invalid_type" && i.expected === "object" && path !== "") {
      return `${where}: must be a mapping`;
    }
    return `${where}: ${i.message}`;
  });
}
