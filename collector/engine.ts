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
import type { SketchSpec, SketchWindow } from "./sketch_bank.ts";
import { AppLayer } from "./app_layer.ts";
import {
  type HeaderWork,
  type HeaderWorkOptions,
  LocalHeaderWork,
  type TableWindow,
  ThreadHeaderWork,
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
   * Run the exact and sketch tasks and the flow lifecycle on a helper thread (default false): the
   * second core then takes them. Same results either way; call `close()` when done.
   */
  helperThread?: boolean;
}

export const WINDOW_SEC_MAX = 86400;

export class Engine {
  readonly windowSec: number;
  private readonly totals = new Totals();
  private readonly tasks: readonly TaskSpec[];
  private readonly app: AppLayer | null;
  /** Flow lifecycle and sketches, here or on the helper thread. */
  private readonly headers: HeaderWork;
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
    const work: HeaderWorkOptions = {
      tasks: opts.tasks,
      sketches: opts.sketches ?? [],
      flows: opts.flows,
      batchPackets: opts.batchPackets ?? BATCH_PACKETS_DEFAULT,
    };
    const onRecords = (r: FlowRecords) => sink.flowRecords(r);
    this.headers = opts.helperThread === true
      ? new ThreadHeaderWork(work, onRecords)
      : new LocalHeaderWork(work, onRecords);
  }

  /** Packets of new flows that found the flow tracker full (final after `finish`). */
  get trackerOverflowPackets(): number {
    return this.headers.overflowPackets;
  }

  /** Frees the helper thread, if any; call when done, also after a failure. */
  close(): void {
    this.headers.close();
  }

  /** Window start of packet `i`; packets without a timestamp join the open window. */
  private windowOf(batch: PacketBatch, i: number): number {
    const sec = batch.tsSec[i]!;
    if (sec !== sec) return this.current === this.current ? this.current : 0;
    return Math.floor(sec / this.windowSec) * this.windowSec;
  }

  async addBatch(batch: PacketBatch): Promise<void> {
    const n = batch.length;
    await this.headers.begin(batch);
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
      this.headers.add(batch, i, j);
      this.app?.addRange(batch, i, j);
      i = j;
    }
    this.packetsIn += n;
    await this.headers.end();
  }

  private async flushWindow(): Promise<void> {
    if (this.current !== this.current || this.totals.frames === 0) return;
    const parts = await this.headers.closeWindow();
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
    this.headers.clearWindow();
    this.app?.clear();
  }

  /**
   * End of input (or a signal): flushes the open window, ends every open flow (reason `end`)
   * and checks that every packet given was handed over.
   */
  async finish(): Promise<void> {
    await this.flushWindow();
    await this.headers.finish();
    if (this.packetsFlushed !== this.packetsIn) {
      throw new Error(
        `Accounting broken: ${this.packetsIn} packets in, ${this.packetsFlushed} stored`,
      );
    }
  }
}
