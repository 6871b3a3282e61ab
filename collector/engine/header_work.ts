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

import { copyHeaders, PacketBatch } from "../packet/mod.ts";
import { FlowTable } from "./flow_table.ts";
import type { KeyField } from "../packet/mod.ts";
import {
  FLOW_TRACKER_DEFAULTS,
  FlowRecords,
  FlowTracker,
  type FlowTrackerOptions,
} from "./flow_tracker.ts";
import { SketchBank, type SketchSpec } from "./sketch_bank.ts";
import type { RecordRows, SketchExport, TableRows } from "../export/mod.ts";

/**
 * Header copies in flight to the helper, in bytes at most (69 slots of 4,096 packets). The
 * helper stalls now and then (its tables and tracker growing past a million keys take a few
 * hundred ms), and intake runs on meanwhile only as far as these slots reach: with 4 slots,
 * intake waited for the helper 1.6 s of a 6.1 s run on a 1.1M-flow capture, with 64 slots
 * 0.3 s of 4.8 s, and the 200k-flow `analyze` became as fast as before issue 12 (RESULTS.md).
 */
const SLOT_BYTES_MAX = 28 << 20;
const SLOTS_MIN = 4;

/** An exact task as the header work needs it. */
export interface TableSpec {
  key: readonly KeyField[];
  flowsMax: number;
}

export interface HeaderWorkOptions {
  /** Exact tasks counted here (all or none of the engine's). */
  tasks: readonly TableSpec[];
  /** Sketch tasks counted here (the engine places them by kind). */
  sketches: readonly SketchSpec[];
  /** The flow lifecycle's options when it runs here; null when it runs elsewhere. */
  flows: Partial<FlowTrackerOptions> | null;
  batchPackets: number;
  /** Windows open at once at most (each has its own tables and sketches). */
  windows: number;
  /** The sketches' hash seed (the store's; see SketchBank). */
  sketchSeed?: number;
}

/**
 * A closed window's header parts, as export data: exact tables (task order), sketches, and
 * the flow records that ended since the previous close (null when the tracker runs elsewhere).
 */
export interface WindowParts {
  tables: TableRows[];
  sketches: SketchExport[];
  records: RecordRows | null;
  /** Packets of new flows that found the tracker full since the previous close. */
  trackerOverflow: number;
  /** Connections the tracker follows at the close. */
  flowsActive: number;
}

/**
 * Header work on the calling thread, synchronous. The engine runs the parts it keeps on its
 * own thread with one; the helper thread runs the others with another.
 */
export class LocalHeaderWork {
  /** Per open-window slot: the exact tables and the sketch bank. */
  private readonly tables: FlowTable[][];
  private readonly banks: SketchBank[];
  private readonly tracker: FlowTracker | null;
  /**
   * Ended flows not yet handed over with a window: room for as many as the tracker holds,
   * reserved (pages come as records are written), so a window's ending flows seldom copy.
   */
  private readonly records: FlowRecords;
  private overflowBefore = 0;
  /** Where the tracker put each packet of the range, for the tables (when both run here). */
  private readonly hints: Int32Array | null;

  constructor(opts: HeaderWorkOptions) {
    const w = opts.windows;
    if (!Number.isInteger(w) || w < 1 || w > WINDOWS_OPEN_MAX) {
      throw new RangeError(`Invalid open window count ${w}: 1..${WINDOWS_OPEN_MAX}`);
    }
    this.tables = Array.from(
      { length: w },
      () => opts.tasks.map((t) => new FlowTable(t.key, t.flowsMax)),
    );
    this.banks = Array.from(
      { length: w },
      () => new SketchBank(opts.sketches, opts.batchPackets, opts.sketchSeed ?? 0),
    );
    const flows = opts.flows === null ? null : { ...FLOW_TRACKER_DEFAULTS, ...opts.flows };
    this.records = new FlowRecords(flows?.flowsMax ?? 0);
    this.tracker = flows === null ? null : new FlowTracker(this.records, flows);
    this.hints = this.tracker !== null && opts.tasks.length > 0
      ? new Int32Array(opts.batchPackets)
      : null;
  }

  /** Counts packets [from, to) of `batch` into the window in slot `win`. */
  add(batch: PacketBatch, from: number, to: number, win: number): void {
    this.banks[win]!.addRange(batch, from, to);
    const tables = this.tables[win]!;
    if (this.hints !== null) {
      // The tracker first: its lookup then spares the tables theirs.
      this.tracker!.addBatch(batch, from, to, this.hints);
      // A record the tracker reused for another flow must be forgotten by every window's
      // tables, not only by the one this packet goes to.
      for (let k = 0; k < this.tables.length; k++) {
        if (k === win) continue;
        for (const t of this.tables[k]!) t.forgetReused(this.hints, from, to);
      }
      for (const t of tables) t.addBatchHinted(batch, from, to, this.hints);
    } else {
      for (const t of tables) t.addBatch(batch, from, to);
      this.tracker?.addBatch(batch, from, to);
    }
  }

  /** The flow lifecycle's clock moves to `nowSec` (a quiet link): idle flows end. */
  advance(nowSec: number): void {
    this.tracker?.advance(nowSec);
  }

  /**
   * Closes the window in slot `win`: its parts as export data, with the records ended since
   * the last close unless `withRecords` is false (with `endFlows`, every open flow ends first,
   * reason `end`). The slot is empty after.
   */
  closeWindow(win: number, endFlows: boolean, withRecords = true): WindowParts {
    if (endFlows) this.tracker?.sweep(true);
    const tables = this.tables[win]!;
    const take = withRecords && this.tracker !== null;
    const parts: WindowParts = {
      tables: tables.map((t) => t.handOver()),
      sketches: this.banks[win]!.snapshot(),
      records: take ? this.records.take() : null,
      trackerOverflow: take ? this.overflowPackets - this.overflowBefore : 0,
      flowsActive: this.tracker?.size ?? 0,
    };
    if (take) this.overflowBefore = this.overflowPackets;
    this.banks[win]!.clear();
    return parts;
  }

  /** Packets of new flows that found the tracker full, since the start. */
  get overflowPackets(): number {
    return this.tracker?.overflowPackets ?? 0;
  }
}

/** Windows open at once at most: 1 + ceil(lateness / window) must fit. */
export const WINDOWS_OPEN_MAX = 8;

type Reply =
  | { t: "free"; slot: number }
  | { t: "window"; parts: WindowParts; busyMs: number }
  | { t: "error"; message: string };

/**
 * Header work on a helper thread (a Web Worker) fed through shared batch slots: `begin` a
 * batch (its headers are copied into a free slot), `add` its window runs, `end` it.
 * Messages are handled in order, so a window closed after an add has counted that add.
 */
export class ThreadHeaderWork {
  private readonly worker: Worker;
  private readonly slots: PacketBatch[] = [];
  private readonly free: number[] = [];
  private slot = -1;
  private failure: Error | null = null;
  /** Who waits for a free batch slot. */
  private waitFree: (() => void) | null = null;
  /** Who waits for each window asked for, in the order asked (replies come in that order). */
  private readonly waitWindows: { ok: (s: WindowParts) => void; no: (e: Error) => void }[] = [];
  private closed = false;
  /**
   * How the two threads share the work: this thread's total wait for a free batch slot (the
   * helper behind), and the helper's busy time as of its latest window reply.
   */
  waitMs = 0;
  helperBusyMs = 0;

  constructor(opts: HeaderWorkOptions) {
    // Checked here, where a bad option gives its own error before any thread starts (sketch
    // specs were checked with the configuration; building them here would allocate them twice).
    for (const t of opts.tasks) new FlowTable(t.key, t.flowsMax);
    if (opts.flows !== null) new FlowTracker(new FlowRecords(0), opts.flows);
    if (!Number.isInteger(opts.windows) || opts.windows < 1 || opts.windows > WINDOWS_OPEN_MAX) {
      throw new RangeError(`Invalid open window count ${opts.windows}: 1..${WINDOWS_OPEN_MAX}`);
    }
    const buffers: SharedArrayBuffer[] = [];
    const slotBytes = PacketBatch.bytesFor(opts.batchPackets);
    const slots = Math.max(SLOTS_MIN, Math.floor(SLOT_BYTES_MAX / slotBytes));
    for (let k = 0; k < slots; k++) {
      const buf = new SharedArrayBuffer(slotBytes);
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
    this.worker.postMessage({ t: "init", opts, buffers });
  }

  private reply(m: Reply): void {
    switch (m.t) {
      case "free":
        this.free.push(m.slot);
        this.waitFree?.();
        return;
      case "window":
        this.helperBusyMs = m.busyMs;
        this.waitWindows.shift()?.ok(m.parts);
        return;
      case "error":
        this.fail(new Error(`helper thread: ${m.message}`));
    }
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waitWindows.splice(0)) w.no(this.failure);
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
    if (this.free.length === 0) {
      const t0 = performance.now();
      while (this.free.length === 0) {
        await new Promise<void>((ok) => this.waitFree = ok);
        this.waitFree = null;
        this.check();
      }
      this.waitMs += performance.now() - t0;
    }
    this.slot = this.free.pop()!;
    copyHeaders(batch, this.slots[this.slot]!);
  }

  /** Packets [from, to) of the batch given to `begin`, into the window in slot `win`. */
  add(from: number, to: number, win: number): void {
    this.check();
    this.worker.postMessage({ t: "add", slot: this.slot, from, to, win });
  }

  /** After the last `add` of the batch. */
  end(): void {
    this.worker.postMessage({ t: "release", slot: this.slot });
    this.slot = -1;
    this.check();
  }

  /** The flow lifecycle's clock moves to `nowSec`. */
  advance(nowSec: number): void {
    this.check();
    this.worker.postMessage({ t: "advance", sec: nowSec });
  }

  /** Closes the window in slot `win` (see LocalHeaderWork.closeWindow). */
  closeWindow(win: number, endFlows: boolean, withRecords: boolean): Promise<WindowParts> {
    this.check();
    return new Promise((ok, no) => {
      this.waitWindows.push({ ok, no });
      this.worker.postMessage({ t: "window", win, endFlows, withRecords });
    });
  }

  /** Stops the helper thread (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.worker.terminate();
  }
}

/** Every array buffer of `parts`, to move them to the other thread instead of copying. */
export function partBuffers(parts: WindowParts): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const add = (o: object) => {
    for (const v of Object.values(o)) {
      if (ArrayBuffer.isView(v)) out.add(v.buffer as ArrayBuffer);
    }
  };
  for (const t of parts.tables) add(t);
  for (const s of parts.sketches) add(s), add(s.keys);
  if (parts.records !== null) add(parts.records);
  // A buffer moved away is lost to its sender: none of these may be still in use here.
  return [...out];
}
