/**
 * Ingest: capture files → decoded batches → the engine (windows, tasks, flow lifecycle) →
 * the store. This is what `analyze --db` / `--config` runs; the report is then read back from
 * the store (storage/summary.ts).
 *
 * @module
 */

import { BATCH_PACKETS_DEFAULT, PacketBatch } from "../packet/mod.ts";
import { decodeBatch } from "../decode/mod.ts";
import { Engine, HELPER_DEFAULT, type HelperParts, type TaskSpec } from "../engine/mod.ts";
import { FLOWS_MAX_DEFAULT } from "../engine/mod.ts";
import type { FlowTrackerOptions } from "../engine/mod.ts";
import { FIVE_TUPLE, type KeyField } from "../packet/mod.ts";
import { type CaptureReader, openCapture } from "../reader/mod.ts";
import type { SketchSpec } from "../engine/mod.ts";
import { type WindowStore, WindowWriter } from "../engine/mod.ts";
import { NO_CAPTURE } from "../export/mod.ts";
import { type CollectorStatus, type DeviceStatus, newDeviceStatus } from "./status.ts";

export const WINDOW_SEC_DEFAULT = 60;

/** What was read of one input file. */
export interface FileSummary {
  name: string;
  format: string;
  linkTypes: number[];
  records: number;
  warnings: string[];
}

/** What ingest needs of the store (storage/store.ts is one). */
export interface SourceStore extends WindowStore {
  /** The hash seed every sketch written into this store is filled with. */
  readonly sketchSeed: number;
  fileSources(): Promise<{ sourceId: string; bytes: number }[]>;
  beginSource(
    inputs: string,
    windowSec: number,
    tasks: readonly TaskSpec[],
    sketches: readonly SketchSpec[],
    sensor: string,
    kind: string,
  ): Promise<number>;
  finishSource(sourceNo: number, done: {
    sourceId: string;
    packets: number;
    warnings: readonly string[];
    contentBytes: number;
    replaces: readonly string[];
  }): Promise<void>;
  abandonSource(sourceNo: number): Promise<void>;
}

/** What every run into a store takes, from files or from devices. */
export interface StoreRunOptions {
  store: SourceStore;
  /** The sensor id every window carries (default: the host name). */
  sensor?: string;
  windowSec?: number;
  latenessSec?: number;
  tasks?: readonly TaskSpec[];
  /** Sketch tasks (default: none here; the CLI and config add the default set). */
  sketches?: readonly SketchSpec[];
  /** DNS and HTTP per window (default true). */
  app?: boolean;
  /** The flow lifecycle; false: no connection records (see EngineOptions.flows). */
  flows?: Partial<FlowTrackerOptions> | false;
  batchPackets?: number;
  /** What runs on the helper thread (default HELPER_DEFAULT; see EngineOptions). */
  helper?: HelperParts;
  /** Closed windows waiting to be stored at most (intake waits beyond). */
  writeQueue?: number;
}

export interface IngestOptions extends StoreRunOptions {
  files: readonly string[];
  /** The sketches' hash seed instead of the store's (tests comparing stores). */
  sketchSeed?: number;
  /** Called about every batch with bytes read and total of the current file. */
  onProgress?: (file: string, read: number, total: number) => void;
  /** Checked between batches: when it returns true the run stops as at the end of input. */
  stopRequested?: () => boolean;
  /**
   * Replay pace: packets are taken `speed` times as fast as their time stamps say (1: the
   * original pace); 0 or undefined: as fast as they can be read. The pace never changes what
   * is stored: windows follow packet time either way.
   */
  speed?: number;
  /**
   * A daemon's status (`run --replay`): each file is shown as a device `replay:FILE` while it
   * is read — packets and bytes as they are taken, for the live stream's rates — and every
   * stored window is counted, as for a capture device.
   */
  status?: CollectorStatus;
}

/** Longest sleep between two checks of `stopRequested` while a replay waits for its pace. */
const PACE_CHECK_MS = 100;

/** How intake and the store's writer got on (window_writer.ts). */
export interface WriterStats {
  windows: number;
  /** Intake's total and longest wait for room in the write queue. */
  waitMs: number;
  maxWaitMs: number;
  /** Total and longest time one window took to store. */
  writeMs: number;
  maxWriteMs: number;
  /** Intake's total and longest stall closing a window (engine side, queue wait included). */
  closeMs: number;
  maxCloseMs: number;
  /**
   * The longest time one batch took from read to counted (anything else on intake's thread —
   * window closes, the writer's chunks — shows here), and the mean, in ms.
   */
  maxBatchMs: number;
  meanBatchMs: number;
  /**
   * How intake and the helper thread shared the work: intake's time reading to the end
   * (the loop), its wait for the helper, and the helper's busy time, ms.
   */
  intakeMs: number;
  helperWaitMs: number;
  helperBusyMs: number;
}

export interface IngestRun {
  /** Each input's content identity, in input order (a repeated input repeats its id). */
  sourceIds: string[];
  files: FileSummary[];
  warnings: string[];
  packets: number;
  latePackets: number;
  windows: number;
  tasks: readonly TaskSpec[];
  sketches: readonly SketchSpec[];
  flowTrackerOverflow: number;
  /** Whether connection records were kept (false: `--no-records`). */
  flowRecords: boolean;
  writer: WriterStats;
  stopped: boolean;
}

/** The default task: exact aggregation on `key` named "flows". */
export function defaultTask(key: readonly KeyField[] = FIVE_TUPLE): TaskSpec {
  return { name: "flows", kind: "exact", key, flowsMax: FLOWS_MAX_DEFAULT };
}

/** The host name, the default sensor id. */
export function defaultSensor(): string {
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
}

/**
 * Runs the pipeline over every file in order into the store, each file a source of its own
 * whose identity is its content: an earlier run of the same content (or of its first part,
 * for a capture that grew) is replaced, never added. Throws PcapFormatError for a file that is
 * not a capture, before anything is stored; a file cut short is read to its last whole record
 * and reported in `warnings`. A failure leaves nothing of the failed file's source.
 */
/** A replayed file as a device of the daemon's status, capturing until it has been read. */
function replayDevice(status: CollectorStatus, file: string, writer: WindowWriter): DeviceStatus {
  const d = newDeviceStatus(`replay:${file}`, true, "");

  status.devices.set(d.device, d);
  status.queuedWindows = () => writer.backlog;
  return d;
}

/** Packets per batch of a paced replay (its pace is kept to within 16 packets). */
const REPLAY_BATCH_PACKETS = 16;

export async function ingestFiles(opts: IngestOptions): Promise<IngestRun> {
  if (opts.files.length === 0) throw new TypeError("No input files given");
  const tasks = opts.tasks ?? [defaultTask()];
  const sketches = opts.sketches ?? [];
  const { store } = opts;
  const known = await store.fileSources();
  const prefixLengths = known.map((k) => k.bytes);
  // Open every input first: a file that is not a capture fails before anything is stored.
  const readers: CaptureReader[] = [];
  const run: IngestRun = {
    sourceIds: [],
    files: [],
    warnings: [],
    packets: 0,
    latePackets: 0,
    windows: 0,
    tasks,
    sketches,
    flowTrackerOverflow: 0,
    flowRecords: opts.flows !== false,
    writer: {
      windows: 0,
      waitMs: 0,
      maxWaitMs: 0,
      writeMs: 0,
      maxWriteMs: 0,
      closeMs: 0,
      maxCloseMs: 0,
      maxBatchMs: 0,
      meanBatchMs: 0,
      intakeMs: 0,
      helperWaitMs: 0,
      helperBusyMs: 0,
    },
    stopped: false,
  };
  try {
    for (const f of opts.files) readers.push(await openCapture(f, { prefixLengths }));
    for (let k = 0; k < readers.length && !run.stopped; k++) {
      await ingestOne(opts, readers[k]!, opts.files[k]!, known, run);
    }
    return run;
  } finally {
    for (const r of readers) r.close();
  }
}

/** One input file → one source. */
async function ingestOne(
  opts: IngestOptions,
  reader: CaptureReader,
  name: string,
  known: readonly { sourceId: string; bytes: number }[],
  run: IngestRun,
): Promise<void> {
  const { store } = opts;
  const windowSec = opts.windowSec ?? WINDOW_SEC_DEFAULT;
  const batchPackets = opts.batchPackets ?? BATCH_PACKETS_DEFAULT;
  const sensor = opts.sensor ?? defaultSensor();
  // The engine is built before anything is stored, so its checks (window, tasks) fail first.
  let engine: Engine | null = null;
  let writer: WindowWriter | null = null;
  let sourceNo = -1;
  try {
    const pending = `unfinished-${crypto.randomUUID()}`;
    let out: WindowWriter | null = null;
    engine = new Engine({
      windowSec,
      latenessSec: opts.latenessSec,
      tasks: run.tasks,
      sketches: run.sketches,
      app: opts.app,
      flows: opts.flows,
      batchPackets,
      helper: opts.helper ?? HELPER_DEFAULT,
      sensor,
      source: pending,
      sketchSeed: opts.sketchSeed ?? store.sketchSeed,
    }, { push: (w) => out!.push(w) });
    sourceNo = await store.beginSource(name, windowSec, run.tasks, run.sketches, sensor, "file");
    const status = opts.status;
    writer = out = new WindowWriter(
      store,
      sourceNo,
      opts.writeQueue,
      status === undefined ? null : (w, ms) => status.windowStored(w, ms),
    );
    const device = status === undefined ? null : replayDevice(status, name, out);
    const speed = opts.speed ?? 0;
    // Paced, a batch is taken when its first packet is due: small ones keep the pace close to
    // the time stamps (a 4,096-packet batch of a 40 packets/s capture would be 100 s at once).
    const batch = new PacketBatch(speed > 0 ? REPLAY_BATCH_PACKETS : batchPackets);
    let t0 = performance.now(), batches = 0, batchMs = 0;
    let paceFrom = NaN, paceStart = 0;
    while (!run.stopped && await reader.fill(batch) > 0) {
      if (speed > 0) {
        // The batch is taken when its first packet is due (a batch of 4,096 packets at a time).
        const ts = batch.tsSec[0]! + batch.tsNsec[0]! / 1e9;
        if (paceFrom !== paceFrom && ts === ts) paceFrom = ts, paceStart = performance.now();
        const due = ts === ts ? paceStart + ((ts - paceFrom) * 1000) / speed : 0;
        while (performance.now() < due && !run.stopped) {
          await new Promise((ok) =>
            setTimeout(ok, Math.min(PACE_CHECK_MS, due - performance.now()))
          );
          run.stopped = opts.stopRequested?.() ?? false;
        }
        t0 = performance.now();
      }
      decodeBatch(batch);
      await engine.addBatch(batch);
      if (device !== null) {
        device.packets = engine.packetsIn, device.bytes = engine.bytesIn;
        device.capture = { ...NO_CAPTURE, received: engine.packetsIn };
      }
      opts.onProgress?.(name, reader.rawBytesRead, reader.rawBytesTotal);
      run.stopped = opts.stopRequested?.() ?? false;
      const t1 = performance.now();
      // The first batch carries the start-up (the helper thread loading): not a stall.
      if (batches++ > 0 && t1 - t0 > run.writer.maxBatchMs) run.writer.maxBatchMs = t1 - t0;
      batchMs += t1 - t0, t0 = t1;
    }
    run.writer.meanBatchMs = batches > 0 ? batchMs / batches : 0;
    run.writer.intakeMs += batchMs;
    await engine.finish();
    await writer.close();
    if (device !== null) device.state = "stopped";
    // A run stopped by a signal is identified by what it read (a later whole run replaces it).
    const content = await reader.contentIdentity(!run.stopped);
    const replaces = known
      .filter((k) => content.prefixes.get(k.bytes) === k.sourceId)
      .map((k) => k.sourceId);
    await store.finishSource(sourceNo, {
      sourceId: content.identity,
      packets: engine.packetsIn,
      warnings: reader.warnings,
      contentBytes: content.bytes,
      replaces,
    });
    run.sourceIds.push(content.identity);
    run.packets += engine.packetsIn;
    run.latePackets += engine.latePackets;
    run.windows += engine.windowsClosed;
    run.flowTrackerOverflow += engine.trackerOverflowPackets;
    const w = run.writer;
    w.windows += writer.windows, w.waitMs += writer.waitMs, w.writeMs += writer.writeMs;
    w.maxWaitMs = Math.max(w.maxWaitMs, writer.maxWaitMs);
    w.maxWriteMs = Math.max(w.maxWriteMs, writer.maxWriteMs);
    w.closeMs += engine.closeMs, w.maxCloseMs = Math.max(w.maxCloseMs, engine.maxCloseMs);
    w.helperWaitMs += engine.helperWaitMs, w.helperBusyMs += engine.helperBusyMs;
  } catch (e) {
    if (writer !== null) await writer.close().catch(() => {});
    if (sourceNo >= 0) await store.abandonSource(sourceNo).catch(() => {}); // else: at next open
    throw e;
  } finally {
    engine?.close();
  }
  run.files.push({
    name,
    format: reader.format,
    linkTypes: [...reader.linkTypes],
    records: reader.records,
    warnings: reader.warnings,
  });
  run.warnings.push(...reader.warnings);
}
