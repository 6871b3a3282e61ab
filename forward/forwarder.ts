/**
 * The forwarder: per sink, the store's outbox in commit order, off the packet path, in
 * batches of windows (nextBatch: up to the sink's rows, bytes and interval limits). A batch's
 * entries are marked `sending` (committed) before it goes, and `sent` once the sink holds it;
 * a failure keeps them where they are, with the error, and the same batch is tried again
 * after a backoff that doubles from 100 ms to 30 s, with jitter — later windows wait behind
 * it, so a sink receives windows in order.
 *
 * @module
 */

import type { OutboxEntry, OutboxPayload, Store } from "../storage/mod.ts";
import type { SinkConfig } from "../collector/config/mod.ts";
import {
  type CollectorStatus,
  INSERT_BUCKETS_SEC,
  newSinkStatus,
  observe,
  type SinkStatus,
} from "../collector/ingest/mod.ts";
import type { ClickHouseSink } from "./clickhouse.ts";

export const BACKOFF_MIN_MS = 100;
export const BACKOFF_MAX_MS = 30_000;
/** Entries read from the outbox at a time (a batch's windows at most). */
const BATCH_ENTRIES = 512;
/** With nothing to send, the outbox is looked at again after this long (or a commit). */
const IDLE_MS = 1000;
/** The backlog figures (a query of the outbox) are read again at most this often. */
const BACKLOG_EVERY_MS = 1000;

/**
 * The next batch from a sink's oldest unsent windows (`entries`, in commit order; `more`:
 * others wait after them). Windows left `sending` by an attempt whose outcome is unknown go
 * again as they went, the same batch. Otherwise consecutive pending windows of one day
 * (`dayOf`: a partition of the central tables) while no table's rows pass `limits.rows` and
 * their bytes pass `limits.bytes` — the first always. A batch that could still grow is held
 * until its oldest window has waited `limits.intervalSec`: `waitMs` says how much longer.
 */
export function nextBatch(
  entries: readonly OutboxEntry[],
  limits: SinkConfig["batch"],
  dayOf: (sec: number) => string,
  nowSec: number,
  more: boolean,
): { batch: OutboxEntry[]; waitMs: number } {
  const first = entries[0];
  if (first === undefined) return { batch: [], waitMs: IDLE_MS };
  if (first.state === "sending") {
    const end = entries.findIndex((e) => e.state !== "sending");
    return { batch: entries.slice(0, end < 0 ? entries.length : end), waitMs: 0 };
  }
  const day = dayOf(first.startSec);
  const rows = new Map<string, number>();
  let bytes = 0, full = more, n = 0;
  for (const e of entries) {
    const add = e.sizes.reduce((b, s) => b + s.bytes, 0);
    const over = n > 0 && (
      e.state !== "pending" || dayOf(e.startSec) !== day || bytes + add > limits.bytes ||
      e.sizes.some((s) => (rows.get(s.table) ?? 0) + s.rows > limits.rows)
    );
    if (over) {
      full = true;
      break;
    }
    for (const s of e.sizes) rows.set(s.table, (rows.get(s.table) ?? 0) + s.rows);
    bytes += add, n++;
  }
  const waited = nowSec - first.createdSec;
  const waitMs = full || waited >= limits.intervalSec
    ? 0
    : Math.ceil((limits.intervalSec - waited) * 1000);
  return { batch: entries.slice(0, n), waitMs };
}

export type ForwardLog = (level: "info" | "warn", msg: string, f: Record<string, unknown>) => void;

export class Forwarder {
  /** Per sink, what /metrics and /readyz show (the daemon's status holds the same objects). */
  readonly counters = new Map<string, SinkStatus>();
  private backlogAt = 0;
  private stopped = false;
  /** The sleeps in progress; `byCommit`: an idle one, ended by a new window. */
  private readonly sleeping = new Set<{ end: () => void; byCommit: boolean }>();
  private readonly loops: Promise<void>[] = [];
  private readonly onCommit = () => {
    for (const s of this.sleeping) if (s.byCommit) s.end();
  };

  constructor(
    private readonly store: Store,
    private readonly sinks: readonly ClickHouseSink[],
    private readonly log: ForwardLog,
    status: CollectorStatus | null = null,
  ) {
    for (const s of sinks) {
      const k = newSinkStatus(s.name);
      this.counters.set(s.name, k);
      status?.sinks.set(s.name, k);
    }
  }

  start(): void {
    this.store.onCommit.add(this.onCommit);
    for (const s of this.sinks) this.loops.push(this.loop(s));
  }

  /** Stops after the batch in flight; the rest stays in the outbox for the next run. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.store.onCommit.delete(this.onCommit);
    for (const s of this.sleeping) s.end();
    await Promise.all(this.loops);
    for (const s of this.sinks) await s.close().catch(() => {});
  }

  /**
   * Resolves true once no sink has anything to send, false when no window went anywhere for
   * `stallMs` or `giveUp` says so (a sink down: what is left waits in the outbox).
   */
  async drained(stallMs: number, giveUp: () => boolean = () => false): Promise<boolean> {
    const done = () => [...this.counters.values()].reduce((n, c) => n + c.inserted + c.present, 0);
    let last = done(), since = Date.now();
    for (;;) {
      let left = 0;
      for (const [sink, n] of await this.store.exportPending()) {
        if (this.counters.has(sink)) left += n;
      }
      if (left === 0) return true;
      const now = done();
      if (now !== last) last = now, since = Date.now();
      if (Date.now() - since > stallMs || this.stopped || giveUp()) return false;
      await new Promise((ok) => setTimeout(ok, 100));
    }
  }

  private async loop(sink: ClickHouseSink): Promise<void> {
    const c = this.counters.get(sink.name)!;
    const ahead = new ReadAhead(this.store);
    let backoff = BACKOFF_MIN_MS;
    while (!this.stopped) {
      await this.readBacklog();
      const entries = await this.store.nextExports(sink.name, BATCH_ENTRIES + 1);
      const more = entries.length > BATCH_ENTRIES;
      if (more) entries.pop();
      if (entries.length === 0) {
        await this.sleep(IDLE_MS, true);
        continue;
      }
      let batch = entries.slice(0, 1);
      try {
        await sink.prepare(); // the server's time zone: a batch is one day there
        const next = nextBatch(entries, sink.batch, (s) => sink.dayOf(s), Date.now() / 1000, more);
        if (next.waitMs > 0) {
          await this.sleep(next.waitMs, true);
          continue;
        }
        batch = next.batch;
        await this.store.markSending(batch);
        const t0 = performance.now();
        const payloads = await ahead.take(batch) ??
          await this.store.exportPayloads(batch.map((e) => e.commitSeq));
        // The next batch's rows read from the store while this one goes to the sink.
        const after = entries.slice(batch.length);
        if (after.length > 0 && (more || after.length > 1)) {
          ahead.read(nextBatch(after, sink.batch, (s) => sink.dayOf(s), Infinity, true).batch);
        }
        const done = await sink.deliver(batch, payloads);
        const sec = (performance.now() - t0) / 1000;
        observe(INSERT_BUCKETS_SEC, c.insertBuckets, sec);
        c.insertSumSec += sec;
        await this.store.markSent(batch);
        for (const d of done) {
          if (d === "inserted") c.inserted++;
          else c.present++;
        }
        if (c.error !== null) {
          this.log("info", "sink is taking windows again", { sink: sink.name });
          c.error = null;
        }
        backoff = BACKOFF_MIN_MS;
      } catch (err) {
        const msg = (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
        c.failed += batch.length; // windows, as the metric counts them
        if (c.error === null) {
          this.log("warn", "sink failed; windows wait in the outbox", {
            sink: sink.name,
            error: msg,
          });
        }
        c.error = msg;
        ahead.drop();
        await this.store.markFailed(batch, msg).catch(() => {});
        await this.sleep(backoff * (0.5 + Math.random()), false);
        backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
      }
    }
  }

  /** Backlog figures per sink from the outbox (at most once a BACKLOG_EVERY_MS). */
  private async readBacklog(): Promise<void> {
    if (performance.now() - this.backlogAt < BACKLOG_EVERY_MS) return;
    this.backlogAt = performance.now();
    const seen = new Set<string>();
    for (const b of await this.store.exportBacklog()) {
      const c = this.counters.get(b.sink);
      if (c === undefined) continue;
      c.backlog = b.pending, c.oldestPendingSec = b.oldestSec ?? NaN, c.backlogBytes = b.bytes;
      seen.add(b.sink);
    }
    for (const [name, c] of this.counters) {
      if (!seen.has(name)) c.backlog = 0, c.oldestPendingSec = NaN, c.backlogBytes = 0;
    }
  }

  private sleep(ms: number, byCommit: boolean): Promise<void> {
    return new Promise((ok) => {
      const s = {
        end: () => {
          clearTimeout(t);
          this.sleeping.delete(s);
          ok();
        },
        byCommit,
      };
      const t = setTimeout(s.end, ms);
      this.sleeping.add(s);
    });
  }
}

/**
 * The payloads of the batch expected next, read while the one before is sent (the store and
 * the sink then work at once). Taken only by exactly that batch; anything else reads anew.
 */
class ReadAhead {
  private seqs = "";
  private reading: Promise<Map<number, OutboxPayload[]>> | null = null;

  constructor(private readonly store: Store) {}

  read(batch: readonly OutboxEntry[]): void {
    this.seqs = batch.map((e) => e.commitSeq).join(",");
    this.reading = this.store.exportPayloads(batch.map((e) => e.commitSeq));
    this.reading.catch(() => {}); // a failed read is read again when needed
  }

  async take(batch: readonly OutboxEntry[]): Promise<Map<number, OutboxPayload[]> | null> {
    const reading = this.reading;
    const hit = reading !== null && this.seqs === batch.map((e) => e.commitSeq).join(",");
    this.drop();
    return hit ? await reading!.catch(() => null) : null;
  }

  drop(): void {
    this.reading = null, this.seqs = "";
  }
}
