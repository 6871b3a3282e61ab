/**
 * The part of the engine that reads only packet headers: the exact tasks, the sketch tasks and
 * the flow lifecycle (tracker). It runs either on the engine's thread ({@link LocalHeaderWork})
 * or on a helper thread ({@link ThreadHeaderWork}, helper_worker.ts), which the collector's
 * second core then takes: the main thread keeps reading, decoding, window totals, DNS/HTTP
 * (they need the payload bytes) and the store.
 *
 * Both give the same results: the helper sees the same packets in the same order, and a window
 * is closed only after every packet before it was counted (messages are handled in order).
 *
 * Protocol (main → helper): init, add {slot, from, to}, release {slot}, window, finish.
 * Helper → main: free {slot}, window {parts}, records {words, length}, finished {overflow},
 * error {message}. Batches travel as header copies in shared slots, never as messages.
 *
 * @module
 */

import { copyHeaders, PacketBatch } from "./batch.ts";
import type { TaskSpec } from "./engine.ts";
import { ENTRY_WORDS, FlowTable, type KeyMask } from "./flow_table.ts";
import { FlowRecords, FlowTracker, type FlowTrackerOptions } from "./flow_tracker.ts";
import { SketchBank, type SketchSpec, type SketchWindow } from "./sketch_bank.ts";

/** Flow records buffered before they are handed to the sink. */
export const RECORDS_FLUSH = 65536;
/** Batches in flight to the helper: enough to cover a slow batch, small enough for cache. */
const SLOTS = 4;

export interface HeaderWorkOptions {
  /** Exact tasks counted here (all or none of the engine's). */
  tasks: readonly TaskSpec[];
  /** Sketch tasks counted here (the engine places them by kind). */
  sketches: readonly SketchSpec[];
  /** The flow lifecycle's options when it runs here; null when it runs elsewhere. */
  flows: Partial<FlowTrackerOptions> | null;
  batchPackets: number;
}

/** What the store reads of an exact task's table for a window (a FlowTable is one). */
export interface TableWindow {
  readonly mask: KeyMask;
  /** `size` records of ENTRY_WORDS words (layout in FLOW_ENTRY). */
  readonly records: Int32Array;
  readonly size: number;
  readonly overflowPackets: number;
  readonly overflowBytes: number;
}

/** A window's exact tables (task order) and sketches, from wherever they were counted. */
export interface WindowParts {
  tables: TableWindow[];
  sketches: SketchWindow[];
}

/** A copy of table `t` that outlives its next add or clear (and crosses threads). */
export function tableWindow(t: TableWindow): TableWindow {
  return {
    mask: t.mask,
    records: t.records.slice(0, t.size * ENTRY_WORDS),
    size: t.size,
    overflowPackets: t.overflowPackets,
    overflowBytes: t.overflowBytes,
  };
}

/**
 * Header work on the calling thread, synchronous. The engine runs the parts it keeps on its
 * own thread with one; the helper thread runs the others with another.
 */
export class LocalHeaderWork {
  private readonly tables: FlowTable[];
  private readonly bank: SketchBank;
  private readonly tracker: FlowTracker | null;
  /** Ended flows not yet handed over; the owner hands them over and clears it. */
  readonly records = new FlowRecords(1024);
  /** Where the tracker put each packet of the range, for the tables (when both run here). */
  private readonly hints: Int32Array | null;

  constructor(opts: HeaderWorkOptions) {
    this.tables = opts.tasks.map((t) => new FlowTable(t.key, t.flowsMax));
    this.bank = new SketchBank(opts.sketches, opts.batchPackets);
    this.tracker = opts.flows === null ? null : new FlowTracker(this.records, opts.flows);
    this.hints = this.tracker !== null && this.tables.length > 0
      ? new Int32Array(opts.batchPackets)
      : null;
  }

  add(batch: PacketBatch, from: number, to: number): void {
    this.bank.addRange(batch, from, to);
    if (this.hints !== null) {
      // The tracker first: its lookup then spares the tables theirs.
      this.tracker!.addBatch(batch, from, to, this.hints);
      for (const t of this.tables) t.addBatchHinted(batch, from, to, this.hints);
    } else {
      for (const t of this.tables) t.addBatch(batch, from, to);
      this.tracker?.addBatch(batch, from, to);
    }
  }

  /** The window's tables (the live ones: read them before clearWindow) and sketches. */
  closeWindow(): WindowParts {
    return { tables: this.tables, sketches: this.bank.snapshot() };
  }

  clearWindow(): void {
    for (const t of this.tables) t.clear();
    this.bank.clear();
  }

  /** End of input: every open flow ends into `records`. */
  endFlows(): void {
    this.tracker?.sweep(true);
  }

  /** Packets of new flows that found the tracker full. */
  get overflowPackets(): number {
    return this.tracker?.overflowPackets ?? 0;
  }
}

type Reply =
  | { t: "free"; slot: number }
  | { t: "window"; parts: WindowParts }
  | { t: "records"; words: Int32Array; length: number }
  | { t: "finished"; overflow: number }
  | { t: "error"; message: string };

/**
 * Header work on a helper thread (a Web Worker) fed through shared batch slots: `begin` a
 * batch (its headers are copied into a free slot), `add` its window runs, `end` it.
 */
export class ThreadHeaderWork {
  private readonly worker: Worker;
  private readonly slots: PacketBatch[] = [];
  private readonly free: number[] = [];
  private slot = -1;
  private failure: Error | null = null;
  private overflow = 0;
  /** Who waits for the next reply of each kind (one request of a kind at a time). */
  private waitFree: (() => void) | null = null;
  private waitWindow: { ok: (s: WindowParts) => void; no: (e: Error) => void } | null = null;
  private waitFinish: { ok: () => void; no: (e: Error) => void } | null = null;
  /** Record writes run in order behind each other; `writing` counts those not done. */
  private recordsChain: Promise<void> = Promise.resolve();
  private writing = 0;
  private closed = false;

  constructor(
    opts: HeaderWorkOptions,
    private readonly onRecords: (r: FlowRecords) => Promise<void>,
  ) {
    // Checked here, where a bad option gives its own error before any thread starts (sketch
    // specs were checked with the configuration; building them here would allocate them twice).
    for (const t of opts.tasks) new FlowTable(t.key, t.flowsMax);
    if (opts.flows !== null) new FlowTracker(new FlowRecords(0), opts.flows);
    const buffers: SharedArrayBuffer[] = [];
    for (let k = 0; k < SLOTS; k++) {
      const buf = new SharedArrayBuffer(PacketBatch.bytesFor(opts.batchPackets));
      buffers.push(buf);
      this.slots.push(new PacketBatch(opts.batchPackets, buf));
      this.free.push(k);
    }
    this.worker = new Worker(new URL("./helper_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.worker.onmessage = (e: MessageEvent<Reply>) => this.reply(e.data);
    this.worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.fail(new Error(`helper thread: ${e.message}`));
    };
    this.worker.postMessage({
      t: "init",
      opts,
      buffers,
    });
  }

  private reply(m: Reply): void {
    switch (m.t) {
      case "free":
        this.free.push(m.slot);
        this.waitFree?.();
        return;
      case "window":
        this.waitWindow?.ok(m.parts);
        this.waitWindow = null;
        return;
      case "records": {
        const recs = FlowRecords.of(m.words, m.length);
        this.writing++;
        this.recordsChain = this.recordsChain.then(() => this.onRecords(recs)).then(
          () => void this.writing--,
          (e) => this.fail(e instanceof Error ? e : new Error(String(e))),
        );
        return;
      }
      case "finished":
        this.overflow = m.overflow;
        this.waitFinish?.ok();
        this.waitFinish = null;
        return;
      case "error":
        this.fail(new Error(`helper thread: ${m.message}`));
    }
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.waitWindow?.no(this.failure);
    this.waitFinish?.no(this.failure);
    this.waitWindow = this.waitFinish = null;
    this.waitFree?.();
    this.close();
  }

  private check(): void {
    if (this.failure !== null) throw this.failure;
    if (this.closed) throw new Error("helper thread already closed");
  }

  /** Before the packets of `batch` are added: waits for a free slot and copies the headers. */
  async begin(batch: PacketBatch): Promise<void> {
    this.check();
    while (this.free.length === 0) {
      await new Promise<void>((ok) => this.waitFree = ok);
      this.waitFree = null;
      this.check();
    }
    this.slot = this.free.pop()!;
    copyHeaders(batch, this.slots[this.slot]!);
  }

  /** Packets [from, to) of the batch given to `begin`. */
  add(from: number, to: number): void {
    this.check();
    this.worker.postMessage({ t: "add", slot: this.slot, from, to });
  }

  /** After the last `add` of the batch. */
  async end(): Promise<void> {
    this.worker.postMessage({ t: "release", slot: this.slot });
    this.slot = -1;
    // Record writes may fall behind by one buffer, not more.
    if (this.writing > 1) await this.recordsChain;
    this.check();
  }

  /** The window's tables and sketches (copies); the helper empties its own. */
  closeWindow(): Promise<WindowParts> {
    this.check();
    return new Promise((ok, no) => {
      this.waitWindow = { ok, no };
      this.worker.postMessage({ t: "window" });
    });
  }

  /** End of input: every open flow ended and its record handed over. */
  async finish(): Promise<void> {
    this.check();
    await new Promise<void>((ok, no) => {
      this.waitFinish = { ok, no };
      this.worker.postMessage({ t: "finish" });
    });
    await this.recordsChain;
    this.check();
  }

  /** Packets of new flows that found the tracker full (final after `finish`). */
  get overflowPackets(): number {
    return this.overflow;
  }

  /** Stops the helper thread (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.worker.terminate();
  }
}
