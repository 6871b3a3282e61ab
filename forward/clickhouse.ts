/**
 * The ClickHouse sink: tables made if missing, one INSERT per batch and table, each row with
 * its window's identity and batch id (one per window and table), the query id derived from
 * the batch ids it carries.
 *
 * Exactly once without the server's help (ClickHouse 18.16, which Debian ships, has no insert
 * deduplication token and deduplicates only replicated tables): rows are sent only after
 * asking what the server holds of them. First, after an earlier attempt whose answer never
 * came, while a query with one of its query ids still runs, it is waited for; then each
 * window's rows per table are counted by batch id; all there: done, none: sent. An INSERT is
 * one day's windows (one partition) in one block (the insert block size raised to its rows),
 * so the server stores it whole or not at all; a retry makes the same batch again (the
 * windows left `sending`), so the same query ids. One forwarder per sink and store (the
 * store's lock), so nothing else sends it meanwhile. Where the server has them (detected at
 * start), its own insert deduplication settings are used as well; ReplacingMergeTree, keyed
 * by identity and key, folds a repeat in a merge as a last backstop.
 *
 * @module
 */

import { Readable } from "node:stream";
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { UserError } from "../collector/user_error.ts";
import type { SinkConfig, SinkTable } from "../collector/config/mod.ts";
import {
  EXPORT_COLUMNS,
  type ExportTable,
  IDENTITY_COLUMNS,
  type OutboxEntry,
  type OutboxPayload,
  tsvText,
} from "../storage/mod.ts";

/** Column types of the central tables (18.16's types: no IPv4/IPv6, no DateTime64). */
const IDENTITY_DDL = `sensor String, source String, window_start DateTime, window_sec UInt32,
  part UInt16, batch_id String`;

/** Every central table's sorting key starts with the window's identity. */
const KEY_IDENTITY = "sensor, source, window_start, part";

const U64 = "UInt64", I64 = "Int64", I32 = "Int32", STR = "String", F64 = "Float64";

/** The flow key's columns, in the flows and the sketches' keys alike. */
const FLOW_KEY_TYPES = {
  ip_version: "UInt8",
  src_ip: STR,
  dst_ip: STR,
  proto: "Int16",
  src_port: I32,
  dst_port: I32,
  vlan: I32,
} as const;

/**
 * Per central table, each column's type by name (EXPORT_COLUMNS, the lines' own list, gives
 * their order: a name missing or extra here does not compile), and the key after the identity.
 */
const TABLE_DDL: {
  [T in ExportTable]: { types: Record<(typeof EXPORT_COLUMNS)[T][number], string>; key: string };
} = {
  windows: {
    types: {
      packets: U64,
      bytes: U64,
      cap_bytes: U64,
      ipv4_packets: U64,
      ipv6_packets: U64,
      non_ip_packets: U64,
      late_packets: U64,
      late_bytes: U64,
      tracker_overflow_packets: U64,
      capture_received: I64,
      capture_dropped: I64,
      capture_if_dropped: I64,
    },
    key: "",
  },
  flows: {
    types: {
      task: STR,
      ...FLOW_KEY_TYPES,
      packets: U64,
      bytes: U64,
    },
    key: "task, ip_version, src_ip, dst_ip, proto, src_port, dst_port, vlan",
  },
  records: {
    types: {
      start_ns: I64,
      end_ns: I64,
      ip_version: "UInt8",
      src_ip: STR,
      dst_ip: STR,
      src_port: I32,
      dst_port: I32,
      proto: "UInt16",
      vlan: I32,
      packets_fwd: U64,
      bytes_fwd: U64,
      packets_rev: U64,
      bytes_rev: U64,
      tcp_flags: "UInt16",
      syn: "UInt32",
      syn_ack: "UInt32",
      fin: "UInt32",
      rst: "UInt32",
      close_reason: STR,
    },
    key: "start_ns, end_ns, src_ip, dst_ip, src_port, dst_port, proto, vlan",
  },
  sketches: {
    types: { task: STR, kind: STR, packets: U64, estimate: F64, sketch_hex: STR },
    key: "task",
  },
  dns: {
    types: {
      protocol: STR,
      qname: STR,
      qtype: "UInt16",
      queries: U64,
      responses: U64,
      nxdomain: U64,
      errors: U64,
      rtt_count: U64,
      rtt_sum_us: F64,
      rtt_max_us: F64,
    },
    key: "protocol, qname, qtype",
  },
  decode_errors: { types: { reason: STR, packets: U64 }, key: "reason" },
  dns_rcodes: {
    types: { protocol: STR, rcode: "UInt8", responses: U64 },
    key: "protocol, rcode",
  },
  http: {
    types: {
      protocol: STR,
      has_host: "UInt8",
      host: STR,
      method: STR,
      path: STR,
      requests: U64,
    },
    key: "protocol, has_host, host, method, path",
  },
  http_status: {
    types: { protocol: STR, code: "UInt16", responses: U64 },
    key: "protocol, code",
  },
  http_agents: {
    types: { protocol: STR, user_agent: STR, requests: U64 },
    key: "protocol, user_agent",
  },
  sketch_keys: {
    types: {
      task: STR,
      rank: "UInt32",
      ...FLOW_KEY_TYPES,
      packets: I64,
      bytes: I64,
      spread: F64,
    },
    key: "task, rank",
  },
};

const TABLES: readonly ExportTable[] = Object.keys(TABLE_DDL) as ExportTable[];
/** Every central table is one a sink's `tables` can name, and the other way round. */
const _SAME: [SinkTable] extends [ExportTable] ? [ExportTable] extends [SinkTable] ? true : never
  : never = true;

/**
 * The DDL of a central table (documented in forward/README.md); `dedupWindow` > 0: the
 * server's insert deduplication for a plain (not replicated) table, where it has it.
 */
export function tableDdl(database: string, table: ExportTable, dedupWindow = 0): string {
  const t = TABLE_DDL[table];
  const types = t.types as Record<string, string>;
  const columns = EXPORT_COLUMNS[table].map((c) => `${c} ${types[c]}`).join(", ");
  const key = t.key === "" ? KEY_IDENTITY : `${KEY_IDENTITY}, ${t.key}`;
  return `CREATE TABLE IF NOT EXISTS ${database}.${table} (${IDENTITY_DDL}, ${columns})
    ENGINE = ReplacingMergeTree PARTITION BY toDate(window_start) ORDER BY (${key})${
    dedupWindow > 0 ? ` SETTINGS non_replicated_deduplication_window = ${dedupWindow}` : ""
  }`;
}

/** What the server offers beyond 18.16, found at start by asking it. */
export interface ServerFeatures {
  version: string;
  /** The server's time zone: a partition is a day there. */
  timeZone: string;
  /** `insert_deduplication_token` (a setting of an insert). */
  dedupToken: boolean;
  /** `non_replicated_deduplication_window` (a setting of a plain MergeTree table). */
  dedupWindow: boolean;
}

/** Blocks the server remembers per table to find a repeated insert (where it can). */
const DEDUP_WINDOW = 10_000;

/**
 * The settings of one INSERT of `rows` rows: one block whatever its size (so one part, stored
 * whole or not at all), and the server's deduplication by `token` where it has it.
 */
export function insertSettings(
  f: ServerFeatures,
  rows: number,
  token: string,
): Record<string, string | number> {
  const s: Record<string, string | number> = {
    max_insert_block_size: Math.max(1_048_576, rows + 1),
  };
  if (f.dedupToken && f.dedupWindow) {
    s.insert_deduplicate = 1;
    s.insert_deduplication_token = token;
  }
  return s;
}

/** A batch's id: the same for the same window and table, whichever run or process sends it. */
export function batchIdOf(e: OutboxEntry, table: ExportTable): Promise<string> {
  return digest([e.sensor, e.source, e.startSec, e.windowSec, e.part, table].join("\n"));
}

/** What became of one window: sent now, or found whole on the server. */
export type Delivery = "inserted" | "present";

/** A hex digest of text (the first 16 bytes of its SHA-256). */
async function digest(text: string): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...h.subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** One window's rows of one table, as this sink sends them. */
interface Item {
  entry: number;
  table: ExportTable;
  batch: string;
  rows: number;
  /** Its lines, each with the window's identity and batch id in front. */
  bytes: Uint8Array;
}

/** How long to wait for an earlier attempt still running on the server, at most. */
const RUNNING_WAIT_MS = 60_000;

export class ClickHouseSink {
  readonly name: string;
  readonly batch: SinkConfig["batch"];
  private readonly client: ClickHouseClient;
  private readonly database: string;
  private readonly tables: ReadonlySet<ExportTable>;
  private readonly tasks: ReadonlySet<string> | null;
  /** What the server offers, read at the first send. */
  features: ServerFeatures | null = null;

  constructor(cfg: SinkConfig, password: string | undefined, tls?: SinkTls) {
    this.name = cfg.name;
    this.database = cfg.database;
    this.batch = cfg.batch;
    this.tables = new Set(cfg.tables ?? TABLES);
    this.tasks = cfg.tasks === undefined ? null : new Set(cfg.tasks);
    this.client = createClient({
      url: cfg.url,
      username: cfg.user ?? "default",
      password: password ?? "",
      request_timeout: cfg.timeoutSec * 1000,
      // 64-bit integers as JSON numbers (18.16 quotes them unless told).
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
      ...(tls === undefined ? {} : { tls: tls as never }),
    });
  }

  /** Reads what the server offers and makes the database and tables if missing. */
  async prepare(): Promise<ServerFeatures> {
    if (this.features !== null) return this.features;
    const [v] = await this.select<{ v: string; tz: string }>(
      "SELECT version() AS v, timezone() AS tz",
    );
    const has = async (table: string, name: string) =>
      (await this.select(`SELECT name FROM system.${table} WHERE name = '${name}'`)).length > 0;
    const f: ServerFeatures = {
      version: v!.v,
      timeZone: v!.tz,
      dedupToken: await has("settings", "insert_deduplication_token"),
      dedupWindow: await has("merge_tree_settings", "non_replicated_deduplication_window"),
    };
    await this.client.command({ query: `CREATE DATABASE IF NOT EXISTS ${this.database}` });
    const window = f.dedupToken && f.dedupWindow ? DEDUP_WINDOW : 0;
    for (const t of TABLES) {
      if (this.tables.has(t)) {
        await this.client.command({ query: tableDdl(this.database, t, window) });
      }
    }
    this.features = f;
    return f;
  }

  /**
   * Sends a batch of windows (one day's, in the server's time zone) — per table, one INSERT of
   * the windows' rows the server does not hold: after an earlier attempt (any `attempts` > 0)
   * first waits while one of its inserts still runs; then counts what the server holds of
   * each window and table in one question. Returns what became of each window.
   */
  async deliver(
    group: readonly OutboxEntry[],
    payloads: ReadonlyMap<number, readonly OutboxPayload[]>,
  ): Promise<Delivery[]> {
    const f = await this.prepare();
    const items: Item[] = [];
    for (let k = 0; k < group.length; k++) {
      const e = group[k]!;
      for (const p of payloads.get(e.commitSeq) ?? []) {
        const item = await this.itemOf(k, e, p);
        if (item !== null) items.push(item);
      }
    }
    const byTable = new Map<ExportTable, Item[]>();
    for (const it of items) {
      const list = byTable.get(it.table);
      if (list === undefined) byTable.set(it.table, [it]);
      else list.push(it);
    }
    const queryIds = new Map<ExportTable, string>();
    for (const [t, list] of byTable) {
      queryIds.set(t, `netspectra-${await digest(list.map((i) => i.batch).join(","))}`);
    }
    if (group.some((e) => e.attempts > 0)) await this.waitNotRunning([...queryIds.values()]);
    const held = await this.counts(group, byTable);
    const out = group.map((): Delivery => "present");
    for (const [t, list] of byTable) {
      const send = list.filter((i) => {
        const n = held.get(i.batch) ?? 0;
        if (n !== 0 && n !== i.rows) {
          throw new Error(
            `${this.database}.${t} holds ${n} of batch ${i.batch}'s ${i.rows} rows ` +
              `(a part of a batch: not sent again)`,
          );
        }
        return n === 0;
      });
      if (send.length === 0) continue;
      const rows = send.reduce((n, i) => n + i.rows, 0);
      const queryId = queryIds.get(t)!;
      const columns = [...IDENTITY_COLUMNS, ...EXPORT_COLUMNS[t]].join(", ");
      const r = await this.client.exec({
        query: `INSERT INTO ${this.database}.${t} (${columns}) FORMAT TabSeparated`,
        values: Readable.from(send.map((i) => i.bytes)),
        query_id: queryId,
        clickhouse_settings: insertSettings(f, rows, queryId),
      } as never);
      // Read to its end (the server's empty answer): the connection then goes back to the
      // client's pool, where a destroyed stream would close it.
      for await (const _ of r.stream as AsyncIterable<unknown>) { /* nothing in it */ }
      for (const i of send) out[i.entry] = "inserted";
    }
    return out;
  }

  /** The day (in the server's time zone) a window's rows are partitioned by. */
  dayOf(startSec: number): string {
    return dayIn(this.features?.timeZone ?? "UTC", startSec);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** A window's rows of one table as this sink sends them (its tables and tasks), or null. */
  private async itemOf(entry: number, e: OutboxEntry, p: OutboxPayload): Promise<Item | null> {
    if (p.rows === 0 || !this.tables.has(p.table)) return null;
    const lines = this.tasks !== null && TASK_TABLES.has(p.table)
      ? linesOfTasks(p.body, this.tasks)
      : p.body;
    if (lines.length === 0) return null;
    const batch = await batchIdOf(e, p.table);
    const prefix = [tsvText(e.sensor), tsvText(e.source), e.startSec, e.windowSec, e.part, batch]
      .join("\t") + "\t";
    const [bytes, rows] = prefixLines(new TextEncoder().encode(prefix), lines);
    return { entry, table: p.table, batch, rows, bytes };
  }

  /**
   * Rows the server holds of each batch id, one question for all the tables (by the windows'
   * sensors, sources and times, so the primary index narrows it).
   */
  private async counts(
    group: readonly OutboxEntry[],
    byTable: ReadonlyMap<ExportTable, Item[]>,
  ): Promise<Map<string, number>> {
    const held = new Map<string, number>();
    if (byTable.size === 0) return held;
    const list = (xs: Iterable<string>) =>
      [...new Set(xs)].map((x) => `'${sqlText(x)}'`).join(", ");
    const starts = group.map((e) => e.startSec);
    const where = `sensor IN (${list(group.map((e) => e.sensor))})
      AND source IN (${list(group.map((e) => e.source))})
      AND window_start >= toDateTime(${Math.min(...starts)})
      AND window_start <= toDateTime(${Math.max(...starts)})`;
    const rows = await this.select<{ b: string; n: number }>(
      [...byTable].map(([t, items]) =>
        `SELECT batch_id AS b, count() AS n FROM ${this.database}.${t}
         WHERE ${where} AND batch_id IN (${list(items.map((i) => i.batch))}) GROUP BY batch_id`
      ).join(" UNION ALL "),
    );
    for (const r of rows) held.set(r.b, Number(r.n));
    return held;
  }

  /** Waits while an earlier attempt of one of these query ids still runs on the server. */
  private async waitNotRunning(queryIds: string[]): Promise<void> {
    if (queryIds.length === 0) return;
    const until = Date.now() + RUNNING_WAIT_MS;
    const list = queryIds.map((q) => `'${q}'`).join(", ");
    for (;;) {
      const [r] = await this.select<{ n: number }>(
        `SELECT count() AS n FROM system.processes WHERE query_id IN (${list})`,
      );
      if (Number(r!.n) === 0) return;
      if (Date.now() > until) {
        throw new Error(`an insert of ${queryIds[0]}… still runs on the server`);
      }
      await new Promise((ok) => setTimeout(ok, 500));
    }
  }

  private async select<T>(query: string): Promise<T[]> {
    const rs = await this.client.query({ query, format: "JSONEachRow" });
    return await rs.json<T>();
  }
}

/** The tables whose rows carry a task's name (a sink's `tasks` choose among them). */
const TASK_TABLES: ReadonlySet<ExportTable> = new Set(["flows", "sketches", "sketch_keys"]);

const NL = 10, TAB = 9;

/**
 * Every line of `body` (newline-ended) with `prefix` in front, and how many lines: bytes
 * copied, not decoded (a window's payloads are megabytes).
 */
export function prefixLines(prefix: Uint8Array, body: Uint8Array): [Uint8Array, number] {
  let rows = 0;
  for (let at = body.indexOf(NL); at >= 0; at = body.indexOf(NL, at + 1)) rows++;
  const out = new Uint8Array(rows * prefix.length + body.length);
  let to = 0;
  for (let from = 0; from < body.length;) {
    const end = body.indexOf(NL, from) + 1;
    out.set(prefix, to);
    out.set(body.subarray(from, end), to + prefix.length);
    to += prefix.length + end - from;
    from = end;
  }
  return [out, rows];
}

/** The lines of `body` whose first column (a task's name: nothing escaped) is in `tasks`. */
function linesOfTasks(body: Uint8Array, tasks: ReadonlySet<string>): Uint8Array {
  const dec = new TextDecoder();
  const keep: Uint8Array[] = [];
  for (let from = 0; from < body.length;) {
    const end = body.indexOf(NL, from) + 1;
    const line = body.subarray(from, end);
    if (tasks.has(dec.decode(line.subarray(0, line.indexOf(TAB))))) keep.push(line);
    from = end;
  }
  const out = new Uint8Array(keep.reduce((n, l) => n + l.length, 0));
  let to = 0;
  for (const l of keep) out.set(l, to), to += l.length;
  return out;
}

/** A date (YYYY-MM-DD) in a time zone. */
export function dayIn(timeZone: string, sec: number): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, dateStyle: "short" }).format(sec * 1000);
}

/** PEM files read for a sink's TLS (the client wants their bytes). */
export interface SinkTls {
  ca_cert: Uint8Array;
  cert?: Uint8Array;
  key?: Uint8Array;
}

/** A sink's TLS files, read. */
export async function sinkTls(cfg: SinkConfig): Promise<SinkTls | undefined> {
  if (cfg.tls === undefined) return undefined;
  const read = (what: string, file: string) => sinkFile(cfg, what, file);
  const out: SinkTls = { ca_cert: await read("CA file", cfg.tls.caFile) };
  if (cfg.tls.certFile !== undefined) out.cert = await read("certificate", cfg.tls.certFile);
  if (cfg.tls.keyFile !== undefined) out.key = await read("key file", cfg.tls.keyFile);
  return out;
}

/** A string in single quotes for a ClickHouse literal (18.16 has no query parameters). */
function sqlText(s: string): string {
  return s.replace(/[\\']/g, (c) => `\\${c}`);
}

/** A sink's password from its file or environment variable (a user mistake: one line). */
export async function sinkPassword(cfg: SinkConfig): Promise<string | undefined> {
  if (cfg.passwordEnv !== undefined) {
    const v = Deno.env.get(cfg.passwordEnv);
    if (v === undefined) {
      throw new UserError(`Sink ${cfg.name}: the environment variable ${cfg.passwordEnv} is unset`);
    }
    return v;
  }
  if (cfg.passwordFile !== undefined) {
    const bytes = await sinkFile(cfg, "password file", cfg.passwordFile);
    return new TextDecoder().decode(bytes).trim();
  }
  return undefined;
}

/** A file a sink's config names (one it cannot read is the user's mistake: one line). */
async function sinkFile(cfg: SinkConfig, what: string, file: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(file);
  } catch (e) {
    throw new UserError(
      `Sink ${cfg.name}: cannot read the ${what} ${file}: ${(e as Error).message}`,
    );
  }
}
