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
  UINTEGER,
  USMALLINT,
  VARCHAR,
} from "@duckdb/node-api";
import type { WindowData } from "../collector/engine.ts";
import { ERROR_NAMES } from "../collector/decode/mod.ts";
import { ENTRY_WORDS, FLOW_ENTRY, type FlowTable } from "../collector/flow_table.ts";
import { type FlowRecords, readRecord } from "../collector/flow_tracker.ts";
import { ipv4Text, ipv6Text } from "../collector/ip_text.ts";
import { ChunkWriter } from "./_chunk.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./schema.ts";

/** Column types of window_flows and flow_records, in table order (see schema.ts). */
const WINDOW_FLOW_TYPES = [
  VARCHAR,
  VARCHAR,
  TIMESTAMP,
  VARCHAR,
  VARCHAR,
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
  VARCHAR,
  HUGEINT,
  HUGEINT,
  VARCHAR,
  VARCHAR,
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
  VARCHAR,
];

/** The store file is held by another process (DuckDB allows one writer). */
export class StoreLockedError extends TypeError {
  constructor(path: string, detail: string) {
    super(`The store ${path} is in use by another process (${detail}); try again when it is done`);
    this.name = "StoreLockedError";
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

function addrText(family: number, words: ArrayLike<number>): string {
  return family === 4 ? ipv4Text(words[0]!) : ipv6Text(words);
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
  sourceId: string,
  task: string,
  startMicros: number,
  table: FlowTable,
): void {
  const c = new ChunkWriter(a, WINDOW_FLOW_TYPES);
  const t = table.records;
  const m = table.mask;
  const E = FLOW_ENTRY;
  // Window start as a 64-bit count of microseconds (exact below 2^53).
  const startLo = startMicros % 4294967296, startHi = Math.floor(startMicros / 4294967296);
  const addr = new Int32Array(4);
  for (let e = 0; e < table.size; e++) {
    const o = e * ENTRY_WORDS;
    const meta = t[o + E.META]!;
    const family = (meta >>> 8) & 7;
    c.set(0, sourceId), c.set(1, task), c.u64(2, startLo, startHi);
    if (m.srcIp) {
      addr[0] = t[o]!, addr[1] = t[o + 1]!, addr[2] = t[o + 2]!, addr[3] = t[o + 3]!;
      c.set(3, addrText(family, addr));
    } else c.set(3, null);
    if (m.dstIp) {
      addr[0] = t[o + 4]!, addr[1] = t[o + 5]!, addr[2] = t[o + 6]!, addr[3] = t[o + 7]!;
      c.set(4, addrText(family, addr));
    } else c.set(4, null);
    if (m.proto) c.u16(5, meta & 0xff);
    else c.set(5, null);
    const ports = t[o + E.PORTS]! >>> 0;
    const hasPorts = (meta & E.META_PORTS_PRESENT) !== 0;
    if (hasPorts && m.srcPort) c.u32(6, ports >>> 16);
    else c.set(6, null);
    if (hasPorts && m.dstPort) c.u32(7, ports & 0xffff);
    else c.set(7, null);
    if ((meta & E.META_VLAN_PRESENT) !== 0) c.u16(8, (meta >>> 16) & 0xfff);
    else c.set(8, null);
    c.u64(9, t[o + E.PKTS_LO]! >>> 0, t[o + E.PKTS_HI]! >>> 0);
    c.u64(10, t[o + E.BYTES_LO]! >>> 0, t[o + E.BYTES_HI]! >>> 0);
    if (t[o + E.FIRST_NSEC] === -1) c.set(11, null), c.set(12, null);
    else {
      const hi = t[o + E.SEC_HI]!;
      c.ns(11, (hi & 0xffff) * 4294967296 + (t[o + E.FIRST_SEC]! >>> 0), t[o + E.FIRST_NSEC]!);
      c.ns(12, (hi >>> 16) * 4294967296 + (t[o + E.LAST_SEC]! >>> 0), t[o + E.LAST_NSEC]!);
    }
    c.u16(13, t[o + E.TCP_FLAGS]!);
    c.endRow();
  }
  c.flush();
}

export class Store {
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
        if (detail === null) throw e;
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
      await this.con.run("BEGIN TRANSACTION");
      try {
        await this.con.run(MIGRATIONS[v - 1]!);
        await this.con.run("INSERT INTO schema_version VALUES ($1, now()::TIMESTAMP)", [v]);
        await this.con.run("COMMIT");
      } catch (e) {
        await this.con.run("ROLLBACK");
        throw e;
      }
    }
  }

  /** Runs `fn` in one transaction; on error nothing of it stays. */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    await this.con.run("BEGIN TRANSACTION");
    try {
      const out = await fn();
      await this.con.run("COMMIT");
      return out;
    } catch (e) {
      await this.con.run("ROLLBACK");
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
   * Starts (or restarts) a source: rows a previous run of the same inputs left are removed,
   * so analysing the same capture twice never doubles anything.
   */
  async beginSource(sourceId: string, inputs: string, windowSec: number): Promise<void> {
    await this.transaction(async () => {
      for (
        const t of [
          "window_totals",
          "window_protocols",
          "window_decode_errors",
          "window_flows",
          "flow_records",
          "sources",
        ]
      ) {
        await this.con.run(`DELETE FROM ${t} WHERE source_id = $1`, [sourceId]);
      }
      await this.con.run(
        "INSERT INTO sources VALUES ($1, $2, $3, now()::TIMESTAMP, NULL, NULL, NULL)",
        [sourceId, inputs, windowSec],
      );
    });
  }

  async finishSource(
    sourceId: string,
    packets: number,
    warnings: readonly string[],
  ): Promise<void> {
    await this.con.run(
      "UPDATE sources SET finished_at = now()::TIMESTAMP, packets = $2, warnings = $3 WHERE source_id = $1",
      [sourceId, packets, warnings.join("\n")],
    );
  }

  /** Writes one window (totals, protocols, decode errors, every task's rows) atomically. */
  async writeWindow(sourceId: string, w: WindowData): Promise<void> {
    const startMicros = Math.min(w.startSec, WINDOW_START_MAX_SEC) * 1e6;
    const start = new DuckDBTimestampValue(
      BigInt(Math.min(w.startSec, WINDOW_START_MAX_SEC)) * 1_000_000n,
    );
    const t = w.totals;
    await this.transaction(async () => {
      await this.append("window_totals", (a) => {
        a.appendVarchar(sourceId);
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
          a.appendVarchar(sourceId), a.appendTimestamp(start), a.appendUSmallInt(p);
          a.appendUBigInt(BigInt(t.protoFrames[p]!)), a.appendUBigInt(BigInt(t.protoBytes[p]!));
          a.endRow();
        }
      });
      await this.append("window_decode_errors", (a) => {
        for (let c = 1; c < t.errors.length; c++) {
          if (t.errors[c] === 0) continue;
          a.appendVarchar(sourceId), a.appendTimestamp(start), a.appendVarchar(ERROR_NAMES[c]!);
          a.appendUBigInt(BigInt(t.errors[c]!));
          a.endRow();
        }
      });
      for (const task of w.tasks) {
        await this.append(
          "window_flows",
          (a) => writeFlowRows(a, sourceId, task.spec.name, startMicros, task.table),
        );
      }
    });
  }

  async writeFlowRecords(sourceId: string, recs: FlowRecords): Promise<void> {
    await this.transaction(() =>
      this.append("flow_records", (a) => {
        const c = new ChunkWriter(a, FLOW_RECORD_TYPES);
        for (let r = 0; r < recs.length; r++) {
          const v = readRecord(recs, r);
          c.set(0, sourceId);
          if (v.startSec !== 0 || v.endSec !== 0) {
            c.ns(1, v.startSec, v.startNsec), c.ns(2, v.endSec, v.endNsec);
          } else c.set(1, null), c.set(2, null);
          c.set(3, addrText(v.family, v.src)), c.set(4, addrText(v.family, v.dst));
          if (v.srcPort !== null) c.u32(5, v.srcPort), c.u32(6, v.dstPort!);
          else c.set(5, null), c.set(6, null);
          c.u16(7, v.proto);
          if (v.vlan !== null) c.u16(8, v.vlan);
          else c.set(8, null);
          c.u64(9, v.packetsFwd % 4294967296, Math.floor(v.packetsFwd / 4294967296));
          c.u64(10, v.bytesFwd % 4294967296, Math.floor(v.bytesFwd / 4294967296));
          c.u64(11, v.packetsRev % 4294967296, Math.floor(v.packetsRev / 4294967296));
          c.u64(12, v.bytesRev % 4294967296, Math.floor(v.bytesRev / 4294967296));
          c.u16(13, v.tcpFlags),
            c.u32(14, v.syn),
            c.u32(15, v.synAck),
            c.u32(16, v.fin),
            c.u32(17, v.rst);
          c.set(18, v.reason);
          c.endRow();
        }
        c.flush();
      })
    );
  }

  /** Runs a query with bound parameters and returns its rows as objects. */
  async rows(sql: string, params: DuckDBValue[] = []): Promise<Record<string, DuckDBValue>[]> {
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
      for (
        const t of ["window_totals", "window_protocols", "window_decode_errors", "window_flows"]
      ) {
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

  /** Blocking: closes the connection and the instance (DuckDB flushes its WAL). */
  closeSync(): void {
    this.con.closeSync();
    this.instance.closeSync();
  }
}
