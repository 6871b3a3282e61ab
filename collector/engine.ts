/**
 * The engine: event-time tumbling windows over decoded batches, several exact tasks on the
 * same packets, window totals, and the flow lifecycle.
 *
 * Windows are aligned on packet timestamps (`floor(ts / windowSec)`), so a file and the same
 * packets seen live give the same windows. When packets move to another window the open one is
 * handed to the sink and its tables are reset in place. Stored windows are additive (rows are
 * summed per window and key when read), so a window handed over in several parts — packets out
 * of order, a capture split over files or runs — reads back the same.
 *
 * @module
 */

import { BATCH_PACKETS_DEFAULT, type PacketBatch } from "./batch.ts";
import type { FlowRecords, FlowTrackerOptions } from "./flow_tracker.ts";
import type { KeyField } from "./key_fields.ts";
import type { SketchKindName, SketchSpec, SketchWindow } from "./sketch_bank.ts";
import { AppLayer } from "./app_layer.ts";
import {
  type HeaderWorkOptions,
  LocalHeaderWork,
  RECORDS_FLUSH,
  type TableWindow,
  ThreadHeaderWork,
  type WindowParts,
} from "./header_work.ts";
import { Totals } from "./totals.ts";

export interface TaskSpec {
  name: string;
  kind: "exact";
  key: readonly KeyField[];
  flowsMax: number;
}

export interface WindowData {
  startSec: number;
  windowSec: number;
  totals: Totals;
  tasks: readonly { spec: TaskSpec; table: TableWindow }[];
  /** Sketch tasks' stored form; sketch k is the source's task_no tasks.length + k. */
  sketches: readonly SketchWindow[];
  /** DNS and HTTP metadata of the window; null when the app layer is off. */
  app: AppLayer | null;
}

/** Where finished windows and flow records go (the store). */
export interface EngineSink {
  window(w: WindowData): Promise<void>;
  flowRecords(recs: FlowRecords): Promise<void>;
}

export interface EngineOptions {
  windowSec: number;
  tasks: readonly TaskSpec[];
  sketches?: readonly SketchSpec[];
  /** Decode DNS and HTTP per window (default true). */
  app?: boolean;
  flows?: Partial<FlowTrackerOptions>;
  /** Largest batch that will be given (the sketch bank's hash arrays are this long). */
  batchPackets?: number;
  /**
   * Which header-only parts run on a helper thread, so that the second core takes them
   * (default: none). Same results either way; call `close()` when done.
   */
  helper?: HelperParts;
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

export class Engine {
  readonly windowSec: number;
  private readonly totals = new Totals();
  private readonly tasks: readonly TaskSpec[];
  private readonly app: AppLayer | null;
  /** The header-only parts kept on this thread, and the helper running the others. */
  private readonly local: LocalHeaderWork;
  private readonly helper: ThreadHeaderWork | null;
  private readonly parts: HelperParts;
  private readonly sketchSpecs: readonly SketchSpec[];
  /** Start (seconds) of the window being filled; NaN before the first packet. */
  private current = NaN;
  /** Packets given to the engine, and packets handed to the sink inside window totals. */
  packetsIn = 0;
  packetsFlushed = 0;
  windowsFlushed = 0;

  constructor(opts: EngineOptions, private readonly sink: EngineSink) {
    if (
      !Number.isInteger(opts.windowSec) || opts.windowSec < 1 || opts.windowSec > WINDOW_SEC_MAX
    ) {
      throw new RangeError(`Invalid window ${opts.windowSec} s: 1..${WINDOW_SEC_MAX}`);
    }
    if (opts.tasks.length === 0) throw new RangeError("At least one exact task is needed");
    this.windowSec = opts.windowSec;
    this.tasks = opts.tasks;
    this.app = opts.app === false ? null : new AppLayer();
    const parts = this.parts = opts.helper ?? HELPER_NONE;
    const sketches = this.sketchSpecs = opts.sketches ?? [];
    const flows = opts.flows ?? {};
    const batchPackets = opts.batchPackets ?? BATCH_PACKETS_DEFAULT;
    const on = (helper: boolean): HeaderWorkOptions => ({
      tasks: parts.tables === helper ? opts.tasks : [],
      sketches: sketches.filter((s) => parts.sketches.includes(s.kind) === helper),
      flows: parts.tracker === helper ? flows : null,
      batchPackets,
    });
    this.local = new LocalHeaderWork(on(false));
    this.helper =
      parts.tables || parts.tracker || sketches.some((s) => parts.sketches.includes(s.kind))
        ? new ThreadHeaderWork(on(true), (r) => sink.flowRecords(r))
        : null;
  }

  /** Packets of new flows that found the flow tracker full (final after `finish`). */
  get trackerOverflowPackets(): number {
    return this.parts.tracker ? this.helper!.overflowPackets : this.local.overflowPackets;
  }

  /** The sketches of both sides back in task order (each side keeps its tasks' order). */
  private inTaskOrder(local: SketchWindow[], helper: SketchWindow[]): SketchWindow[] {
    let l = 0, h = 0;
    return this.sketchSpecs.map((s) =>
      this.parts.sketches.includes(s.kind) ? helper[h++]! : local[l++]!
    );
  }

  /** Frees the helper thread, if any; call when done, also after a failure. */
  close(): void {
    this.helper?.close();
  }

  /** Window start of packet `i`; packets without a timestamp join the open window. */
  private windowOf(batch: PacketBatch, i: number): number {
    const sec = batch.tsSec[i]!;
    if (sec !== sec) return this.current === this.current ? this.current : 0;
    return Math.floor(sec / this.windowSec) * this.windowSec;
  }

  async addBatch(batch: PacketBatch): Promise<void> {
    const n = batch.length;
    await this.helper?.begin(batch);
    let i = 0;
    while (i < n) {
      const w = this.windowOf(batch, i);
      let j = i + 1;
      while (j < n && this.windowOf(batch, j) === w) j++;
      if (w !== this.current) {
        await this.flushWindow();
        this.current = w;
      }
      this.totals.addBatch(batch, i, j);
      this.local.add(batch, i, j);
      this.helper?.add(i, j);
      this.app?.addRange(batch, i, j);
      i = j;
    }
    this.packetsIn += n;
    await this.helper?.end();
    if (this.local.records.length >= RECORDS_FLUSH) await this.flushRecords();
  }

  private async flushRecords(): Promise<void> {
    if (this.local.records.length === 0) return;
    await this.sink.flowRecords(this.local.records);
    this.local.records.clear();
  }

  private async flushWindow(): Promise<void> {
    if (this.current !== this.current || this.totals.frames === 0) return;
    const local = this.local.closeWindow();
    const helper: WindowParts = this.helper === null
      ? { tables: [], sketches: [] }
      : await this.helper.closeWindow();
    // Each kind of part runs wholly on one side, so one of each pair is empty.
    const parts = {
      tables: this.parts.tables ? helper.tables : local.tables,
      sketches: this.inTaskOrder(local.sketches, helper.sketches),
    };
    await this.sink.window({
      startSec: this.current,
      windowSec: this.windowSec,
      totals: this.totals,
      tasks: this.tasks.map((spec, k) => ({ spec, table: parts.tables[k]! })),
      sketches: parts.sketches,
      app: this.app,
    });
    this.packetsFlushed += this.totals.frames;
    this.windowsFlushed++;
    this.totals.clear();
    this.local.clearWindow();
    this.app?.clear();
  }

  /**
   * End of input (or a signal): flushes the open window, ends every open flow (reason `end`)
   * and checks that every packet given was handed over.
   */
  async finish(): Promise<void> {
    await this.flushWindow();
    this.local.endFlows();
    await this.flushRecords();
    await this.helper?.finish();
    if (this.packetsFlushed !== this.packetsIn) {
      throw new Error(
        `Accounting broken: ${this.packetsIn} packets in, ${this.packetsFlushed} stored`,
      );
    }
  }
}
