/**
 * Ingest: capture files → decoded batches → the engine (windows, tasks, flow lifecycle) →
 * the store. This is what `analyze --db` / `--config` runs; the report is then read back from
 * the store (storage/summary.ts).
 *
 * @module
 */

import type { Store } from "../storage/store.ts";
import type { FileSummary } from "./analyze.ts";
import { BATCH_PACKETS_DEFAULT, PacketBatch } from "./batch.ts";
import { decodeBatch } from "./decode/mod.ts";
import { Engine, HELPER_DEFAULT, type HelperParts, type TaskSpec } from "./engine.ts";
import { FLOWS_MAX_DEFAULT } from "./flow_table.ts";
import type { FlowRecords, FlowTrackerOptions } from "./flow_tracker.ts";
import { FIVE_TUPLE, type KeyField } from "./key_fields.ts";
import { type CaptureReader, openCapture } from "./reader/mod.ts";
import type { SketchSpec } from "./sketch_bank.ts";

export const WINDOW_SEC_DEFAULT = 60;

export interface IngestOptions {
  files: readonly string[];
  store: Store;
  sourceId: string;
  windowSec?: number;
  tasks?: readonly TaskSpec[];
  /** Sketch tasks (default: none here; the CLI and config add the default set). */
  sketches?: readonly SketchSpec[];
  /** DNS and HTTP per window (default true). */
  app?: boolean;
  flows?: Partial<FlowTrackerOptions>;
  batchPackets?: number;
  /** What runs on the helper thread (default HELPER_DEFAULT; see EngineOptions). */
  helper?: HelperParts;
  /** Called about every batch with bytes read and total of the current file. */
  onProgress?: (file: string, read: number, total: number) => void;
  /** Checked between batches: when it returns true the run stops as at the end of input. */
  stopRequested?: () => boolean;
}

export interface IngestRun {
  sourceId: string;
  files: FileSummary[];
  warnings: string[];
  packets: number;
  windows: number;
  tasks: readonly TaskSpec[];
  sketches: readonly SketchSpec[];
  flowTrackerOverflow: number;
  stopped: boolean;
}

/** The default task: exact aggregation on `key` named "flows". */
export function defaultTask(key: readonly KeyField[] = FIVE_TUPLE): TaskSpec {
  return { name: "flows", kind: "exact", key, flowsMax: FLOWS_MAX_DEFAULT };
}

/**
 * Runs the pipeline over every file in order into the store under `sourceId` (replacing what
 * an earlier run of the same source left). Throws PcapFormatError for a file that is not a
 * capture; a file cut short is read to its last whole record and reported in `warnings`.
 */
export async function ingestFiles(opts: IngestOptions): Promise<IngestRun> {
  if (opts.files.length === 0) throw new TypeError("No input files given");
  const tasks = opts.tasks ?? [defaultTask()];
  const sketches = opts.sketches ?? [];
  const batchPackets = opts.batchPackets ?? BATCH_PACKETS_DEFAULT;
  const windowSec = opts.windowSec ?? WINDOW_SEC_DEFAULT;
  const { store, sourceId } = opts;
  // Open every input first: a file that is not a capture fails before anything is stored.
  const readers: CaptureReader[] = [];
  let engine: Engine | null = null;
  try {
    for (const f of opts.files) readers.push(await openCapture(f));
    // The engine is built before anything is stored, so its checks (window, tasks) fail first.
    let sourceNo = 0;
    engine = new Engine({
      windowSec,
      tasks,
      sketches,
      app: opts.app,
      flows: opts.flows,
      batchPackets,
      helper: opts.helper ?? HELPER_DEFAULT,
    }, {
      window: (w) => store.writeWindow(sourceNo, w),
      flowRecords: (r: FlowRecords) => store.writeFlowRecords(sourceNo, r),
    });
    sourceNo = await store.beginSource(sourceId, opts.files.join(","), windowSec, tasks, sketches);
    const { files, warnings, stopped } = await feed(engine, readers, opts, batchPackets);
    await engine.finish();
    await store.finishSource(sourceNo, engine.packetsIn, warnings);
    return {
      sourceId,
      files,
      warnings,
      packets: engine.packetsIn,
      windows: engine.windowsFlushed,
      tasks,
      sketches,
      flowTrackerOverflow: engine.trackerOverflowPackets,
      stopped,
    };
  } finally {
    for (const r of readers) r.close();
    engine?.close();
  }
}

/** Reads every file in order into the engine (the caller closes the readers). */
async function feed(
  engine: Engine,
  readers: readonly CaptureReader[],
  opts: IngestOptions,
  batchPackets: number,
): Promise<{ files: FileSummary[]; warnings: string[]; stopped: boolean }> {
  const batch = new PacketBatch(batchPackets);
  const files: FileSummary[] = [];
  const warnings: string[] = [];
  let stopped = false;
  for (let k = 0; k < readers.length; k++) {
    const reader = readers[k]!;
    const name = opts.files[k]!;
    while (!stopped && await reader.fill(batch) > 0) {
      decodeBatch(batch);
      await engine.addBatch(batch);
      opts.onProgress?.(name, reader.rawBytesRead, reader.rawBytesTotal);
      stopped = opts.stopRequested?.() ?? false;
    }
    files.push({
      name,
      format: reader.format,
      linkTypes: [...reader.linkTypes],
      records: reader.records,
      warnings: reader.warnings,
    });
    warnings.push(...reader.warnings);
  }
  return { files, warnings, stopped };
}
