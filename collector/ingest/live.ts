/**
 * Live sources into the store: each capture device is a source of its own (kind `interface`),
 * read from its ring (collector/live/) into the same engine and store path as files, with the
 * wall clock as the watermark: windows close on time on a quiet link, and every window the clock
 * passes is stored (one without packets with zero totals).
 *
 * A device that fails while capturing (taken down: the socket reports ENETDOWN; deleted: its
 * index is gone) is reported, and one that is gone is opened again with a growing back-off
 * (1 s doubling to 60 s) into the same source, while the others go on.
 *
 * A live source takes its identity when it starts (device, sensor and start time), so the windows
 * a killed daemon committed stay (a file source's identity is known only at its end, which is why
 * an unfinished file source is removed instead).
 *
 * @module
 */

import {
  Engine,
  HELPER_DEFAULT,
  type SketchSpec,
  type TaskSpec,
  WindowWriter,
  type WriteRetry,
} from "../engine/mod.ts";
import { decodeBatch } from "../decode/mod.ts";
import { addCounts, type CaptureCounts, NO_CAPTURE } from "../export/mod.ts";
import { BATCH_PACKETS_DEFAULT, PacketBatch } from "../packet/mod.ts";
import { type LiveOptions, LiveRing, type LiveStats } from "../live/mod.ts";
import { defaultSensor, defaultTask, type StoreRunOptions, WINDOW_SEC_DEFAULT } from "./ingest.ts";
import { CollectorStatus, type DeviceStatus, newDeviceStatus } from "./status.ts";

/** How often the wall clock moves the watermark while packets flow (ms). */
const CLOCK_TICK_MS = 100;
/** A failed device is opened again after this, doubling up to the most (ms). */
export const RETRY_FIRST_MS = 1000;
export const RETRY_MAX_MS = 60_000;
/** Store failures that pass when an operator makes room: a live source waits them out. */
const DISK_FULL = /No space left on device|Disk quota exceeded/i;
/** How often each device's capture counts are logged (info). */
const COUNTS_LOG_MS = 60_000;

export interface LiveIngestOptions extends StoreRunOptions {
  devices: readonly LiveOptions[];
  /** Checked between batches and clock ticks: when true, capture stops and everything is stored. */
  stopRequested: () => boolean;
  /** The wall clock in seconds (default Date.now). */
  now?: () => number;
  /** Called once every device captures and its source is in the store. */
  onStarted?: () => void;
  /** Kept up to date for operators (default: one of its own). */
  status?: CollectorStatus;
  /** Told when a device fails, comes back, or is retried (for the log). */
  onEvent?: (
    level: "info" | "warn" | "error",
    msg: string,
    fields: Record<string, unknown>,
  ) => void;
  /**
   * Asked at every clock tick: new capture filters by device (undefined: no change; "": none).
   * A filter that does not compile is reported and the old one stays.
   */
  filterChange?: () => ReadonlyMap<string, string> | undefined;
  /**
   * Asked at every clock tick: new tasks for every device (undefined: no change). They take
   * over from the next window on: the current window is stored whole with the old tasks, its
   * source ends (and the connections it followed, as at a stop), and a new source begins.
   */
  tasksChange?: () => { tasks: readonly TaskSpec[]; sketches: readonly SketchSpec[] } | undefined;
}

export interface LiveSourceRun {
  device: string;
  sourceId: string;
  packets: number;
  windows: number;
  /** The kernel's counts for the device (every ring it had). */
  capture: LiveStats;
}

/** What a device's current source runs: its engine, writer and store source. */
interface Source {
  engine: Engine;
  writer: WindowWriter;
  sourceNo: number;
  sourceId: string;
}

interface Running extends Source {
  opts: LiveOptions;
  /** null while the device is gone (then retryAtMs says when to try again). */
  ring: LiveRing | null;
  /** The counts of the rings the device had before this one. */
  before: LiveStats;
  retryAtMs: number;
  backoffMs: number;
  status: DeviceStatus;
  /** Tasks that take over at window `atSec` (a task change), or null. */
  pending: { tasks: readonly TaskSpec[]; sketches: readonly SketchSpec[]; atSec: number } | null;
  /** Packets, bytes and windows of the device's earlier sources (before task changes). */
  packetsBefore: number;
  bytesBefore: number;
  windowsBefore: number;
  /** What the device's socket reported while the loop waited (handled by the loop), or null. */
  socketError: string | null;
  /** When the counts were last logged, and what they were. */
  loggedMs: number;
  logged: LiveStats;
  loggedPackets: number;
}

/** The device's counts over every ring it had. */
function countsOf(r: Running): CaptureCounts {
  return r.ring === null ? r.before : addCounts(r.before, r.ring.stats());
}

/** Whether the device is administratively up (IFF_UP in /sys/class/net/DEV/flags). */
function deviceUp(device: string): boolean {
  try {
    return (Number(Deno.readTextFileSync(`/sys/class/net/${device}/flags`).trim()) & 1) === 1;
  } catch {
    return false;
  }
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
  const status = opts.status ?? new CollectorStatus(windowSec, opts.latenessSec ?? 2);
  const event = opts.onEvent ?? (() => {});
  const { store } = opts;
  const running: Running[] = [];
  const rings: LiveRing[] = [];
  let failure: unknown = null;
  status.queuedWindows = () => running.reduce((n, r) => n + r.writer.backlog, 0);
  // A full disk does not stop capture: windows wait in the queue and are written again.
  const storeRetry: WriteRetry = {
    when: (e) => e instanceof Error && DISK_FULL.test(e.message),
    onRetry: (e, delayMs) => {
      if (e === null) {
        status.storeError = null;
        event("info", "store writes again", {});
        return;
      }
      status.storeError = (e as Error).message.split("\n")[0]!;
      status.storeWriteFailures++;
      event("error", "store write failed, retrying", {
        error: status.storeError,
        retryInSec: delayMs / 1000,
      });
    },
  };
  /** Stores the source's open windows and ends it in the store. */
  const endSource = async (r: Source) => {
    await r.engine.finish();
    await r.writer.close();
    await store.finishSource(r.sourceNo, {
      sourceId: r.sourceId,
      packets: r.engine.packetsIn,
      warnings: [],
      contentBytes: 0,
      replaces: [],
    });
  };
  try {
    // Every device opens (or the run fails) before anything is stored.
    for (const d of opts.devices) rings.push(LiveRing.open(d));
    /** Begins the store source of `device` (ring and counts in `r`) with these tasks. */
    const begin = async (
      r: () => Running,
      device: string,
      taskList: readonly TaskSpec[],
      sketchList: readonly SketchSpec[],
      startSec: number,
      captureStart: CaptureCounts | undefined,
    ): Promise<Source> => {
      const sourceId = `${device}@${sensor}@${new Date(startSec * 1000).toISOString()}`;
      let out: WindowWriter | null = null;
      const engine = new Engine({
        windowSec,
        latenessSec: opts.latenessSec,
        tasks: taskList,
        sketches: sketchList,
        app: opts.app,
        flows: opts.flows,
        batchPackets,
        helper: opts.helper ?? HELPER_DEFAULT,
        emptyWindows: true,
        sensor,
        source: device,
        sketchSeed: store.sketchSeed,
        capture: () => countsOf(r()),
        captureStart,
      }, { push: (w) => out!.push(w) });
      const sourceNo = await store.beginSource(
        device,
        windowSec,
        [...taskList],
        [...sketchList],
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
      out = new WindowWriter(
        store,
        sourceNo,
        opts.writeQueue,
        (w, ms) => status.windowStored(w, ms),
        storeRetry,
      );
      return { engine, writer: out, sourceNo, sourceId };
    };
    for (let k = 0; k < rings.length; k++) {
      const ring = rings[k]!;
      let self: Running | null = null;
      const src = await begin(() => self!, ring.device, tasks, sketches, now(), undefined);
      const st = newDeviceStatus(ring.device, false, src.sourceId);

      status.devices.set(ring.device, st);
      self = {
        ...src,
        opts: opts.devices[k]!,
        ring,
        before: NO_CAPTURE,
        retryAtMs: 0,
        backoffMs: RETRY_FIRST_MS,
        status: st,
        pending: null,
        packetsBefore: 0,
        bytesBefore: 0,
        windowsBefore: 0,
        socketError: null,
        loggedMs: Date.now(),
        logged: NO_CAPTURE,
        loggedPackets: 0,
      };
      running.push(self);
    }
    /**
     * The window `r.pending.atSec` has begun: what the ring holds from before it goes to the
     * current source, which then ends (its last window stored whole); the new tasks run in a
     * source of their own from that window on, their capture counts going on from the old's.
     */
    const switchTasks = async (r: Running, batch: PacketBatch) => {
      const next = r.pending!;
      r.pending = null;
      if (r.ring !== null) await drain(r, batch, next.atSec);
      await endSource(r);
      r.packetsBefore += r.engine.packetsIn;
      r.bytesBefore += r.engine.bytesIn;
      r.windowsBefore += r.engine.windowsClosed;
      const mark = r.engine.captureMark;
      r.engine.close();
      const src = await begin(() => r, r.opts.device, next.tasks, next.sketches, next.atSec, mark);
      Object.assign(r, src);
      r.status.sourceId = src.sourceId;
      event("info", "tasks changed", {
        device: r.opts.device,
        source: src.sourceId,
        tasks: [...next.tasks, ...next.sketches].map((t) => t.name),
      });
    };
    const batch = new PacketBatch(batchPackets);
    opts.onStarted?.();
    let lastTick = -Infinity;
    while (!opts.stopRequested()) {
      let took = 0;
      for (const r of running) {
        if (r.ring === null || r.ring.fill(batch, r.pending?.atSec) === 0) continue;
        took += batch.length;
        decodeBatch(batch);
        await r.engine.addBatch(batch);
      }
      const t = performance.now();
      if (t - lastTick >= CLOCK_TICK_MS || took === 0) {
        lastTick = t;
        const sec = now();
        const filters = opts.filterChange?.();
        const change = opts.tasksChange?.();
        for (const r of running) {
          if (change !== undefined) {
            // From the next window on (the current one is stored whole with the old tasks).
            r.pending = { ...change, atSec: (Math.floor(sec / windowSec) + 1) * windowSec };
          }
          if (r.pending !== null && sec >= r.pending.atSec) {
            // The old source's clock stops before the new window (it must not open it).
            await r.engine.advance(r.pending.atSec - windowSec / 2);
            await switchTasks(r, batch);
          }
          await r.engine.advance(sec);
          const filter = filters?.get(r.opts.device);
          if (filter !== undefined) setFilter(r, filter, event);
          tend(r, event);
        }
      }
      if (took === 0) {
        const live = running.filter((r) => r.ring !== null);
        if (live.length === 0) await new Promise((ok) => setTimeout(ok, CLOCK_TICK_MS));
        else {
          // Until any device has frames (not all: a quiet one must not hold a busy one back).
          await Promise.race(
            live.map((r) =>
              r.ring!.wait(CLOCK_TICK_MS).then((e) => void (e !== null && (r.socketError = e)))
            ),
          );
        }
        for (const r of running) {
          const e = r.socketError;
          if (e === null || r.ring === null) continue;
          r.socketError = null;
          await deviceError(r, e, batch, event);
        }
      }
    }
    // Stopped: the kernel puts nothing more in the rings, what is in them is taken, then every
    // open window is stored, with capture counts that add up with what was read.
    for (const r of running) {
      if (r.ring === null) continue;
      r.ring.stopIntake();
      // A task change not yet due is dropped: the current source takes what is left.
      r.pending = null;
      await drain(r, batch);
    }
  } catch (e) {
    failure = e;
  }
  const runs: LiveSourceRun[] = [];
  for (const r of running) {
    try {
      await endSource(r);
      const capture = countsOf(r);
      r.status.state = "stopped";
      r.status.capture = capture;
      r.status.packets = r.packetsBefore + r.engine.packetsIn;
      runs.push({
        device: r.opts.device,
        sourceId: r.sourceId,
        packets: r.packetsBefore + r.engine.packetsIn,
        windows: r.windowsBefore + r.engine.windowsClosed,
        capture,
      });
    } catch (e) {
      failure ??= e;
    } finally {
      r.engine.close();
      r.ring?.close();
    }
  }
  // Rings whose source never started (a failure on the way).
  for (const ring of rings) ring.close();
  if (failure !== null) throw failure;
  return runs;
}

/** Takes what is left in the device's ring (stamped before `beforeSec`). */
async function drain(r: Running, batch: PacketBatch, beforeSec = Infinity): Promise<void> {
  while (r.ring!.fill(batch, beforeSec) > 0) {
    decodeBatch(batch);
    await r.engine.addBatch(batch);
  }
}

type EventFn = NonNullable<LiveIngestOptions["onEvent"]>;

/**
 * The socket of `r` reported `error`: a device that is gone is given up (its ring drained and
 * closed, opened again later); one that is only down keeps its socket (the kernel hooks it in
 * again when the device comes up).
 */
async function deviceError(r: Running, error: string, batch: PacketBatch, event: EventFn) {
  const ring = r.ring!;
  if (ring.deviceAlive()) {
    if (r.status.state !== "down") {
      r.status.state = "down", r.status.error = error;
      event("warn", "capture device down", { device: ring.device, error });
    }
    return;
  }
  await drain(r, batch);
  r.before = addCounts(r.before, ring.stats());
  ring.close();
  r.ring = null;
  r.status.state = "failed", r.status.error = `${error} (the device is gone)`;
  r.retryAtMs = Date.now() + r.backoffMs;
  event("error", "capture device gone", {
    device: ring.device,
    error,
    retryInSec: r.backoffMs / 1000,
  });
}

/** At a clock tick: counts for operators, a device down coming up, a gone one retried. */
function tend(r: Running, event: EventFn): void {
  const st = r.status;
  st.capture = countsOf(r);
  st.packets = r.packetsBefore + r.engine.packetsIn;
  st.bytes = r.bytesBefore + r.engine.bytesIn;
  const nowMs = Date.now();
  if (nowMs - r.loggedMs >= COUNTS_LOG_MS) {
    // The counts in the log too, as changes since the line before.
    event("info", "capture counts", {
      device: r.opts.device,
      seconds: Math.round((nowMs - r.loggedMs) / 1000),
      ...addCounts(st.capture, r.logged, -1),
      read: st.packets - r.loggedPackets,
    });
    r.loggedMs = nowMs, r.logged = st.capture, r.loggedPackets = st.packets;
  }
  if (r.ring !== null) {
    if (st.state === "down" && deviceUp(r.opts.device)) {
      st.state = "capturing", st.error = null;
      event("info", "capture device up again", { device: r.opts.device });
    }
    return;
  }
  if (Date.now() < r.retryAtMs) return;
  try {
    r.ring = LiveRing.open(r.opts);
    st.state = "capturing", st.error = null, st.reopens++;
    r.backoffMs = RETRY_FIRST_MS;
    event("info", "capture device back", { device: r.opts.device, reopens: st.reopens });
  } catch (e) {
    st.error = e instanceof Error ? e.message : String(e);
    r.backoffMs = Math.min(2 * r.backoffMs, RETRY_MAX_MS);
    r.retryAtMs = Date.now() + r.backoffMs;
    event("warn", "capture device still unavailable", {
      device: r.opts.device,
      error: st.error,
      retryInSec: r.backoffMs / 1000,
    });
  }
}

/** A new capture filter for the device (kept for when it is opened again). */
function setFilter(r: Running, filter: string, event: EventFn): void {
  try {
    r.ring?.setFilter(filter);
    r.opts = { ...r.opts, filter };
    event("info", "capture filter changed", { device: r.opts.device, filter });
  } catch (e) {
    event("error", "capture filter refused, the old one stays", {
      device: r.opts.device,
      filter,
      error: e instanceof Error ? e.message : String(e),
    });
  }
}
