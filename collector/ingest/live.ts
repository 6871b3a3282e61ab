/**
 * Live sources into the store: each capture device is a source of its own (kind `interface`),
 * read from its ring (collector/live/) into the same engine and store path as files, with the
 * wall clock as the watermark: windows close on time on a quiet link, and every window the clock
 * passes is stored (one without packets with zero totals).
 *
 * A live source takes its identity when it starts (device, sensor and start time), so the windows
 * a killed daemon committed stay (a file source's identity is known only at its end, which is why
 * an unfinished file source is removed instead).
 *
 * @module
 */

import { Engine, HELPER_DEFAULT, WindowWriter } from "../engine/mod.ts";
import { decodeBatch } from "../decode/mod.ts";
import { BATCH_PACKETS_DEFAULT, PacketBatch } from "../packet/mod.ts";
import { type LiveOptions, LiveRing, type LiveStats } from "../live/mod.ts";
import { defaultSensor, defaultTask, type StoreRunOptions, WINDOW_SEC_DEFAULT } from "./ingest.ts";

/** How often the wall clock moves the watermark while packets flow (ms). */
const CLOCK_TICK_MS = 100;

export interface LiveIngestOptions extends StoreRunOptions {
  devices: readonly LiveOptions[];
  /** Checked between batches and clock ticks: when true, capture stops and everything is stored. */
  stopRequested: () => boolean;
  /** The wall clock in seconds (default Date.now). */
  now?: () => number;
  /** Called once every device captures and its source is in the store. */
  onStarted?: () => void;
}

export interface LiveSourceRun {
  device: string;
  sourceId: string;
  packets: number;
  windows: number;
  /** The kernel's counts for the device's ring. */
  capture: LiveStats;
}

interface Running {
  ring: LiveRing;
  engine: Engine;
  writer: WindowWriter;
  sourceNo: number;
  sourceId: string;
}

/** Captures from every device until `stopRequested`; returns what each source took. */
export async function ingestLive(opts: LiveIngestOptions): Promise<LiveSourceRun[]> {
  if (opts.devices.length === 0) throw new TypeError("No capture device given");
  const now = opts.now ?? (() => Date.now() / 1000);
  const windowSec = opts.windowSec ?? WINDOW_SEC_DEFAULT;
  const tasks = opts.tasks ?? [defaultTask()];
  const sketches = opts.sketches ?? [];
  const sensor = opts.sensor ?? defaultSensor();
  const batchPackets = opts.batchPackets ?? BATCH_PACKETS_DEFAULT;
  const { store } = opts;
  const running: Running[] = [];
  const rings: LiveRing[] = [];
  let failure: unknown = null;
  try {
    // Every device opens (or the run fails) before anything is stored.
    for (const d of opts.devices) rings.push(LiveRing.open(d));
    for (const ring of rings) {
      const sourceId = `${ring.device}@${sensor}@${new Date(now() * 1000).toISOString()}`;
      let out: WindowWriter | null = null;
      const live = ring;
      const engine = new Engine({
        windowSec,
        latenessSec: opts.latenessSec,
        tasks,
        sketches,
        app: opts.app,
        flows: opts.flows,
        batchPackets,
        helper: opts.helper ?? HELPER_DEFAULT,
        emptyWindows: true,
        sensor,
        source: ring.device,
        sketchSeed: store.sketchSeed,
        capture: () => live.stats(),
      }, { push: (w) => out!.push(w) });
      const sourceNo = await store.beginSource(
        ring.device,
        windowSec,
        tasks,
        sketches,
        sensor,
        "interface",
      );
      await store.finishSource(sourceNo, {
        sourceId,
        packets: 0,
        warnings: [],
        contentBytes: 0,
        replaces: [],
      });
      out = new WindowWriter(store, sourceNo, opts.writeQueue);
      running.push({ ring, engine, writer: out, sourceNo, sourceId });
    }
    const batch = new PacketBatch(batchPackets);
    opts.onStarted?.();
    let lastTick = -Infinity;
    while (!opts.stopRequested()) {
      let took = 0;
      for (const r of running) {
        if (r.ring.fill(batch) === 0) continue;
        took += batch.length;
        decodeBatch(batch);
        await r.engine.addBatch(batch);
      }
      const t = performance.now();
      if (t - lastTick >= CLOCK_TICK_MS || took === 0) {
        lastTick = t;
        const sec = now();
        for (const r of running) await r.engine.advance(sec);
      }
      if (took === 0) await Promise.race(running.map((r) => r.ring.wait(CLOCK_TICK_MS)));
    }
    // Stopped: the kernel puts nothing more in the rings, what is in them is taken, then every
    // open window is stored, with capture counts that add up with what was read.
    for (const r of running) {
      r.ring.stopIntake();
      while (r.ring.fill(batch) > 0) {
        decodeBatch(batch);
        await r.engine.addBatch(batch);
      }
    }
  } catch (e) {
    failure = e;
  }
  const runs: LiveSourceRun[] = [];
  for (const r of running) {
    try {
      await r.engine.finish();
      await r.writer.close();
      await store.finishSource(r.sourceNo, {
        sourceId: r.sourceId,
        packets: r.engine.packetsIn,
        warnings: [],
        contentBytes: 0,
        replaces: [],
      });
      runs.push({
        device: r.ring.device,
        sourceId: r.sourceId,
        packets: r.engine.packetsIn,
        windows: r.engine.windowsClosed,
        capture: r.ring.stats(),
      });
    } catch (e) {
      failure ??= e;
    } finally {
      r.engine.close();
      r.ring.close();
    }
  }
  // Rings whose source never started (a failure on the way).
  for (const ring of rings) ring.close();
  if (failure !== null) throw failure;
  return runs;
}
