/**
 * What the running collector has done so far, kept as plain counters for operators: the
 * `/metrics`, `/readyz` routes and the log read it. Updated by live ingest (capture state and
 * kernel counts per device) and by the window writers (each stored window's totals), never on
 * the packet path.
 *
 * @module
 */

import { type CaptureCounts, NO_CAPTURE, type WindowExport } from "../export/mod.ts";

/** Upper bounds (seconds) of the window flush histogram's buckets. */
export const FLUSH_BUCKETS_SEC = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Upper bounds (seconds) of the export insert histogram's buckets. */
export const INSERT_BUCKETS_SEC = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Counts `sec` in the histogram `counts` (one count per bucket of `bounds`, +Inf last): the
 * first bucket whose upper bound it does not exceed.
 */
export function observe(bounds: readonly number[], counts: Float64Array, sec: number): void {
  let b = 0;
  while (b < bounds.length && sec > bounds[b]!) b++;
  counts[b]!++;
}

/** A sink the daemon forwards to (forward/): kept up to date by its forwarder. */
export interface SinkStatus {
  readonly sink: string;
  /** The latest attempt's error while the sink fails, else null. */
  error: string | null;
  /** Windows the sink took, found there already (sent before), and in failed attempts. */
  inserted: number;
  present: number;
  failed: number;
  /** Windows waiting for the sink, and when the oldest of them was stored (NaN: none). */
  backlog: number;
  oldestPendingSec: number;
  /** Bytes of their rows in the outbox (disk the outbox holds). */
  backlogBytes: number;
  /** Window send durations: counts per INSERT_BUCKETS_SEC bucket (+Inf last), and their sum. */
  readonly insertBuckets: Float64Array;
  insertSumSec: number;
}

export function newSinkStatus(sink: string): SinkStatus {
  return {
    sink,
    error: null,
    inserted: 0,
    present: 0,
    failed: 0,
    backlog: 0,
    oldestPendingSec: NaN,
    backlogBytes: 0,
    insertBuckets: new Float64Array(INSERT_BUCKETS_SEC.length + 1),
    insertSumSec: 0,
  };
}

export type DeviceState = "capturing" | "down" | "failed" | "stopped";

export interface DeviceStatus {
  readonly device: string;
  /** A capture file fed through the daemon (`run --replay`): done when stopped. */
  readonly replay: boolean;
  /** The device's current source (a task change begins another). */
  sourceId: string;
  state: DeviceState;
  /** What went wrong (state down or failed), else null. */
  error: string | null;
  /** Cumulative kernel counts (over every ring the device had). */
  capture: CaptureCounts;
  /** Packets read from the ring into the engine. */
  packets: number;
  /** Σ frame lengths of those packets. */
  bytes: number;
  /** Connections the tracker followed at the latest window close. */
  flowsActive: number;
  /** Times the device was opened again after it failed. */
  reopens: number;
}

/** A device's status as it starts capturing. */
export function newDeviceStatus(device: string, replay: boolean, sourceId: string): DeviceStatus {
  return {
    device,
    replay,
    sourceId,
    state: "capturing",
    error: null,
    capture: NO_CAPTURE,
    packets: 0,
    bytes: 0,
    flowsActive: 0,
    reopens: 0,
  };
}

export class CollectorStatus {
  readonly startedMs = Date.now();
  readonly devices = new Map<string, DeviceStatus>();
  /** Sinks forwarded to, by name. */
  readonly sinks = new Map<string, SinkStatus>();
  /** Over stored windows: packets, bytes, late packets, tracker overflow. */
  packets = 0;
  bytes = 0;
  latePackets = 0;
  trackerOverflowPackets = 0;
  windowsStored = 0;
  readonly decodeErrors = new Map<string, number>();
  /** Packets that found an exact task's table full, by task name. */
  readonly tableOverflowPackets = new Map<string, number>();
  /** End (seconds) of the latest window stored, and when (wall clock ms) that was. */
  lastWindowEndSec = NaN;
  lastStoredMs = NaN;
  /** Window flush (hand-over → commit) histogram: counts per FLUSH_BUCKETS_SEC bucket, +Inf last. */
  readonly flushBuckets = new Float64Array(FLUSH_BUCKETS_SEC.length + 1);
  flushSumSec = 0;
  /** The store's write error while writes are being retried (a full disk), else null. */
  storeError: string | null = null;
  storeWriteFailures = 0;
  /** Windows closed and not yet stored, over every writer. */
  queuedWindows: () => number = () => 0;

  constructor(readonly windowSec: number, readonly latenessSec: number) {}

  /** A window was stored, `flushMs` after its close. */
  windowStored(w: WindowExport, flushMs: number): void {
    const t = w.totals;
    this.packets += t.packets;
    this.bytes += t.bytes;
    this.latePackets += t.latePackets;
    this.trackerOverflowPackets += w.trackerOverflowPackets;
    for (const [reason, n] of t.decodeErrors) {
      this.decodeErrors.set(reason, (this.decodeErrors.get(reason) ?? 0) + n);
    }
    for (const task of w.tasks) {
      const n = this.tableOverflowPackets.get(task.name) ?? 0;
      this.tableOverflowPackets.set(task.name, n + task.rows.overflowPackets);
    }
    const d = this.devices.get(w.id.source);
    if (d !== undefined && w.id.part === 0) d.flowsActive = w.flowsActive;
    this.windowsStored++;
    const end = w.id.startSec + w.id.windowSec;
    if (!(end <= this.lastWindowEndSec)) this.lastWindowEndSec = end;
    this.lastStoredMs = Date.now();
    const sec = flushMs / 1000;
    observe(FLUSH_BUCKETS_SEC, this.flushBuckets, sec);
    this.flushSumSec += sec;
  }

  /**
   * Ready: the store writes, every device captures and a window was stored within two window
   * lengths (plus the lateness) — counted from the start until the first one is. Returns why
   * not, or null.
   */
  notReady(nowMs = Date.now()): string | null {
    if (this.storeError !== null) return `the store cannot write: ${this.storeError}`;
    for (const d of this.devices.values()) {
      if (d.state !== "capturing" && !(d.replay && d.state === "stopped")) {
        return `${d.device} is ${d.state}${d.error === null ? "" : `: ${d.error}`}`;
      }
    }
    for (const k of this.sinks.values()) {
      if (k.error !== null) return `sink ${k.sink} is down: ${k.error}`;
    }
    const since = this.lastStoredMs === this.lastStoredMs ? this.lastStoredMs : this.startedMs;
    const limitMs = (2 * this.windowSec + this.latenessSec) * 1000 + 1000;
    if (nowMs - since > limitMs) {
      return `no window stored for ${Math.round((nowMs - since) / 1000)} s`;
    }
    return null;
  }
}
