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
  HUGEINT,
  INTEGER,
  TIMESTAMP,
  UBIGINT,
  UHUGEINT,
  UINTEGER,
  USMALLINT,
  UTINYINT,
} from "@duckdb/node-api";
import type { TaskSpec, WindowData } from "../collector/engine.ts";
import type { TableWindow } from "../collector/header_work.ts";
import { ERROR_NAMES } from "../collector/decode/mod.ts";
import { ENTRY_WORDS, FLOW_ENTRY } from "../collector/flow_table.ts";
import { FLOW_RECORD, type FlowRecords, RECORD_WORDS } from "../collector/flow_tracker.ts";
import { ChunkWriter } from "./_chunk.ts";
import { appendSketches, appendSketchKeys } from "./_sketch_rows.ts";
import {
  appendAppErrors,
  appendDns,
  appendDnsRcodes,
  appendHttp,
  appendHttpAgents,
  appendHttpStatus,
} from "./_app_rows.ts";
import type { SketchSpec } from "../collector/sketch_bank.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./schema.ts";

/** Column types of window_flows and flow_records, in table order (see schema.ts). */
const WINDOW_FLOW_TYPES = [
  UINTEGER,
  USMALLINT,
  TIMESTAMP,
  UTINYINT,
  UHUGEINT,
  UHUGEINT,
  USMALLINT,
  INTEGER,
  INTEGER,
  USMALLINT,
  UBIGINT,
  UBIGINT,
  HUGEINT,
  HUGEINT,
  USMALLINT,
];
const FLOW_RECORD_TYPES = [
  UINTEGER,
  HUGEINT,
  HUGEINT,
  UTINYINT,
  UHUGEINT,
  UHUGEINT,
  INTEGER,
  INTEGER,
  USMALLINT,
  USMALLINT,
  UBIGINT,
  UBIGINT,
  UBIGINT,
  UBIGINT,
  USMALLINT,
  UINTEGER,
  UINTEGER,
  UINTEGER,
  UINTEGER,
  UTINYINT,
];

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
export class StoreLockedError extends TypeError {
  constructor(path: string, detail: string) {
    super(`The store ${path} is in use by another process (${detail}); try again when it is done`);
    this.name = "StoreLockedError";
  }
}

/** The store cannot be opened: no such folder, not a DuckDB file, no permission. */
export class StoreOpenError extends TypeError {
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

/** One window_flows row per key of `table`, straight from its records. */
function writeFlowRows(
  a: DuckDBAppender,
  sourceNo: number,
  taskNo: number,
  startMicros: number,
  table: TableWindow,
): void {
  const c = new ChunkWriter(a, WINDOW_FLOW_TYPES);
  const t = table.records;
  const m = table.mask;
  const E = FLOW_ENTRY;
  // Window start as a 64-bit count of microseconds (exact below 2^53).
  const startLo = startMicros % 4294967296, startHi = Math.floor(startMicros / 4294967296);
  for (let e = 0; e < table.size; e++) {
    const o = e * ENTRY_WORDS;
    const meta = t[o + E.META]!;
    const family = (meta >>> 8) & 7;
    c.u32(0, sourceNo), c.u16(1, taskNo), c.u64(2, startLo, startHi);
    if (family !== 0) c.u8(3, family);
    else c.null(3);
    if (m.srcIp) c.addr(4, t, o, family === 4);
    else c.null(4);
    if (m.dstIp) c.addr(5, t, o + 4, family === 4);
    else c.null(5);
    if (m.proto) c.u16(6, meta & 0xff);
    else c.null(6);
    const ports = t[o + E.PORTS]! >>> 0;
    const hasPorts = (meta & E.META_PORTS_PRESENT) !== 0;
    if (hasPorts && m.srcPort) c.u32(7, ports >>> 16);
    else c.null(7);
    if (hasPorts && m.dstPort) c.u32(8, ports & 0xffff);
    else c.null(8);
    if ((meta & E.META_VLAN_PRESENT) !== 0) c.u16(9, (meta >>> 16) & 0xfff);
    else c.null(9);
    c.u64(10, t[o + E.PKTS_LO]! >>> 0, t[o + E.PKTS_HI]! >>> 0);
    c.u64(11, t[o + E.BYTES_LO]! >>> 0, t[o + E.BYTES_HI]! >>> 0);
    if (t[o + E.FIRST_NSEC] === -1) c.null(12), c.null(13);
    else {
      const hi = t[o + E.SEC_HI]!;
      c.ns(12, (hi & 0xffff) * 4294967296 + (t[o + E.FIRST_SEC]! >>> 0), t[o + E.FIRST_NSEC]!);
      c.ns(13, (hi >>> 16) * 4294967296 + (t[o + E.LAST_SEC]! >>> 0), t[o + E.LAST_NSEC]!);
    }
    c.u16(14, t[o + E.TCP_FLAGS]!);
    c.endRow();
  }
  c.flush();
}

/** A float64 counter (exact below 2^53) as UBIGINT. */
function u64Of(c: ChunkWriter, col: number, v: number): void {
  c.u64(col, v % 4294967296, Math.floor(v / 4294967296));
}

/** flow_records rows straight from the tracker's record words (initiator first). */
function writeRecordRows(a: DuckDBAppender, sourceNo: number, recs: FlowRecords): void {
  const c = new ChunkWriter(a, FLOW_RECORD_TYPES);
  const R = FLOW_RECORD;
  const w = recs.words, dbl = recs.doubles;
  for (let r = 0; r < recs.length; r++) {
    const o = r * RECORD_WORDS, d = o / 2;
    const bInit = (w[o + R.STATE]! & R.STATE_INITIATOR_B) !== 0;
    const meta = w[o + R.META]!;
    const v4 = ((meta >>> 8) & 7) === 4;
    c.u32(0, sourceNo);
    const startSec = w[o + R.START_SEC]! >>> 0, endSec = w[o + R.LAST_SEC]! >>> 0;
    if (startSec !== 0 || endSec !== 0) {
      c.ns(1, startSec, w[o + R.START_NSEC]!), c.ns(2, endSec, w[o + R.LAST_NSEC]!);
    } else c.null(1), c.null(2);
    c.u8(3, v4 ? 4 : 6);
    c.addr(4, w, bInit ? o + 4 : o, v4), c.addr(5, w, bInit ? o : o + 4, v4);
    if ((meta & R.META_PORTS_PRESENT) !== 0) {
      const ports = w[o + R.PORTS]! >>> 0;
      const pa = ports >>> 16, pb = ports & 0xffff;
      c.u32(6, bInit ? pb : pa), c.u32(7, bInit ? pa : pb);
    } else c.null(6), c.null(7);
    c.u16(8, meta & 0xff);
    if ((meta & R.META_VLAN_PRESENT) !== 0) c.u16(9, (meta >>> 16) & 0xfff);
    else c.null(9);
    const ab = bInit ? 1 : 0; // forward = initiator → responder
    u64Of(c, 10, dbl[d + R.D_PKTS_AB + ab]!), u64Of(c, 11, dbl[d + R.D_BYTES_AB + ab]!);
    u64Of(c, 12, dbl[d + R.D_PKTS_BA - ab]!), u64Of(c, 13, dbl[d + R.D_BYTES_BA - ab]!);
    c.u16(14, w[o + R.FLAGS]!);
    c.u32(15, w[o + R.SYN]!), c.u32(16, w[o + R.SYNACK]!);
    c.u32(17, w[o + R.FIN]!), c.u32(18, w[o + R.RST]!);
    c.u8(19, w[o + R.REASON]!);
    c.endRow();
  }
  c.flush();
}

export class Store {
  /** A COMMIT still running (see writeBehind), and the error it ended with. */
  private pending: Promise<void> | null = null;
  private failure: unknown = null;

  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    readonly con: DuckDBConnection,
  ) {}

  /** Opens (creating and migrating when writable) the store at `path` (":memory:" too). */
  static async open(path: string, opts: OpenOptions = {}): Promise<Store> {
    const config: Record<string, string> = {};
    if (opts.readOnly) config.access_mode = "READ_ONLY";
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
        if (!opts.readOnly) await store.migrate();
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
      throw new RangeError(
        `The store ${this.path} has schema version ${have}, newer than this program's ${SCHEMA_VERSION}`,
      );
    }
    for (let v = have + 1; v <= SCHEMA_VERSION; v++) {
      await this.transaction(async () => {
        await this.con.run(MIGRATIONS[v - 1]!);
        await this.con.run("INSERT INTO schema_version VALUES ($1, now()::TIMESTAMP)", [v]);
      });
    }
  }

  /** BEGIN, then `fn`; on error a ROLLBACK and the error. COMMIT is up to the caller. */
  private async begun<T>(fn: () => Promise<T>): Promise<T> {
    await this.settle();
    await this.con.run("BEGIN TRANSACTION");
    try {
      return await fn();
    } catch (e) {
      await this.con.run("ROLLBACK");
      throw e;
    }
  }

  /** Runs `fn` in one transaction; on error nothing of it stays. */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    return await this.begun(async () => {
      const out = await fn();
      await this.con.run("COMMIT");
      return out;
    });
  }

  /**
   * Like `transaction`, but returns once `fn` has appended its rows and leaves the COMMIT
   * running on DuckDB's threads, so the packet path goes on meanwhile (at window ends the
   * commit of a large window is a good part of the store's time). Every later use of the store
   * waits for it first; a commit that failed fails that later call.
   */
  private async writeBehind(fn: () => Promise<void>): Promise<void> {
    await this.begun(fn);
    this.pending = this.con.run("COMMIT").then(
      () => {},
      (e) => {
        this.failure = e;
      },
    );
  }

  /** Waits for a commit left running by a write; throws if it failed. */
  async settle(): Promise<void> {
    if (this.pending !== null) {
      await this.pending;
      this.pending = null;
    }
    if (this.failure !== null) {
      const e = this.failure;
      this.failure = null;
      throw e;
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
   * Starts (or restarts) a source and returns its number: rows a previous run of the same
   * inputs left are removed, so analysing the same capture twice never doubles anything.
   */
  async beginSource(
    sourceId: string,
    inputs: string,
    windowSec: number,
    tasks: readonly TaskSpec[],
    sketches: readonly SketchSpec[] = [],
  ): Promise<number> {
    return await this.transaction(async () => {
      const old = await this.rows("SELECT source_no FROM sources WHERE source_id = $1", [
        sourceId,
      ]);
      let sourceNo: number;
      if (old.length > 0) {
        sourceNo = Number(old[0]!.source_no);
        for (const t of SOURCE_TABLES) {
          await this.con.run(`DELETE FROM ${t} WHERE source_no = $1`, [sourceNo]);
        }
      } else {
        const next = await this.rows("SELECT coalesce(max(source_no), 0) + 1 AS n FROM sources");
        sourceNo = Number(next[0]!.n);
      }
      await this.con.run(
        "INSERT INTO sources VALUES ($1, $2, $3, $4, now()::TIMESTAMP, NULL, NULL, NULL)",
        [sourceNo, sourceId, inputs, windowSec],
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

  async finishSource(
    sourceNo: number,
    packets: number,
    warnings: readonly string[],
  ): Promise<void> {
    await this.settle();
    await this.con.run(
      "UPDATE sources SET finished_at = now()::TIMESTAMP, packets = $2, warnings = $3 WHERE source_no = $1",
      [sourceNo, packets, warnings.join("\n")],
    );
  }

  /**
   * Writes one window (totals, protocols, decode errors, every task's rows) atomically.
   * Task k of `w.tasks` is the source's task_no k.
   */
  async writeWindow(sourceNo: number, w: WindowData): Promise<void> {
    const startMicros = Math.min(w.startSec, WINDOW_START_MAX_SEC) * 1e6;
    const start = new DuckDBTimestampValue(
      BigInt(Math.min(w.startSec, WINDOW_START_MAX_SEC)) * 1_000_000n,
    );
    const t = w.totals;
    await this.writeBehind(async () => {
      await this.append("window_totals", (a) => {
        a.appendUInteger(sourceNo);
        a.appendTimestamp(start);
        a.appendInteger(w.windowSec);
        for (
          const v of [t.frames, t.wireBytes, t.capBytes, t.ipv4Frames, t.ipv6Frames, t.nonIpFrames]
        ) {
          a.appendUBigInt(BigInt(v));
        }
        if (Number.isFinite(t.firstSec)) {
          a.appendHugeInt(nsOf(t.firstSec, t.firstNsec));
          a.appendHugeInt(nsOf(t.lastSec, t.lastNsec));
        } else a.appendNull(), a.appendNull();
        a.endRow();
      });
      await this.append("window_protocols", (a) => {
        for (let p = 0; p < 256; p++) {
          if (t.protoFrames[p] === 0) continue;
          a.appendUInteger(sourceNo), a.appendTimestamp(start), a.appendUSmallInt(p);
          a.appendUBigInt(BigInt(t.protoFrames[p]!)), a.appendUBigInt(BigInt(t.protoBytes[p]!));
          a.endRow();
        }
      });
      await this.append("window_decode_errors", (a) => {
        for (let c = 1; c < t.errors.length; c++) {
          if (t.errors[c] === 0) continue;
          a.appendUInteger(sourceNo), a.appendTimestamp(start), a.appendVarchar(ERROR_NAMES[c]!);
          a.appendUBigInt(BigInt(t.errors[c]!));
          a.endRow();
        }
        if (w.app !== null) appendAppErrors(a, sourceNo, start, w.app);
      });
      const app = w.app;
      if (app !== null) {
        await this.append("window_dns", (a) => appendDns(a, sourceNo, start, app));
        await this.append("window_dns_rcodes", (a) => appendDnsRcodes(a, sourceNo, start, app));
        await this.append("window_http", (a) => appendHttp(a, sourceNo, start, app));
        await this.append("window_http_status", (a) => appendHttpStatus(a, sourceNo, start, app));
        await this.append("window_http_agents", (a) => appendHttpAgents(a, sourceNo, start, app));
      }
      await this.append("window_tasks", (a) => {
        for (let k = 0; k < w.tasks.length; k++) {
          const table = w.tasks[k]!.table;
          a.appendUInteger(sourceNo), a.appendUSmallInt(k), a.appendTimestamp(start);
          a.appendUBigInt(BigInt(table.size)), a.appendUBigInt(BigInt(table.overflowPackets));
          a.appendUBigInt(BigInt(table.overflowBytes));
          a.endRow();
        }
      });
      for (let k = 0; k < w.tasks.length; k++) {
        const table = w.tasks[k]!.table;
        await this.append(
          "window_flows",
          (a) => writeFlowRows(a, sourceNo, k, startMicros, table),
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
    });
  }

  async writeFlowRecords(sourceNo: number, recs: FlowRecords): Promise<void> {
    await this.writeBehind(() =>
      this.append("flow_records", (a) => writeRecordRows(a, sourceNo, recs))
    );
  }

  /** Runs a query with bound parameters and returns its rows as objects. */
  async rows(sql: string, params: DuckDBValue[] = []): Promise<Record<string, DuckDBValue>[]> {
    await this.settle();
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
        await this.settle();
        await this.con.run("CHECKPOINT");
        dropped++;
      }
    }
    return dropped;
  }

  private async dropWindowsBefore(boundSql: string, params: DuckDBValue[]): Promise<void> {
    await this.transaction(async () => {
      const bound = await this.rows(`SELECT ${boundSql} AS b`, params);
      const b = bound[0]!.b;
      if (b === null || b === undefined) return;
      for (const t of WINDOW_TABLES) {
        await this.con.run(`DELETE FROM ${t} WHERE window_start < $1`, [b]);
      }
      await this.con.run(
        "DELETE FROM flow_records WHERE end_ns < epoch_ns($1::TIMESTAMP)::HUGEINT",
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

  /**
   * Waits for a running commit, then closes the connection and the instance (DuckDB flushes
   * its WAL). Throws the commit's error, if it failed, after closing.
   */
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
    if (this.pending !== null) throw new Error("Store closed while a commit is running");
    this.con.closeSync();
    this.instance.closeSync();
  }
}
