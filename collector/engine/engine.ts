/**
 * The engine: event-time tumbling windows over decoded batches, several exact tasks on the
 * same packets, sketch tasks, window totals, DNS/HTTP and the flow lifecycle.
 *
 * Windows are aligned on packet timestamps (`floor(ts / windowSec)`), so a file and the same
 * packets seen live give the same windows. A watermark closes them: the latest packet time
 * seen (and, for live sources, the wall clock given to {@link Engine.advance}); a window
 * closes once its end plus the allowed lateness is at or below the watermark, even when no
 * packet comes. A packet whose window is closed is late: it is never merged into the closed
 * window and never lost, but counted in a late part of that window — an export of its own
 * (identity: the window and part 1, 2, …) whose packets are all counted as late — so totals
 * still add up to every packet read, and a capture with one bogus far-future timestamp still
 * has every packet aggregated. The watermark is
 * checked at the first packet of each run of packets of one window (packets of one window
 * cannot close it), so which packets are late does not depend on how the input was cut into
 * batches.
 *
 * Up to 1 + ceil(lateness / window) windows are open at once, each with its own tables, plus
 * one slot for a late part (closed when a run of another window comes). A
 * closed window becomes a {@link WindowExport} (plain columns, window_export.ts) handed to the
 * output — the store's queue, which may make intake wait but never drops.
 *
 * @module
 */

import { BATCH_PACKETS_DEFAULT, type PacketBatch } from "../packet/mod.ts";
import type { FlowTrackerOptions } from "./flow_tracker.ts";
import type { KeyField } from "../packet/mod.ts";
import type { SketchKindName, SketchSpec } from "./sketch_bank.ts";
import { AppLayer, AppWindow } from "../app/mod.ts";
import {
  type HeaderWorkOptions,
  LocalHeaderWork,
  ThreadHeaderWork,
  type WindowParts,
  WINDOWS_OPEN_MAX,
} from "./header_work.ts";
import { Totals } from "./totals.ts";
import { EMPTY_RECORDS } from "./flow_tracker.ts";
import {
  addCounts,
  type CaptureCounts,
  NO_CAPTURE,
  type SketchExport,
  type WindowExport,
  type WindowOutput,
} from "../export/mod.ts";

export interface TaskSpec {
  name: string;
  kind: "exact";
  key: readonly KeyField[];
  flowsMax: number;
}

export interface EngineOptions {
  windowSec: number;
  /** How long after its end a window still takes packets (default 2 s, ≤ 7 windows). */
  latenessSec?: number;
  tasks: readonly TaskSpec[];
  sketches?: readonly SketchSpec[];
  /** Decode DNS and HTTP per window (default true). */
  app?: boolean;
  /**
   * The flow lifecycle's options; false: none (no connection records; each key then costs only
   * its exact-table row).
   */
  flows?: Partial<FlowTrackerOptions> | false;
  /** Largest batch that will be given (the sketch bank's hash arrays are this long). */
  batchPackets?: number;
  /**
   * Which header-only parts run on a helper thread, so that the second core takes them
   * (default: none). Same results either way; call `close()` when done.
   */
  helper?: HelperParts;
  /**
   * A live source's windows: every window the clock (`advance`) passes is stored, one without
   * packets with zero totals, so a quiet link shows as such and a gap means an outage.
   */
  emptyWindows?: boolean;
  /** The sensor and source every window's identity carries. */
  sensor: string;
  source: string;
  /** The sketches' hash seed (default 0; a store gives its own). */
  sketchSeed?: number;
  /**
   * A live source's capture counts so far (cumulative): each window takes the change since the
   * window before it closed (WindowExport.capture).
   */
  capture?: () => CaptureCounts;
  /** The capture counts its first window starts from (default zero: the device's start). */
  captureStart?: CaptureCounts;
}

/** Parts of the work that can run on the helper thread. */
export interface HelperParts {
  tables: boolean;
  /** The sketch tasks of these kinds. */
  sketches: readonly SketchKindName[];
  tracker: boolean;
}

/**
 * What goes to the helper by default: the exact tasks and the flow lifecycle, two hash
 * lookups a packet with their cache misses; the main thread keeps reading, decoding, DNS/HTTP,
 * the sketches and the store, which measured the best balance (bench/RESULTS.md).
 */
export const HELPER_DEFAULT: HelperParts = { tables: true, sketches: [], tracker: true };
export const HELPER_NONE: HelperParts = { tables: false, sketches: [], tracker: false };

export const WINDOW_SEC_MAX = 86400;
/** Window closes being assembled at once at most, before intake waits for them. */
const CLOSES_IN_FLIGHT = 2;
export const LATENESS_SEC_DEFAULT = 2;
/** Empty windows made up at most after the clock jumped (a suspended process). */
const EMPTY_WINDOWS_MAX = 1440;

/** One open window: its start (NaN when the slot is free) and what only this thread counts. */
interface OpenWindow {
  startSec: number;
  /** 0 for a window; k ≥ 1 for its k-th late part. */
  part: number;
  readonly totals: Totals;
  readonly app: AppWindow | null;
}

export class Engine {
  readonly windowSec: number;
  readonly latenessSec: number;
  private readonly tasks: readonly TaskSpec[];
  private readonly app: AppLayer | null;
  /** The header-only parts kept on this thread, and the helper running the others. */
  private readonly local: LocalHeaderWork;
  private readonly helper: ThreadHeaderWork | null;
  private readonly parts: HelperParts;
  private readonly sketchSpecs: readonly SketchSpec[];
  private readonly open: OpenWindow[];
  /** Latest packet time seen (seconds, fractional); -Infinity before the first. */
  private maxEventSec = -Infinity;
  /** Latest time given to advance() (wall clock of a live source). */
  private clockSec = -Infinity;
  private readonly emptyWindows: boolean;
  /** The latest window `advance` made sure of (emptyWindows). */
  private clockWindowSec = NaN;
  /** Windows after clockWindowSec that packets opened already (emptyWindows): never twice. */
  private readonly openedAhead = new Set<number>();
  private readonly sensor: string;
  private readonly source: string;
  /** Packets given to the engine, and packets handed over in window totals (late ones too). */
  packetsIn = 0;
  /** Σ frame lengths of the packets taken in (what a live feed's rates are made of). */
  bytesIn = 0;
  packetsOut = 0;
  latePackets = 0;
  windowsClosed = 0;
  /** Closes still being assembled (the helper's parts on their way), chained in order. */
  private closing: Promise<void> = Promise.resolve();
  private inFlight = 0;
  private closingFailure: unknown = null;
  /** Late parts stored per window start (their part numbers). */
  private readonly lateParts = new Map<number, number>();
  trackerOverflowPackets = 0;
  private readonly capture: (() => CaptureCounts) | null;
  /** The capture counts at the previous window's close. */
  private captureBefore: CaptureCounts = NO_CAPTURE;
  /**
   * Intake's stall at window changes: the time addBatch spent closing windows (the helper's
   * parts, building the export, waiting for room in the output queue), total and longest.
   */
  closeMs = 0;
  maxCloseMs = 0;

  /** Intake's total wait for the helper thread (its batch slots all taken), ms. */
  get helperWaitMs(): number {
    return this.helper?.waitMs ?? 0;
  }
  /** The helper thread's busy time as of the latest window closed, ms. */
  get helperBusyMs(): number {
    return this.helper?.helperBusyMs ?? 0;
  }

  constructor(opts: EngineOptions, private readonly output: WindowOutput) {
    if (
      !Number.isInteger(opts.windowSec) || opts.windowSec < 1 || opts.windowSec > WINDOW_SEC_MAX
    ) {
      throw new RangeError(`Invalid window ${opts.windowSec} s: 1..${WINDOW_SEC_MAX}`);
    }
    const lateness = opts.latenessSec ?? LATENESS_SEC_DEFAULT;
    const windows = 1 + Math.ceil(lateness / opts.windowSec);
    if (!(lateness >= 0) || windows > WINDOWS_OPEN_MAX) {
      throw new RangeError(
        `Invalid lateness ${lateness} s: 0..${(WINDOWS_OPEN_MAX - 1) * opts.windowSec} ` +
          `(at most ${WINDOWS_OPEN_MAX - 1} windows of ${opts.windowSec} s)`,
      );
    }
    if (opts.tasks.length === 0) throw new RangeError("At least one exact task is needed");
    this.windowSec = opts.windowSec;
    this.latenessSec = lateness;
    this.emptyWindows = opts.emptyWindows ?? false;
    this.capture = opts.capture ?? null;
    if (opts.captureStart !== undefined) this.captureBefore = opts.captureStart;
    this.tasks = opts.tasks;
    this.sensor = opts.sensor;
    this.source = opts.source;
    this.app = opts.app === false ? null : new AppLayer();
    // The last slot takes late parts.
    this.open = Array.from({ length: windows + 1 }, () => ({
      startSec: NaN,
      part: 0,
      totals: new Totals(),
      app: this.app === null ? null : new AppWindow(),
    }));
    const parts = this.parts = opts.helper ?? HELPER_NONE;
    const sketches = this.sketchSpecs = opts.sketches ?? [];
    const flows = opts.flows === false ? null : opts.flows ?? {};
    const batchPackets = opts.batchPackets ?? BATCH_PACKETS_DEFAULT;
    const on = (helper: boolean): HeaderWorkOptions => ({
      tasks: parts.tables === helper ? opts.tasks : [],
      sketches: sketches.filter((s) => parts.sketches.includes(s.kind) === helper),
      flows: flows !== null && parts.tracker === helper ? flows : null,
      batchPackets,
      windows: windows + 1,
      sketchSeed: opts.sketchSeed,
    });
    this.local = new LocalHeaderWork(on(false));
    this.helper =
      parts.tables || parts.tracker || sketches.some((s) => parts.sketches.includes(s.kind))
        ? new ThreadHeaderWork(on(true))
        : null;
  }

  /** Frees the helper thread, if any; call when done, also after a failure. */
  close(): void {
    this.helper?.close();
  }

  /** The watermark: windows ending (plus lateness) at or before it are closed. */
  get watermarkSec(): number {
    return Math.max(this.maxEventSec, this.clockSec) - this.latenessSec;
  }

  /** Start of the newest open window (late parts aside), or NaN. */
  private newestOpen(): number {
    let newest = NaN;
    for (let s = 0; s < this.open.length - 1; s++) {
      const st = this.open[s]!.startSec;
      if (st === st && !(st <= newest)) newest = st; // free slots are NaN
    }
    return newest;
  }

  /** Hands over the late part being filled, if any. */
  private async closeLatePart(): Promise<void> {
    const s = this.open.length - 1;
    if (this.open[s]!.startSec === this.open[s]!.startSec) await this.closeWindow(s, false);
  }

  /** Window start of packet `i`; packets without a timestamp join the newest open window. */
  private windowOf(batch: PacketBatch, i: number): number {
    const sec = batch.tsSec[i]!;
    if (sec === sec) return Math.floor(sec / this.windowSec) * this.windowSec;
    const newest = this.newestOpen();
    if (newest === newest) return newest;
    const t = Math.max(this.maxEventSec, this.clockSec);
    return Number.isFinite(t) ? Math.floor(t / this.windowSec) * this.windowSec : 0;
  }

  async addBatch(batch: PacketBatch): Promise<void> {
    this.checkClosing();
    const n = batch.length;
    await this.helper?.begin(batch);
    let i = 0;
    while (i < n) {
      const w = this.windowOf(batch, i);
      let runMax = -Infinity; // NaN times (no timestamp) never win a comparison
      let j = i;
      for (; j < n && (j === i || this.windowOf(batch, j) === w); j++) {
        const t = batch.tsSec[j]! + batch.tsNsec[j]! / 1e9;
        if (t > runMax) runMax = t;
      }
      // The run's first packet moves the watermark (it cannot make itself late: its time is
      // inside its window), then what that closed is closed, so a slot is free for the run.
      const first = batch.tsSec[i]! + batch.tsNsec[i]! / 1e9;
      if (first > this.maxEventSec) this.maxEventSec = first;
      await this.closeUpTo(this.watermarkSec);
      const late = w + this.windowSec <= this.watermarkSec;
      const lateSlot = this.open.length - 1;
      // A late part ends when a run of another window comes.
      if (this.open[lateSlot]!.startSec !== (late ? w : NaN)) await this.closeLatePart();
      let s: number;
      if (late) {
        s = lateSlot;
        const part = this.open[s]!;
        if (part.startSec !== w) {
          part.startSec = w;
          part.part = (this.lateParts.get(w) ?? 0) + 1;
          this.lateParts.set(w, part.part);
        }
        this.latePackets += j - i;
      } else s = this.slotFor(w);
      const win = this.open[s]!;
      const bytesBefore = win.totals.wireBytes;
      win.totals.addBatch(batch, i, j);
      this.bytesIn += win.totals.wireBytes - bytesBefore;
      this.local.add(batch, i, j, s);
      this.helper?.add(i, j, s);
      this.app?.addRange(batch, i, j, win.app!);
      if (runMax > this.maxEventSec) this.maxEventSec = runMax;
      i = j;
    }
    this.packetsIn += n;
    this.helper?.end();
    await this.closeUpTo(this.watermarkSec);
  }

  /**
   * The clock of a live source moves to `nowSec` (wall time): windows that ended (plus
   * lateness) by then close and idle flows end, even when no packet comes.
   */
  async advance(nowSec: number): Promise<void> {
    if (!(nowSec > this.clockSec)) return;
    this.clockSec = nowSec;
    await this.closeLatePart();
    this.local.advance(nowSec);
    this.helper?.advance(nowSec);
    if (this.emptyWindows) await this.openClockWindows(nowSec);
    await this.closeUpTo(this.watermarkSec);
    // A clock tick is off the packet path: it returns once what it closed is handed over.
    await this.closing;
    this.checkClosing();
  }

  /**
   * Opens every window from the last one the clock opened up to the one holding `nowSec` (at
   * most EMPTY_WINDOWS_MAX after a long pause of the process), closing what the watermark
   * passed on the way, so each gets stored even without packets.
   */
  private async openClockWindows(nowSec: number): Promise<void> {
    const ws = this.windowSec;
    const current = Math.floor(nowSec / ws) * ws;
    let w = this.clockWindowSec === this.clockWindowSec ? this.clockWindowSec + ws : current;
    if (current - w > EMPTY_WINDOWS_MAX * ws) w = current - EMPTY_WINDOWS_MAX * ws;
    for (; w <= current; w += ws) {
      if (this.openedAhead.has(w)) continue;
      // A window the watermark already passed is opened and closed at once, empty.
      await this.closeUpTo(this.watermarkSec);
      this.slotFor(w);
    }
    this.clockWindowSec = current;
    for (const s of this.openedAhead) if (s <= current) this.openedAhead.delete(s);
  }

  /** The window slot (not the late part's) holding window `startSec`, or -1. */
  private slotOf(startSec: number): number {
    for (let s = 0; s < this.open.length - 1; s++) {
      if (this.open[s]!.startSec === startSec) return s;
    }
    return -1;
  }

  /** The slot of window `startSec`, opened if needed. */
  private slotFor(startSec: number): number {
    const s = this.slotOf(startSec);
    if (s >= 0) return s;
    const free = this.open.findIndex((w, k) =>
      w.startSec !== w.startSec && k < this.open.length - 1
    );
    // 1 + ceil(lateness / window) slots hold every window the watermark leaves open.
    if (free < 0) throw new Error(`Engine: no free window slot for ${startSec}`);
    this.open[free]!.startSec = startSec;
    if (this.emptyWindows && !(startSec <= this.clockWindowSec)) this.openedAhead.add(startSec);
    return free;
  }

  /** Closes, oldest first, every open window whose end is at or before `watermark`. */
  private async closeUpTo(watermark: number): Promise<void> {
    for (;;) {
      let oldest = -1;
      for (let s = 0; s < this.open.length - 1; s++) {
        const st = this.open[s]!.startSec;
        if (st + this.windowSec <= watermark && (oldest < 0 || st < this.open[oldest]!.startSec)) {
          oldest = s;
        }
      }
      if (oldest < 0) return;
      await this.closeWindow(oldest, false);
    }
  }

  private async closeWindow(s: number, endFlows: boolean): Promise<void> {
    const t0 = performance.now();
    await this.closeWindowTimed(s, endFlows);
    const dt = performance.now() - t0;
    this.closeMs += dt;
    if (dt > this.maxCloseMs) this.maxCloseMs = dt;
  }

  /**
   * Closes slot `s`: what this thread holds is taken at once (local parts, totals, DNS/HTTP);
   * the helper's parts are asked for and the export is assembled when they come, in order,
   * while intake goes on — at most CLOSES_IN_FLIGHT closes wait so at a time.
   */
  private async closeWindowTimed(s: number, endFlows: boolean): Promise<void> {
    this.checkClosing();
    const win = this.open[s]!;
    const startSec = win.startSec;
    const isLate = s === this.open.length - 1;
    // Ended flows go with windows, not with late parts (their time is not the part's).
    const local = this.local.closeWindow(s, endFlows, !isLate);
    const fromHelper = this.helper?.closeWindow(s, endFlows, !isLate) ?? null;
    const totals = win.totals.snapshot(isLate);
    const app = this.app === null
      ? null
      : this.app.closeWindow(win.app!, startSec + this.windowSec);
    const id = {
      sensor: this.sensor,
      source: this.source,
      startSec,
      windowSec: this.windowSec,
      part: isLate ? win.part : 0,
    };
    this.packetsOut += totals.packets;
    if (!isLate) this.windowsClosed++;
    const capture = isLate ? null : this.captureDelta();
    win.totals.clear();
    win.startSec = NaN;
    const assemble = async () => {
      const helper: WindowParts | null = fromHelper === null ? null : await fromHelper;
      // Each kind of part runs wholly on one side.
      const side = (onHelper: boolean) => onHelper ? helper! : local;
      const tables = side(this.parts.tables).tables;
      const tracker = side(this.parts.tracker);
      const out: WindowExport = {
        id,
        totals,
        tasks: this.tasks.map((t, k) => ({ name: t.name, key: t.key, rows: tables[k]! })),
        sketches: this.inTaskOrder(local.sketches, helper?.sketches ?? []),
        app,
        records: tracker.records ?? EMPTY_RECORDS,
        trackerOverflowPackets: tracker.trackerOverflow,
        flowsActive: tracker.flowsActive,
        capture,
      };
      this.trackerOverflowPackets += out.trackerOverflowPackets;
      await this.output.push(out);
    };
    this.inFlight++;
    this.closing = this.closing.then(assemble).finally(() => void this.inFlight--);
    // Never an unhandled rejection: the failure is kept and thrown by the next call.
    this.closing.catch((e) => void (this.closingFailure ??= e));
    if (this.inFlight > CLOSES_IN_FLIGHT) await this.closing;
    this.checkClosing();
  }

  /** The capture counts as the latest window closed: where a following engine's start. */
  get captureMark(): CaptureCounts {
    return this.captureBefore;
  }

  /** The capture counts since the previous window closed (null for a file source). */
  private captureDelta(): CaptureCounts | null {
    if (this.capture === null) return null;
    const now = this.capture(), before = this.captureBefore;
    this.captureBefore = now;
    return addCounts(now, before, -1);
  }

  /** Throws the failure of an earlier close (a helper or output error), if any. */
  private checkClosing(): void {
    if (this.closingFailure !== null) throw this.closingFailure;
  }

  /** The sketches of both sides back in task order (each side keeps its tasks' order). */
  private inTaskOrder(local: SketchExport[], helper: SketchExport[]): SketchExport[] {
    let l = 0, h = 0;
    return this.sketchSpecs.map((s) =>
      this.parts.sketches.includes(s.kind) ? helper[h++]! : local[l++]!
    );
  }

  /**
   * End of input (or a signal): closes every open window, oldest first; open flows end (reason
   * `end`) into the newest. Checks that every packet given was handed over.
   */
  async finish(): Promise<void> {
    await this.closeLatePart();
    for (;;) {
      const newest = this.newestOpen();
      let oldest = -1;
      for (let s = 0; s < this.open.length - 1; s++) {
        const st = this.open[s]!.startSec;
        if (st === st && (oldest < 0 || st < this.open[oldest]!.startSec)) oldest = s;
      }
      if (oldest < 0) break;
      await this.closeWindow(oldest, this.open[oldest]!.startSec === newest);
    }
    await this.closing;
    this.checkClosing();
    if (this.packetsOut !== this.packetsIn) {
      throw new Error(
        `Accounting broken: ${this.packetsIn} packets in, ${this.packetsOut} handed over`,
      );
    }
  }
}
