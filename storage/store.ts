/**
 * The embedded DuckDB store: one file, one instance per process, bulk writes through the
 * Appender, one transaction per window (a killed process leaves every committed window whole).
 *
 * @module
 */

import {
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBInstance,
  DuckDBTimestampValue,
  type DuckDBValue,
} from "@duckdb/node-api";
import { UserError } from "../collector/user_error.ts";
import type { WindowExport } from "../collector/export/mod.ts";
import type { TaskSpec } from "../collector/engine/mod.ts";
import type { SketchSpec } from "../collector/engine/mod.ts";
import { appendSketches, appendSketchKeys } from "./_sketch_rows.ts";
import {
  appendAppErrors,
  appendDns,
  appendDnsRcodes,
  appendHttp,
  appendHttpAgents,
  appendHttpStatus,
} from "./_app_rows.ts";
import { writeFlowRows, writeRecordRows } from "./_window_rows.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./schema.ts";

/** Tables with rows per window (retention drops them by window_start). */
const WINDOW_TABLES = [
  "window_totals",
  "window_protocols",
  "window_decode_errors",
  "window_tasks",
  "window_flows",
  "window_sketches",
  "window_sketch_keys",
  "window_dns",
  "window_dns_rcodes",
  "window_http",
  "window_http_status",
  "window_http_agents",
];

/** Tables with rows per source (deleted when a source is ingested again). */
const SOURCE_TABLES = [...WINDOW_TABLES, "flow_records", "tasks", "sources"];

/** A sketch task's options as stored in tasks.params: only those its kind uses. */
function sketchParams(
  kind: SketchSpec["kind"],
  p: Omit<SketchSpec, "name" | "kind" | "key">,
): Record<string, unknown> {
  const out: Record<string, unknown> = { filter: p.filter };
  if (kind !== "distinct") out.memory_bytes = p.memoryBytes;
  if (kind === "heavy_hitters") out.by = p.by, out.top = p.top;
  if (kind === "count_min") out.by = p.by, out.conservative = p.conservative;
  if (kind === "distinct") out.precision = p.precision;
  if (kind === "spread") out.element = p.element.join(","), out.threshold = p.threshold;
  return out;
}

/** The store file is held by another process (DuckDB allows one writer). */
export class StoreLockedError extends UserError {
  constructor(path: string, detail: string) {
    super(`The store ${path} is in use by another process (${detail}); try again when it is done`);
    this.name = "StoreLockedError";
  }
}

/** The store cannot be opened: no such folder, not a DuckDB file, no permission. */
export class StoreOpenError extends UserError {
  constructor(path: string, detail: string) {
    super(`Cannot open the store ${path}: ${detail}`);
    this.name = "StoreOpenError";
  }
}

export interface OpenOptions {
  readOnly?: boolean;
  /** Keep retrying a locked file this long before giving up. */
  waitMs?: number;
  /** For SQL that is not the user's own shell: no file or network access, config locked. */
  sandboxed?: boolean;
  /** DuckDB's memory limit (a query needing more fails instead of swapping the box). */
  memoryLimitBytes?: number;
}

const NS = 1_000_000_000n;
/**
 * DuckDB TIMESTAMPs end in the year 294246; captures with nonsense times beyond (tshark shows
 * them as is) are stored in this last window. Packet times keep full range (HUGEINT ns).
 */
const WINDOW_START_MAX_SEC = 9_000_000_000_000;

function nsOf(sec: number, nsec: number): bigint {
  return BigInt(sec) * NS + BigInt(nsec);
}

function lockDetail(e: unknown): string | null {
  const m = e instanceof Error
    ? /Could not set lock on file.*?(Conflicting lock.*)$/s.exec(e.message)
    : null;
  return m ? m[1]!.split("\n")[0]!.trim() : null;
}

export class Store {
  /** File sources a killed run had left unfinished, removed when this store was opened. */
  removedUnfinished = 0;
  /** One write at a time: every write runs behind the previous one (see serial). */
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    readonly con: DuckDBConnection,
  ) {}

  /** Opens (creating and migrating when writable) the store at `path` (":memory:" too). */
  static async open(path: string, opts: OpenOptions = {}): Promise<Store> {
    const config: Record<string, string> = {};
    if (opts.readOnly) config.access_mode = "READ_ONLY";
    if (opts.memoryLimitBytes !== undefined) {
      config.memory_limit = `${Math.floor(opts.memoryLimitBytes / 1024)}KiB`;
    }
    if (opts.sandboxed) {
      config.enable_external_access = "false";
      config.lock_configuration = "true";
    }
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (;;) {
      try {
        const instance = await DuckDBInstance.create(path, config);
        const con = await instance.connect();
        const store = new Store(path, instance, con);
        if (!opts.readOnly) {
          await store.migrate();
          store.removedUnfinished = await store.removeUnfinished();
        }
        return store;
      } catch (e) {
        const detail = lockDetail(e);
        if (detail === null) {
          // A path that cannot be created or a file that is not a store: a user mistake.
          if (e instanceof Error && /^IO Error/.test(e.message)) {
            throw new StoreOpenError(path, e.message.split("\n")[0]!.replace(/^IO Error: /, ""));
          }
          throw e;
        }
        if (Date.now() >= deadline) throw new StoreLockedError(path, detail);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Schema version the file is at (0 for a new file). */
  async schemaVersion(): Promise<number> {
    const t = await this.con.runAndReadAll(
      "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'",
    );
    if (Number(t.getRows()[0]![0]) === 0) return 0;
    const r = await this.con.runAndReadAll("SELECT coalesce(max(version), 0) FROM schema_version");
    return Number(r.getRows()[0]![0]);
  }

  private async migrate(): Promise<void> {
    await this.con.run(
      "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)",
    );
    const have = await this.schemaVersion();
    if (have > SCHEMA_VERSION) {
      throw new StoreOpenError(
        this.path,
        `it has schema version ${have}, newer than this program's ${SCHEMA_VERSION}`,
      );
    }
    for (let v = have + 1; v <= SCHEMA_VERSION; v++) {
      await this.transaction(async () => {
        await this.con.run(MIGRATIONS[v - 1]!);
        await this.con.run("INSERT INTO schema_version VALUES ($1, now()::TIMESTAMP)", [v]);
      });
    }
  }

  /**
   * Runs `fn` after every write started before it has ended: writes to the store are
   * serialised by design (one connection, one transaction at a time), whoever calls them.
   */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  /** Runs `fn` in one transaction, after the writes before it; on error nothing of it stays. */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial(() => this.inTransaction(fn));
  }

  private async inTransaction<T>(fn: () => Promise<T>): Promise<T> {
    await this.con.run("BEGIN TRANSACTION");
    try {
      const out = await fn();
      await this.con.run("COMMIT");
      return out;
    } catch (e) {
      await this.con.run("ROLLBACK").catch(() => {});
      throw e;
    }
  }

  /** Waits for every write started so far. */
  async settle(): Promise<void> {
    await this.serial(() => Promise.resolve());
  }

  private async appendAsync(
    table: string,
    fill: (a: DuckDBAppender) => Promise<void>,
  ): Promise<void> {
    const a = await this.con.createAppender(table);
    try {
      await fill(a);
      a.flushSync();
    } finally {
      a.closeSync();
    }
  }

  private async append(table: string, fill: (a: DuckDBAppender) => void): Promise<void> {
    const a = await this.con.createAppender(table);
    try {
      fill(a);
      a.flushSync();
    } finally {
      a.closeSync();
    }
  }

  /**
   * Starts a source and returns its number. It is stored under a provisional id until
   * {@link finishSource} gives it its identity (a capture's content fingerprint is known only
   * once it has been read whole); an unfinished file source is removed at the next open.
   */
  async beginSource(
    inputs: string,
    windowSec: number,
    tasks: readonly TaskSpec[],
    sketches: readonly SketchSpec[] = [],
    sensor = "",
    kind = "file",
  ): Promise<number> {
    return await this.transaction(async () => {
      const next = await this.query("SELECT coalesce(max(source_no), 0) + 1 AS n FROM sources");
      const sourceNo = Number(next[0]!.n);
      await this.con.run(
        "INSERT INTO sources (source_no, source_id, inputs, window_sec, started_at, sensor_id, kind) VALUES ($1, $2, $3, $4, now()::TIMESTAMP, $5, $6)",
        [sourceNo, `unfinished-${crypto.randomUUID()}`, inputs, windowSec, sensor, kind],
      );
      for (let k = 0; k < tasks.length; k++) {
        const t = tasks[k]!;
        await this.con.run("INSERT INTO tasks VALUES ($1, $2, $3, $4, $5, NULL)", [
          sourceNo,
          k,
          t.name,
          t.kind,
          t.key.join(","),
        ]);
      }
      for (let k = 0; k < sketches.length; k++) {
        const { name, kind, key, ...params } = sketches[k]!;
        await this.con.run("INSERT INTO tasks VALUES ($1, $2, $3, $4, $5, $6)", [
          sourceNo,
          tasks.length + k,
          name,
          kind,
          key.join(","),
          JSON.stringify(sketchParams(kind, params)),
        ]);
      }
      return sourceNo;
    });
  }

  /**
   * The source's run ended whole: it takes its identity `sourceId`, replacing (in the same
   * transaction) whatever an earlier run of the same identity stored, so the same capture
   * analysed again, or twice in one run, is counted once.
   */
  async finishSource(
    sourceNo: number,
    done: {
      sourceId: string;
      packets: number;
      warnings: readonly string[];
      /** Length of the content the identity covers. */
      contentBytes?: number;
      /** Identities of earlier sources this one contains (a grown capture's first part). */
      replaces?: readonly string[];
    },
  ): Promise<void> {
    await this.transaction(async () => {
      for (const id of [done.sourceId, ...done.replaces ?? []]) {
        const old = await this.query(
          "SELECT source_no FROM sources WHERE source_id = $1 AND source_no <> $2",
          [id, sourceNo],
        );
        for (const r of old) await this.deleteSourceRows(Number(r.source_no));
      }
      await this.con.run(
        "UPDATE sources SET source_id = $2, finished_at = now()::TIMESTAMP, packets = $3, warnings = $4, content_bytes = $5 WHERE source_no = $1",
        [
          sourceNo,
          done.sourceId,
          done.packets,
          done.warnings.join("\n"),
          done.contentBytes === undefined ? null : done.contentBytes,
        ],
      );
    });
  }

  /** Finished file sources: identity and content length (for recognising grown captures). */
  async fileSources(): Promise<{ sourceId: string; bytes: number }[]> {
    const r = await this.rows(
      "SELECT source_id, content_bytes FROM sources WHERE finished_at IS NOT NULL AND kind = 'file' AND content_bytes IS NOT NULL",
    );
    return r.map((x) => ({ sourceId: String(x.source_id), bytes: Number(x.content_bytes) }));
  }

  /** A source's run failed: everything it stored goes, so nothing half-made stays. */
  async abandonSource(sourceNo: number): Promise<void> {
    await this.transaction(() => this.deleteSourceRows(sourceNo));
  }

  private async deleteSourceRows(sourceNo: number): Promise<void> {
    for (const t of SOURCE_TABLES) {
      await this.con.run(`DELETE FROM ${t} WHERE source_no = $1`, [sourceNo]);
    }
  }

  /** Removes file sources a killed run left unfinished (their identity was never known). */
  private async removeUnfinished(): Promise<number> {
    const left = await this.query(
      "SELECT source_no FROM sources WHERE finished_at IS NULL AND coalesce(kind, 'file') = 'file'",
    );
    if (left.length === 0) return 0;
    await this.transaction(async () => {
      for (const r of left) await this.deleteSourceRows(Number(r.source_no));
    });
    return left.length;
  }

  /**
   * Writes one closed window — totals, protocols, decode errors, DNS/HTTP, every task's rows,
   * sketches and the flow records that ended with it — in one transaction, behind every
   * earlier write. Task k of `w.tasks` is the source's task_no k.
   */
  writeWindow(sourceNo: number, w: WindowExport): Promise<void> {
    return this.transaction(() => this.appendWindow(sourceNo, w));
  }

  private async appendWindow(sourceNo: number, w: WindowExport): Promise<void> {
    const startSec = Math.min(w.id.startSec, WINDOW_START_MAX_SEC);
    const startMicros = startSec * 1e6;
    const start = new DuckDBTimestampValue(BigInt(startSec) * 1_000_000n);
    const t = w.totals;
    await this.append("window_totals", (a) => {
      a.appendUInteger(sourceNo);
      a.appendTimestamp(start);
      a.appendInteger(w.id.windowSec);
      for (
        const v of [t.packets, t.bytes, t.capBytes, t.ipv4Packets, t.ipv6Packets, t.nonIpPackets]
      ) {
        a.appendUBigInt(BigInt(v));
      }
      if (t.firstSec === t.firstSec) {
        a.appendHugeInt(nsOf(t.firstSec, t.firstNsec));
        a.appendHugeInt(nsOf(t.lastSec, t.lastNsec));
      } else a.appendNull(), a.appendNull();
      a.appendUBigInt(BigInt(t.latePackets)), a.appendUBigInt(BigInt(t.lateBytes));
      a.appendUBigInt(BigInt(w.trackerOverflowPackets));
      a.appendUSmallInt(w.id.part);
      a.endRow();
    });
    await this.append("window_protocols", (a) => {
      for (let p = 0; p < 256; p++) {
        if (t.protoPackets[p] === 0) continue;
        a.appendUInteger(sourceNo), a.appendTimestamp(start), a.appendUSmallInt(p);
        a.appendUBigInt(BigInt(t.protoPackets[p]!)), a.appendUBigInt(BigInt(t.protoBytes[p]!));
        a.endRow();
      }
    });
    await this.append("window_decode_errors", (a) => {
      for (const [reason, n] of t.decodeErrors) {
        a.appendUInteger(sourceNo), a.appendTimestamp(start), a.appendVarchar(reason);
        a.appendUBigInt(BigInt(n));
        a.endRow();
      }
      if (w.app !== null) appendAppErrors(a, sourceNo, start, w.app);
    });
    const app = w.app;
    if (app !== null) {
      await this.appendAsync("window_dns", (a) => appendDns(a, sourceNo, start, app));
      await this.append("window_dns_rcodes", (a) => appendDnsRcodes(a, sourceNo, start, app));
      await this.appendAsync("window_http", (a) => appendHttp(a, sourceNo, start, app));
      await this.append("window_http_status", (a) => appendHttpStatus(a, sourceNo, start, app));
      await this.appendAsync(
        "window_http_agents",
        (a) => appendHttpAgents(a, sourceNo, start, app),
      );
    }
    await this.append("window_tasks", (a) => {
      for (let k = 0; k < w.tasks.length; k++) {
        const rows = w.tasks[k]!.rows;
        a.appendUInteger(sourceNo), a.appendUSmallInt(k), a.appendTimestamp(start);
        a.appendUBigInt(BigInt(rows.length)), a.appendUBigInt(BigInt(rows.overflowPackets));
        a.appendUBigInt(BigInt(rows.overflowBytes));
        a.endRow();
      }
    });
    for (let k = 0; k < w.tasks.length; k++) {
      const rows = w.tasks[k]!.rows;
      await this.appendAsync(
        "window_flows",
        (a) => writeFlowRows(a, sourceNo, k, startMicros, rows),
      );
    }
    if (w.sketches.length > 0) {
      const n = w.tasks.length;
      await this.append(
        "window_sketches",
        (a) => appendSketches(a, sourceNo, n, start, w.sketches),
      );
      await this.append(
        "window_sketch_keys",
        (a) => appendSketchKeys(a, sourceNo, n, start, w.sketches),
      );
    }
    if (w.records.length > 0) {
      await this.appendAsync(
        "flow_records",
        (a) => writeRecordRows(a, sourceNo, startMicros, w.records),
      );
    }
  }

  /** Runs a query with bound parameters and returns its rows as objects. */
  async rows(sql: string, params: DuckDBValue[] = []): Promise<Record<string, DuckDBValue>[]> {
    return await this.serial(() => this.query(sql, params));
  }

  /**
   * Runs a query behind the writes before it and hands its rows over chunk by chunk (as DuckDB
   * gives them, 2,048 at a time), so a large result is never held whole.
   */
  stream(
    sql: string,
    params: DuckDBValue[],
    onRows: (rows: Record<string, DuckDBValue>[]) => void | Promise<void>,
  ): Promise<void> {
    return this.serial(async () => {
      const result = await this.con.stream(sql, params);
      const names = result.columnNames();
      for (;;) {
        const chunk = await result.fetchChunk();
        if (chunk === null || chunk.rowCount === 0) return;
        const rows = chunk.getRows().map((r) => {
          const o: Record<string, DuckDBValue> = {};
          for (let c = 0; c < names.length; c++) o[names[c]!] = r[c]!;
          return o;
        });
        await onRows(rows);
      }
    });
  }

  /** A query inside a write that is already running (no queueing behind it). */
  private async query(
    sql: string,
    params: DuckDBValue[] = [],
  ): Promise<Record<string, DuckDBValue>[]> {
    const r = await this.con.runAndReadAll(sql, params);
    return r.getRowObjects();
  }

  /**
   * Retention: drops windows older than `maxAgeSec` before the newest one, then the oldest
   * windows until the file's used space is within `maxBytes`. Returns windows dropped.
   */
  async applyRetention(opts: { maxAgeSec?: number; maxBytes?: number }): Promise<number> {
    let dropped = 0;
    if (opts.maxAgeSec !== undefined) {
      const r = await this.rows(
        "SELECT count(DISTINCT window_start) AS n FROM window_totals WHERE window_start < (SELECT max(window_start) FROM window_totals) - to_seconds($1::BIGINT)",
        [opts.maxAgeSec],
      );
      dropped += Number(r[0]!.n);
      await this.dropWindowsBefore(
        "(SELECT max(window_start) FROM window_totals) - to_seconds($1::BIGINT)",
        [opts.maxAgeSec],
      );
    }
    if (opts.maxBytes !== undefined) {
      for (let round = 0; round < 10_000 && await this.usedBytes() > opts.maxBytes; round++) {
        const oldest = await this.rows("SELECT min(window_start) AS w FROM window_totals");
        if (oldest[0]!.w === null) break;
        await this.dropWindowsBefore(
          "(SELECT min(window_start) FROM window_totals) + INTERVAL 1 MICROSECOND",
          [],
        );
        await this.serial(() => this.con.run("CHECKPOINT"));
        dropped++;
      }
    }
    return dropped;
  }

  private async dropWindowsBefore(boundSql: string, params: DuckDBValue[]): Promise<void> {
    await this.transaction(async () => {
      const bound = await this.query(`SELECT ${boundSql} AS b`, params);
      const b = bound[0]!.b;
      if (b === null || b === undefined) return;
      for (const t of WINDOW_TABLES) {
        await this.con.run(`DELETE FROM ${t} WHERE window_start < $1`, [b]);
      }
      // Records go with the window they were committed with (older stores: by end time).
      await this.con.run(
        "DELETE FROM flow_records WHERE coalesce(window_start < $1, end_ns < epoch_ns($1::TIMESTAMP)::HUGEINT)",
        [b],
      );
    });
  }

  /** Bytes of the file's blocks in use. */
  async usedBytes(): Promise<number> {
    const r = await this.rows(
      "SELECT block_size, total_blocks, free_blocks FROM pragma_database_size()",
    );
    const x = r[0]!;
    return Number(x.block_size) * (Number(x.total_blocks) - Number(x.free_blocks));
  }

  /** Waits for every write started, then closes the connection and the instance. */
  async close(): Promise<void> {
    try {
      await this.settle();
    } finally {
      this.con.closeSync();
      this.instance.closeSync();
    }
  }

  /** Closes at once; only for stores that were never written (read-only, queries). */
  closeSync(): void {
    this.con.closeSync();
    this.instance.closeSync();
  }
}
