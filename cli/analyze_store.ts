/**
 * `analyze --db FILE`: the store path of the analyze command.
 *
 * @module
 */

import type { TaskSpec } from "../collector/engine/mod.ts";
import type { FlowTrackerOptions } from "../collector/engine/mod.ts";
import { ingestFiles, type IngestRun } from "../collector/ingest/mod.ts";
import type { Summary } from "../storage/mod.ts";
import type { SketchSpec } from "../collector/engine/mod.ts";
import { Store } from "../storage/mod.ts";
import { type FlowSink, summarize, type SummaryOptions } from "../storage/mod.ts";
import type { SinkConfig } from "../collector/config/mod.ts";
import { type Forwarder, startForwarding } from "../forward/mod.ts";

/** DuckDB's buffer memory while `analyze` writes into and reports from a file store. */
const STORE_MEMORY_BYTES = 128 << 20;

/**
 * The store path: ingest into `dbPath` under the inputs' source id, then read the report back
 * from the store. SIGINT / SIGTERM stop reading; what was read is still stored and reported.
 */
export async function analyzeIntoStore(
  files: string[],
  dbPath: string,
  waitSec: number,
  opts: {
    windowSec: number;
    latenessSec?: number;
    sensor?: string;
    tasks: TaskSpec[];
    sketches: SketchSpec[];
    reportTask: TaskSpec;
    flows?: Partial<FlowTrackerOptions> | false;
    retention: { maxAgeSec?: number; maxBytes?: number };
    onProgress: (f: string, r: number, t: number) => void;
    /** Sinks the windows are forwarded to (`--forward`); analyze waits for them to arrive. */
    forward?: readonly SinkConfig[];
    /** How long a sink may take nothing before analyze leaves the rest in the outbox. */
    forwardWaitSec?: number;
  },
  report: {
    /** For a report that streams its flow rows (csv, json): where they go, given the run. */
    sinkFor?: (run: IngestRun) => FlowSink;
  } & Omit<SummaryOptions, "onFlows">,
): Promise<{ run: IngestRun; summary: Summary; forwarded: boolean }> {
  const store = await Store.open(dbPath, { waitMs: waitSec * 1000 });
  if (store.removedUnfinished > 0) {
    console.error(
      `netspectra: removed ${store.removedUnfinished} unfinished analysis(es) a stopped process left in ${dbPath}`,
    );
  }
  // DuckDB keeps at most this much in its buffers: a file store's row groups are in the file
  // once written, and queries spill to disk, so memory stops growing with the keys (a
  // statement that cannot do with it lifts the cap; an in-memory store could not evict).
  if (dbPath !== ":memory:") await store.limitMemory(STORE_MEMORY_BYTES);
  let stop = false;
  const onSignal = () => stop = true;
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  let forwarder: Forwarder | null = null;
  try {
    if (opts.forward !== undefined && opts.forward.length > 0) {
      forwarder = await startForwarding(store, opts.forward, (level, msg, f) =>
        console.error(
          `netspectra: ${level === "warn" ? "warning: " : ""}${msg}: ${
            Object.entries(f).map(([k, v]) => `${k}=${v}`).join(" ")
          }`,
        ));
    }
    const run = await ingestFiles({
      files,
      store,
      windowSec: opts.windowSec,
      latenessSec: opts.latenessSec,
      sensor: opts.sensor,
      tasks: opts.tasks,
      sketches: opts.sketches,
      flows: opts.flows,
      onProgress: opts.onProgress,
      stopRequested: () => stop,
    });
    if (run.stopped) {
      console.error("netspectra: stopped by a signal; everything read so far is stored");
    }
    if (opts.retention.maxAgeSec !== undefined || opts.retention.maxBytes !== undefined) {
      const dropped = await store.applyRetention(opts.retention);
      if (dropped > 0) console.error(`netspectra: retention dropped ${dropped} window(s)`);
    }
    const summary = await summarize(
      store,
      run.sourceIds,
      opts.reportTask.name,
      opts.reportTask.key,
      { ...report, onFlows: report.sinkFor?.(run) },
    );
    let forwarded = true;
    if (forwarder !== null) {
      forwarded = await forwarder.drained((opts.forwardWaitSec ?? 30) * 1000);
      if (!forwarded) {
        for (const b of await store.exportBacklog()) {
          if (b.pending === 0) continue;
          console.error(
            `netspectra: ${b.pending} window(s) wait in the outbox for sink ${b.sink}` +
              (b.lastError === null ? "" : ` (last error: ${b.lastError})`) +
              `; send them with netspectra export retry`,
          );
        }
      }
    }
    return { run, summary, forwarded };
  } finally {
    await forwarder?.stop();
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    await store.close();
  }
}
