/**
 * The embedded DuckDB store: one file, one instance per process, bulk writes through the
 * Appender, one transaction per window (a killed process leaves every committed window whole),
 * every write behind the one before it (_db.ts). This file opens, locks and migrates; sources
 * (_sources.ts), window writes (_window_write.ts) and retention (_retention.ts) are their own.
 *
 * @module
 */

import {
  exportBacklog,
  exportPayloadsOf,
  exportPending,
  markFailed,
  markSending,
  markSent,
  nameSinks,
  nextExports,
  type OutboxEntry,
  type OutboxPayload,
  type SinkBacklog,
} from "./_outbox.ts";
import { DuckDBInstance } from "@duckdb/node-api";
import type { WindowExport } from "../collector/export/mod.ts";
import { UserError } from "../collector/user_error.ts";
import { Db } from "./_db.ts";
import { applyRetention, usedBytes } from "./_retention.ts";
import {
  abandonSource,
  beginSource,
  fileSources,
  finishSource,
  removeUnfinished,
} from "./_sources.ts";
import { writeWindow } from "./_window_write.ts";
import { rollCompleteHours } from "./_rollup.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./schema.ts";

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
  /**
   * SQL on this instance reads no file but the store and reaches no network (a writer that
   * also answers people's queries: the daemon); its own settings stay changeable.
   */
  noFileAccess?: boolean;
  /** DuckDB's memory limit (a query needing more fails instead of swapping the box). */
  memoryLimitBytes?: number;
}

function lockDetail(e: unknown): string | null {
  const m = e instanceof Error
    ? /Could not set lock on file.*?(Conflicting lock.*)$/s.exec(e.message)
    : null;
  return m ? m[1]!.split("\n")[0]!.trim() : null;
}

/** A store function's parameters after the store itself (its methods here delegate). */
type AfterDb<F> = F extends (db: Db, ...rest: infer R) => unknown ? R : never;

export class Store extends Db {
  /** File sources a killed run had left unfinished, removed when this store was opened. */
  removedUnfinished = 0;
  /**
   * The hash seed of every sketch written into this store (settings.sketch_seed): drawn at
   * random when the store is made, so traffic cannot be crafted against the buckets, and the
   * same for every run into it, so all its sketches merge. A store that already held sketches
   * from before seeds were kept stays at 0.
   */
  sketchSeed = 0;

  /** Opens (creating and migrating when writable) the store at `path` (":memory:" too). */
  static async open(path: string, opts: OpenOptions = {}): Promise<Store> {
    const config: Record<string, string> = {};
    if (opts.readOnly) config.access_mode = "READ_ONLY";
    if (opts.memoryLimitBytes !== undefined) {
      config.memory_limit = `${Math.floor(opts.memoryLimitBytes / 1024)}KiB`;
    }
    if (opts.noFileAccess) config.enable_external_access = "false";
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
          store.removedUnfinished = await removeUnfinished(store);
          store.sketchSeed = await store.seed();
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
        await this.con.run(
          "INSERT INTO schema_version VALUES ($1, make_timestamp(epoch_us(now())))",
          [v],
        );
      });
    }
  }

  /** The store's sketch seed, made on first use (see sketchSeed). */
  private async seed(): Promise<number> {
    const [have] = await this.rows("SELECT value FROM settings WHERE key = 'sketch_seed'");
    if (have !== undefined) return Number(have.value);
    const [old] = await this.rows("SELECT count(*) AS n FROM window_sketches");
    const seed = Number(old!.n) > 0 ? 0 : crypto.getRandomValues(new Uint32Array(1))[0]!;
    await this.transaction(() =>
      this.con.run("INSERT INTO settings VALUES ('sketch_seed', $1)", [String(seed)])
    );
    return seed;
  }

  /** See _sources.ts. */
  beginSource(...args: AfterDb<typeof beginSource>): Promise<number> {
    return beginSource(this, ...args);
  }

  finishSource(sourceNo: number, done: Parameters<typeof finishSource>[2]): Promise<void> {
    return finishSource(this, sourceNo, done);
  }

  abandonSource(sourceNo: number): Promise<void> {
    return abandonSource(this, sourceNo);
  }

  fileSources(): Promise<{ sourceId: string; bytes: number }[]> {
    return fileSources(this);
  }

  /** One closed window, whole, in one transaction behind every earlier write. */
  writeWindow(sourceNo: number, w: WindowExport): Promise<void> {
    return writeWindow(this, sourceNo, w);
  }

  /** See _retention.ts. Returns the windows dropped. */
  applyRetention(opts: { maxAgeSec?: number; maxBytes?: number }): Promise<number> {
    return applyRetention(this, opts);
  }

  /** Rolls up every complete hour not yet rolled up (_rollup.ts); returns how many. */
  rollUp(): Promise<number> {
    return rollCompleteHours(this);
  }

  /** Names the sinks windows are queued for from now on (_outbox.ts). */
  nameSinks(sinks: readonly string[]): Promise<void> {
    return nameSinks(this, sinks);
  }

  nextExports(sink: string, limit: number): Promise<OutboxEntry[]> {
    return nextExports(this, sink, limit);
  }

  exportPayloads(commitSeqs: readonly number[]): Promise<Map<number, OutboxPayload[]>> {
    return exportPayloadsOf(this, commitSeqs);
  }

  markSending(es: readonly OutboxEntry[]): Promise<void> {
    return markSending(this, es);
  }

  markSent(es: readonly OutboxEntry[]): Promise<void> {
    return markSent(this, es);
  }

  markFailed(es: readonly OutboxEntry[], error: string): Promise<void> {
    return markFailed(this, es, error);
  }

  exportBacklog(): Promise<SinkBacklog[]> {
    return exportBacklog(this);
  }

  exportPending(): Promise<Map<string, number>> {
    return exportPending(this);
  }

  /** Bytes of the file's blocks in use. */
  usedBytes(): Promise<number> {
    return usedBytes(this);
  }
}
