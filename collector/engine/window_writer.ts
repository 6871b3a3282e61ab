/**
 * The window writer: closed windows go through a bounded queue to one writer that stores them
 * one after the other, beside intake. When the queue is full, `push` waits — intake pauses,
 * nothing is dropped — and that wait is measured (`waitMs`, `maxWaitMs`).
 *
 * @module
 */

import { releaseExport, type WindowExport, type WindowOutput } from "../export/mod.ts";

/** Where the writer puts windows (the store, or a test's slow double). */
export interface WindowStore {
  /**
   * Stores the window. The writer frees its row buffers when this resolves
   * (releaseExport): a store keeps no reference to them.
   */
  writeWindow(sourceNo: number, w: WindowExport): Promise<void>;
}

/** Windows waiting at most (each holds its tables, so this bounds memory too). */
export const WRITE_QUEUE_DEFAULT = 4;

/** A failed write tried again after this, doubling up to the most (ms). */
export const WRITE_RETRY_FIRST_MS = 1000;
export const WRITE_RETRY_MAX_MS = 30_000;

/**
 * Which failed writes are tried again (a full disk: the daemon waits for room instead of
 * stopping), and who is told. The window stays queued meanwhile, so when the queue is full
 * intake waits, and what capture loses then is counted by the kernel.
 */
export interface WriteRetry {
  when(e: unknown): boolean;
  /** Told at each failure tried again, and once writes succeed again (error null). */
  onRetry(e: unknown | null, delayMs: number): void;
}

export class WindowWriter implements WindowOutput {
  private readonly queue: WindowExport[] = [];
  /** When each queued window was handed over (performance.now()). */
  private readonly queuedAt: number[] = [];
  private wake: (() => void) | null = null;
  private room: (() => void) | null = null;
  private ending = false;
  private failure: unknown = null;
  private readonly loop: Promise<void>;
  /** Windows stored, and the time intake waited for room in the queue. */
  windows = 0;
  waitMs = 0;
  maxWaitMs = 0;
  /** The longest time one window took to store. */
  maxWriteMs = 0;
  writeMs = 0;
  /** Failed writes tried again (WriteRetry). */
  retries = 0;
  private stopWaiting: (() => void) | null = null;

  constructor(
    private readonly store: WindowStore,
    private readonly sourceNo: number,
    readonly capacity = WRITE_QUEUE_DEFAULT,
    /**
     * Called once a window is stored, with the time from its hand-over to its commit (ms),
     * before its buffers are freed (it must not keep them).
     */
    private readonly onStored: ((w: WindowExport, flushMs: number) => void) | null = null,
    private readonly retry: WriteRetry | null = null,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1024) {
      throw new RangeError(`Invalid write queue length ${capacity}: 1..1024`);
    }
    this.loop = this.run();
    // A failure is reported by the next push or by close; never an unhandled rejection.
    this.loop.catch(() => {});
  }

  private async run(): Promise<void> {
    for (;;) {
      while (this.queue.length === 0) {
        if (this.ending) return;
        await new Promise<void>((ok) => this.wake = ok);
        this.wake = null;
      }
      const w = this.queue[0]!;
      const t0 = performance.now();
      try {
        await this.writeWithRetry(w);
      } catch (e) {
        this.failure = e;
        this.room?.();
        throw e;
      }
      const dt = performance.now() - t0;
      this.writeMs += dt;
      if (dt > this.maxWriteMs) this.maxWriteMs = dt;
      this.queue.shift();
      this.onStored?.(w, performance.now() - this.queuedAt.shift()!);
      // The store was its last reader (the live stream and the forwarders will come before).
      releaseExport(w);
      this.windows++;
      this.room?.();
    }
  }

  /** Writes `w`; a failure `retry` takes is tried again until it succeeds or close() is asked. */
  private async writeWithRetry(w: WindowExport): Promise<void> {
    let delay = WRITE_RETRY_FIRST_MS;
    let failed = false;
    for (;;) {
      try {
        await this.store.writeWindow(this.sourceNo, w);
        if (failed) this.retry!.onRetry(null, 0);
        return;
      } catch (e) {
        if (this.retry === null || !this.retry.when(e) || this.ending) throw e;
        failed = true;
        this.retries++;
        this.retry.onRetry(e, delay);
        await new Promise<void>((ok) => {
          const t = setTimeout(ok, delay);
          this.stopWaiting = () => (clearTimeout(t), ok());
        });
        this.stopWaiting = null;
        // Asked to end meanwhile: one more try, then its error is what close() reports.
        delay = Math.min(2 * delay, WRITE_RETRY_MAX_MS);
      }
    }
  }

  private check(): void {
    if (this.failure !== null) throw this.failure;
  }

  /** Queues a closed window; waits while the queue is full. */
  async push(w: WindowExport): Promise<void> {
    this.check();
    if (this.ending) throw new Error("Window writer already closed");
    if (this.queue.length >= this.capacity) {
      const t0 = performance.now();
      while (this.queue.length >= this.capacity) {
        await new Promise<void>((ok) => this.room = ok);
        this.room = null;
        this.check();
      }
      const dt = performance.now() - t0;
      this.waitMs += dt;
      if (dt > this.maxWaitMs) this.maxWaitMs = dt;
    }
    this.queue.push(w);
    this.queuedAt.push(performance.now());
    this.wake?.();
  }

  /** Windows queued, not yet stored. */
  get backlog(): number {
    return this.queue.length;
  }

  /**
   * Stores what is queued, then ends; throws the writer's error if a write failed (a write
   * being retried is given one more try, then its error is thrown).
   */
  async close(): Promise<void> {
    this.ending = true;
    this.wake?.();
    this.stopWaiting?.();
    await this.loop;
    this.check();
  }
}
