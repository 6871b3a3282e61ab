/**
 * The store's connection and its one rule: every write runs behind the one before it
 * (`serial`), so no two transactions ever overlap, whoever calls. The store's concerns —
 * sources, window writes, retention, migrations — are written on top of this.
 *
 * @module
 */

import type {
  DuckDBAppender,
  DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  DuckDBValue,
} from "@duckdb/node-api";

/** DuckDB's errors for want of memory (an Appender words them its own way). */
function isOutOfMemory(e: unknown): boolean {
  return e instanceof Error &&
    /Out of Memory|could not allocate block|failed to pin block/i.test(e.message);
}

/** Closes an appender whose write already failed (closing flushes, and would fail too). */
function closeQuietly(a: DuckDBAppender): void {
  try {
    a.closeSync();
  } catch {
    // The failure that brought us here is the one to report.
  }
}

export class Db {
  /** One write at a time: every write runs behind the previous one (see serial). */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    readonly con: DuckDBConnection,
  ) {}

  /**
   * Runs `fn` after every write started before it has ended: writes to the store are
   * serialised by design (one connection, one transaction at a time), whoever calls them.
   */
  /** @internal storage/ only. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  /**
   * A connection of its own for one reader (a query while windows are written: DuckDB keeps
   * readers and the writer apart by MVCC); the caller closes it (closeSync).
   */
  readerConnection(): Promise<DuckDBConnection> {
    return this.instance.connect();
  }

  /** Runs `fn` in one transaction, after the writes before it; on error nothing of it stays. */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial(() => this.inTransaction(fn));
  }

  /**
   * A transaction that fails for want of memory under a cap (limitMemory) runs again with the
   * cap lifted: the failed one left nothing, and every transaction here writes from data it
   * was given, so running it twice stores it once.
   */
  private inTransaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.uncappedOnFailure(() => this.once(fn));
  }

  /** Runs `attempt`, and once more without the memory cap if it ran out of memory under it. */
  private async uncappedOnFailure<T>(
    attempt: () => Promise<T>,
    retryable: () => boolean = () => true,
  ): Promise<T> {
    try {
      return await attempt();
    } catch (e) {
      if (!this.memoryCapped || !isOutOfMemory(e) || !retryable()) throw e;
      await this.setMemoryLimit(null);
      return await attempt();
    }
  }

  private async once<T>(fn: () => Promise<T>): Promise<T> {
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

  /** The memory limit before limitMemory capped it (DuckDB's text, e.g. "18.8 GiB"). */
  private uncapped: string | null = null;
  private get memoryCapped(): boolean {
    return this.uncapped !== null;
  }

  /**
   * Caps DuckDB's buffer memory (null: back to DuckDB's default, 80 % of RAM). A file store
   * writes a large window's row groups to the file as they fill, so while windows are written
   * a small cap makes DuckDB drop those buffers instead of keeping every row in memory, and
   * queries spill to disk. A write or query that cannot do with the cap lifts it and runs
   * again (uncappedOnFailure).
   */
  limitMemory(bytes: number | null): Promise<void> {
    return this.serial(() => this.setMemoryLimit(bytes));
  }

  private async setMemoryLimit(bytes: number | null): Promise<void> {
    if (bytes === null && this.uncapped === null) return;
    if (bytes !== null && this.uncapped === null) {
      const r = await this.con.runAndReadAll("SELECT current_setting('memory_limit')");
      this.uncapped = String(r.getRows()[0]![0]);
    }
    // Not RESET: DuckDB 1.5 resets the setting's value but not its buffer pool's limit.
    const limit = bytes === null ? this.uncapped! : `${Math.floor(bytes / 1024)}KiB`;
    await this.con.run(`SET memory_limit = '${limit.replaceAll("'", "")}'`);
    if (bytes === null) this.uncapped = null;
  }

  /**
   * Called after each window's transaction commits (the live stream reads what is new). A
   * listener must not throw or block: it is told, not asked.
   */
  readonly onCommit = new Set<() => void>();

  /** @internal storage/ only: the sinks a window is queued for (_outbox.ts). */
  sinks: string[] = [];

  /** @internal storage/ only: the newest window's hour written by this process (_rollup.ts). */
  newestHour = -Infinity;

  /** @internal storage/ only: a window was committed. */
  committed(): void {
    for (const f of this.onCommit) f();
  }

  /** Waits for every write started so far. */
  async settle(): Promise<void> {
    await this.serial(() => Promise.resolve());
  }

  /** @internal storage/ only: an appender filled by `fill`, which may yield. */
  async appendAsync(
    table: string,
    fill: (a: DuckDBAppender) => Promise<void>,
  ): Promise<void> {
    const a = await this.con.createAppender(table);
    try {
      await fill(a);
      a.flushSync();
    } catch (e) {
      closeQuietly(a); // its own error ("transaction is aborted") would hide the cause
      throw e;
    }
    a.closeSync();
  }

  /** @internal storage/ only. */
  async append(table: string, fill: (a: DuckDBAppender) => void): Promise<void> {
    const a = await this.con.createAppender(table);
    try {
      fill(a);
      a.flushSync();
    } catch (e) {
      closeQuietly(a);
      throw e;
    }
    a.closeSync();
  }

  /** Runs a query with bound parameters and returns its rows as objects. */
  async rows(sql: string, params: DuckDBValue[] = []): Promise<Record<string, DuckDBValue>[]> {
    return await this.serial(() => this.uncappedOnFailure(() => this.query(sql, params)));
  }

  /**
   * Runs a query behind the writes before it and hands its result over chunk by chunk (as
   * DuckDB gives them, 2,048 rows at a time, with the column names), so a large result is never
   * held whole.
   */
  streamChunks(
    sql: string,
    params: DuckDBValue[],
    onChunk: (chunk: DuckDBDataChunk, names: string[]) => void | Promise<void>,
  ): Promise<void> {
    // Run again without the memory cap only if no row was handed over yet.
    let handed = false;
    return this.serial(() =>
      this.uncappedOnFailure(async () => {
        const result = await this.con.stream(sql, params);
        const names = result.columnNames();
        for (;;) {
          const chunk = await result.fetchChunk();
          if (chunk === null || chunk.rowCount === 0) return;
          handed = true;
          await onChunk(chunk, names);
        }
      }, () => !handed)
    );
  }

  /** A query inside a write that is already running (no queueing behind it). */
  async query(
    sql: string,
    params: DuckDBValue[] = [],
  ): Promise<Record<string, DuckDBValue>[]> {
    const r = await this.con.runAndReadAll(sql, params);
    return r.getRowObjects();
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
