/**
 * The ClickHouse sink: tables made if missing, one INSERT per window and table, each row with
 * the window's identity and the batch id, the query id derived from the batch id.
 *
 * Exactly once without the server's help (ClickHouse 18.16, which Debian ships, has no insert
 * deduplication token and deduplicates only replicated tables): a batch is sent only after
 * asking what the server holds of it. First, while a query with the batch's query id still
 * runs (an earlier attempt whose answer never came), it is waited for; then the batch's rows
 * are counted (by the window's identity, so the primary index finds them); all there: done,
 * none: sent. A batch is one window of one table, well under ClickHouse's insert block
 * (1,048,576 rows) and in one partition (one day), so the server stores it whole or not at all.
 * One forwarder per sink and store (the store's lock), so nothing else sends it meanwhile.
 * ReplacingMergeTree, keyed by identity and key, would fold a repeat as a backstop.
 *
 * @module
 */

import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { UserError } from "../collector/user_error.ts";
import type { SinkConfig } from "../collector/config/mod.ts";
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

const TABLE_DDL: Record<ExportTable, { columns: string; key: string }> = {
  windows: {
    columns: `packets UInt64, bytes UInt64, cap_bytes UInt64, ipv4_packets UInt64,
      ipv6_packets UInt64, non_ip_packets UInt64, late_packets UInt64, late_bytes UInt64,
      tracker_overflow_packets UInt64, capture_received Int64, capture_dropped Int64,
      capture_if_dropped Int64`,
    key: "sensor, source, window_start, part",
  },
  flows: {
    columns: `task String, ip_version UInt8, src_ip String, dst_ip String, proto Int16,
      src_port Int32, dst_port Int32, vlan Int32, packets UInt64, bytes UInt64`,
    key:
      "sensor, source, window_start, part, task, ip_version, src_ip, dst_ip, proto, src_port, dst_port, vlan",
  },
  records: {
    columns: `start_ns Int64, end_ns Int64, ip_version UInt8, src_ip String, dst_ip String,
      src_port Int32, dst_port Int32, proto UInt16, vlan Int32, packets_fwd UInt64,
      bytes_fwd UInt64, packets_rev UInt64, bytes_rev UInt64, tcp_flags UInt16, syn UInt32,
      syn_ack UInt32, fin UInt32, rst UInt32, close_reason String`,
    key:
      "sensor, source, window_start, part, start_ns, end_ns, src_ip, dst_ip, src_port, dst_port, proto, vlan",
  },
  sketches: {
    columns: `task String, kind String, packets UInt64, estimate Float64, sketch_hex String`,
    key: "sensor, source, window_start, part, task",
  },
  dns: {
    columns: `protocol String, qname String, qtype UInt16, queries UInt64, responses UInt64,
      nxdomain UInt64, errors UInt64, rtt_count UInt64, rtt_sum_us Float64, rtt_max_us Float64`,
    key: "sensor, source, window_start, part, protocol, qname, qtype",
  },
  decode_errors: {
    columns: `reason String, packets UInt64`,
    key: "sensor, source, window_start, part, reason",
  },
  dns_rcodes: {
    columns: `protocol String, rcode UInt8, responses UInt64`,
    key: "sensor, source, window_start, part, protocol, rcode",
  },
  http: {
    columns: `protocol String, has_host UInt8, host String, method String, path String,
      requests UInt64`,
    key: "sensor, source, window_start, part, protocol, has_host, host, method, path",
  },
  http_status: {
    columns: `protocol String, code UInt16, responses UInt64`,
    key: "sensor, source, window_start, part, protocol, code",
  },
  http_agents: {
    columns: `protocol String, user_agent String, requests UInt64`,
    key: "sensor, source, window_start, part, protocol, user_agent",
  },
  sketch_keys: {
    columns: `task String, rank UInt32, ip_version UInt8, src_ip String, dst_ip String,
      proto Int16, src_port Int32, dst_port Int32, vlan Int32, packets Int64, bytes Int64,
      spread Float64`,
    key: "sensor, source, window_start, part, task, rank",
  },
};

/** The DDL of a central table (documented in forward/README.md). */
export function tableDdl(database: string, table: ExportTable): string {
  const t = TABLE_DDL[table];
  return `CREATE TABLE IF NOT EXISTS ${database}.${table} (${IDENTITY_DDL}, ${t.columns})
    ENGINE = ReplacingMergeTree PARTITION BY toDate(window_start) ORDER BY (${t.key})`;
}

/** A batch's id: the same for the same window and table, whichever run or process sends it. */
export async function batchIdOf(e: OutboxEntry, table: ExportTable): Promise<string> {
  const text = [e.sensor, e.source, e.startSec, e.windowSec, e.part, table].join("\n");
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...h.subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** What became of one batch: sent now, or found whole on the server. */
export type Delivery = "inserted" | "present";

/** How long to wait for an earlier attempt still running on the server, at most. */
const RUNNING_WAIT_MS = 60_000;

export class ClickHouseSink {
  readonly name: string;
  private readonly client: ClickHouseClient;
  private readonly database: string;
  private prepared = false;
  /** The server's version, read at the first send. */
  version = "";

  constructor(cfg: SinkConfig, password: string | undefined) {
    this.name = cfg.name;
    this.database = cfg.database;
    this.client = createClient({
      url: cfg.url,
      username: cfg.user ?? "default",
      password: password ?? "",
      request_timeout: cfg.timeoutSec * 1000,
      // 64-bit integers as JSON numbers (18.16 quotes them unless told).
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
  }

  /** Reads the server's version and makes the database and tables if missing. */
  async prepare(): Promise<void> {
    if (this.prepared) return;
    const [v] = await this.select<{ v: string }>("SELECT version() AS v");
    this.version = v!.v;
    await this.client.command({ query: `CREATE DATABASE IF NOT EXISTS ${this.database}` });
    for (const t of Object.keys(TABLE_DDL) as ExportTable[]) {
      await this.client.command({ query: tableDdl(this.database, t) });
    }
    this.prepared = true;
  }

  /**
   * Sends one window — a batch per table that has rows — unless the server holds it already:
   * after an earlier attempt (`e.attempts` > 0) first waits while any of its inserts still
   * runs; then counts every batch in one question, and sends those with no rows there.
   */
  async deliver(e: OutboxEntry, payloads: readonly OutboxPayload[]): Promise<Delivery> {
    await this.prepare();
    const todo = payloads.filter((p) => p.rows > 0);
    const batches = await Promise.all(todo.map((p) => batchIdOf(e, p.table)));
    if (e.attempts > 0) await this.waitNotRunning(batches.map((b) => `netspectra-${b}`));
    const held = await this.counts(e, todo.map((p) => p.table), batches);
    let inserted = false;
    for (let k = 0; k < todo.length; k++) {
      const p = todo[k]!, batch = batches[k]!;
      if (held[k] === p.rows) continue;
      if (held[k] !== 0) {
        throw new Error(
          `${this.database}.${p.table} holds ${held[k]} of batch ${batch}'s ${p.rows} rows ` +
            `(a part of a batch: not sent again)`,
        );
      }
      const prefix = [
        tsvText(e.sensor),
        tsvText(e.source),
        e.startSec,
        e.windowSec,
        e.part,
        batch,
      ].join("\t") + "\t";
      const columns = [...IDENTITY_COLUMNS, ...EXPORT_COLUMNS[p.table]].join(", ");
      const r = await this.client.exec({
        query: `INSERT INTO ${this.database}.${p.table} (${columns}) FORMAT TabSeparated`,
        values: prefixLines(prefix, p.body),
        query_id: `netspectra-${batch}`,
      } as never);
      // Read to its end (the server's empty answer): the connection then goes back to the
      // client's pool, where a destroyed stream would close it.
      for await (const _ of r.stream as AsyncIterable<unknown>) { /* nothing in it */ }
      inserted = true;
    }
    return inserted ? "inserted" : "present";
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** Rows the server holds of each batch (by the window's identity: the primary index). */
  private async counts(e: OutboxEntry, tables: ExportTable[], batches: string[]) {
    if (tables.length === 0) return [];
    const where = `sensor = '${sqlText(e.sensor)}' AND source = '${sqlText(e.source)}'
      AND window_start = toDateTime(${e.startSec}) AND part = ${e.part}`;
    const rows = await this.select<{ k: number; n: number }>(
      tables.map((t, k) =>
        `SELECT ${k} AS k, count() AS n FROM ${this.database}.${t}
         WHERE ${where} AND batch_id = '${batches[k]}'`
      ).join(" UNION ALL "),
    );
    const held = new Array<number>(tables.length).fill(0);
    for (const r of rows) held[Number(r.k)] = Number(r.n);
    return held;
  }

  /** Waits while an earlier attempt of one of these query ids still runs on the server. */
  private async waitNotRunning(queryIds: string[]): Promise<void> {
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

/** A string in single quotes for a ClickHouse literal (18.16 has no query parameters). */
function sqlText(s: string): string {
  return s.replace(/[\\']/g, (c) => `\\${c}`);
}

/** Every line of `body` with `prefix` before it. */
function prefixLines(prefix: string, body: Uint8Array): string {
  const text = new TextDecoder().decode(body);
  if (text === "") return "";
  return prefix + text.slice(0, -1).replaceAll("\n", `\n${prefix}`) + "\n";
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
    try {
      return (await Deno.readTextFile(cfg.passwordFile)).trim();
    } catch (e) {
      throw new UserError(
        `Sink ${cfg.name}: cannot read the password file ${cfg.passwordFile}: ${
          (e as Error).message
        }`,
      );
    }
  }
  return undefined;
}
