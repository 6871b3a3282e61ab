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
import { FlowTable } from "./flow_table.ts";
import { FlowRecords, FlowTracker, type FlowTrackerOptions } from "./flow_tracker.ts";
import type { KeyField } from "./key_fields.ts";
import { SketchBank, type SketchSpec, type SketchWindow } from "./sketch_bank.ts";
import { AppLayer } from "./app_layer.ts";
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
  tasks: readonly { spec: TaskSpec; table: FlowTable }[];
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
}

export const WINDOW_SEC_MAX = 86400;
/** Flow records buffered before they are handed to the sink. */
const RECORDS_FLUSH = 65536;

export class Engine {
  readonly windowSec: number;
  private readonly totals = new Totals();
  private readonly tasks: { spec: TaskSpec; table: FlowTable }[];
  private readonly bank: SketchBank;
  private readonly app: AppLayer | null;
  private readonly records = new FlowRecords(1024);
  readonly tracker: FlowTracker;
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
    this.tasks = opts.tasks.map((spec) => ({
      spec,
      table: new FlowTable(spec.key, spec.flowsMax),
    }));
    this.bank = new SketchBank(opts.sketches ?? [], opts.batchPackets ?? BATCH_PACKETS_DEFAULT);
    this.app = opts.app === false ? null : new AppLayer();
    this.tracker = new FlowTracker(this.records, opts.flows);
  }

  /** Window start of packet `i`; packets without a timestamp join the open window. */
  private windowOf(batch: PacketBatch, i: number): number {
    const sec = batch.tsSec[i]!;
    if (sec !== sec) return this.current === this.current ? this.current : 0;
    return Math.floor(sec / this.windowSec) * this.windowSec;
  }

  async addBatch(batch: PacketBatch): Promise<void> {
    const n = batch.length;
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
      for (const t of this.tasks) t.table.addBatch(batch, i, j);
      this.bank.addRange(batch, i, j);
      this.app?.addRange(batch, i, j);
      this.tracker.addBatch(batch, i, j);
      i = j;
    }
    this.packetsIn += n;
    if (this.records.length >= RECORDS_FLUSH) await this.flushRecords();
  }

  private async flushWindow(): Promise<void> {
    if (this.current !== this.current || this.totals.frames === 0) return;
    await this.sink.window({
      startSec: this.current,
      windowSec: this.windowSec,
      totals: this.totals,
      tasks: this.tasks,
      sketches: this.bank.snapshot(),
      app: this.app,
    });
    this.packetsFlushed += this.totals.frames;
    this.windowsFlushed++;
    this.totals.clear();
    for (const t of this.tasks) t.table.clear();
    this.bank.clear();
    this.app?.clear();
  }

  private async flushRecords(): Promise<void> {
    if (this.records.length === 0) return;
    await this.sink.flowRecords(this.records);
    this.records.clear();
  }

  /**
   * End of input (or a signal): flushes the open window, ends every open flow (reason `end`)
   * and checks that every packet given was handed over.
   */
  async finish(): Promise<void> {
    await this.flushWindow();
    this.tracker.sweep(true);
    await this.flushRecords();
    if (this.packetsFlushed !== this.packetsIn) {
      throw new Error(
        `Accounting broken: ${this.packetsIn} packets in, ${this.packetsFlushed} stored`,
      );
    }
  }
}
