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

  /** @internal storage/ only: an appender filled by `fill`, which may yield. */
  async appendAsync(
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

  /** @internal storage/ only. */
  async append(table: string, fill: (a: DuckDBAppender) => void): Promise<void> {
    const a = await this.con.createAppender(table);
    try {
      fill(a);
      a.flushSync();
    } finally {
      a.closeSync();
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
    return this.streamChunks(sql, params, async (chunk, names) => {
      await onRows(
        chunk.getRows().map((r) => {
          const o: Record<string, DuckDBValue> = {};
          for (let c = 0; c < names.length; c++) o[names[c]!] = r[c]!;
          return o;
        }),
      );
    });
  }

  /** As `stream`, but the chunks as DuckDB gives them, with the result's column names. */
  streamChunks(
    sql: string,
    params: DuckDBValue[],
    onChunk: (chunk: DuckDBDataChunk, names: string[]) => void | Promise<void>,
  ): Promise<void> {
    return this.serial(async () => {
      const result = await this.con.stream(sql, params);
      const names = result.columnNames();
      for (;;) {
        const chunk = await result.fetchChunk();
        if (chunk === null || chunk.rowCount === 0) return;
        await onChunk(chunk, names);
      }
    });
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
