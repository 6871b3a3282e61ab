/**
 * The collector's counters in the Prometheus text format (version 0.0.4): `netspectra_` names
 * in base units (seconds, bytes), `_total` on counters only, the capture device as the `device`
 * label. Every figure comes from CollectorStatus; nothing here counts.
 *
 * @module
 */

import type { ViewCounts } from "../query/mod.ts";
import {
  type CollectorStatus,
  type DeviceStatus,
  FLUSH_BUCKETS_SEC,
  INSERT_BUCKETS_SEC,
  type SinkStatus,
} from "../collector/ingest/mod.ts";
import type { LiveCounters } from "./live.ts";
import { VERSION } from "../collector/version.ts";

/** A label value as the format wants it: backslash, double quote and newline escaped. */
export function labelValue(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

type Labels = Record<string, string>;

class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: "counter" | "gauge" | "histogram", help: string): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, value: number, labels: Labels = {}): this {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${labelValue(v)}"`).join(",");
    const text = value === Infinity ? "+Inf" : value !== value ? "NaN" : String(value);
    this.lines.push(`${name}${l === "" ? "" : `{${l}}`} ${text}`);
    return this;
  }

  /** A histogram's samples: cumulative buckets of `bounds` (+Inf last), sum and count. */
  histogram(
    name: string,
    bounds: readonly number[],
    counts: Float64Array,
    sum: number,
    labels: Labels = {},
  ): this {
    let cum = 0;
    for (let b = 0; b < bounds.length; b++) {
      cum += counts[b]!;
      this.sample(`${name}_bucket`, cum, { ...labels, le: String(bounds[b]) });
    }
    cum += counts[bounds.length]!;
    return this.sample(`${name}_bucket`, cum, { ...labels, le: "+Inf" })
      .sample(`${name}_sum`, sum, labels)
      .sample(`${name}_count`, cum, labels);
  }

  /** A family of one unlabelled sample. */
  single(name: string, type: "counter" | "gauge", help: string, value: number): this {
    return this.family(name, type, help).sample(name, value);
  }

  text(): string {
    return this.lines.join("\n") + "\n";
  }
}

/** The metrics page for `status` as of now. */
export function renderMetrics(
  status: CollectorStatus,
  live: LiveCounters | null = null,
  views: ViewCounts | null = null,
): string {
  const e = new Exposition();
  const devices = [...status.devices.values()];
  e.family("netspectra_build_info", "gauge", "Always 1; the labels name the build.")
    .sample("netspectra_build_info", 1, { version: VERSION, deno: Deno.version.deno });
  e.single(
    "netspectra_start_time_seconds",
    "gauge",
    "When the collector started (Unix time).",
    status.startedMs / 1000,
  );
  /** A family with one sample per capture device. */
  const perDevice = (
    name: string,
    type: "counter" | "gauge",
    help: string,
    value: (d: DeviceStatus) => number,
  ) => {
    e.family(name, type, help);
    for (const d of devices) e.sample(name, value(d), { device: d.device });
  };
  perDevice(
    "netspectra_capture_up",
    "gauge",
    "1 while the device captures, 0 while it is down or gone (being retried).",
    (d) => d.state === "capturing" ? 1 : 0,
  );
  perDevice(
    "netspectra_capture_packets_received_total",
    "counter",
    "Frames the capture filter passed (dropped and skipped ones included), per the kernel.",
    (d) => d.capture.received,
  );
  e.family(
    "netspectra_capture_packets_dropped_total",
    "counter",
    "Frames lost before they were read: stage kernel (the capture buffer was full) or " +
      "interface (the device's own receive drops, for all its traffic).",
  );
  for (const d of devices) {
    e.sample("netspectra_capture_packets_dropped_total", d.capture.dropped, {
      device: d.device,
      stage: "kernel",
    });
    e.sample("netspectra_capture_packets_dropped_total", d.capture.ifDropped, {
      device: d.device,
      stage: "interface",
    });
  }
  perDevice(
    "netspectra_capture_packets_skipped_total",
    "counter",
    "Frames passed over on purpose (the sent copy of each frame on lo).",
    (d) => d.capture.skipped,
  );
  perDevice(
    "netspectra_capture_packets_read_total",
    "counter",
    "Frames read into the engine.",
    (d) => d.packets,
  );
  perDevice(
    "netspectra_capture_reopens_total",
    "counter",
    "Times a device that had gone was opened again.",
    (d) => d.reopens,
  );
  e.single("netspectra_packets_total", "counter", "Packets in stored windows.", status.packets);
  e.single(
    "netspectra_bytes_total",
    "counter",
    "Bytes (frame lengths) in stored windows.",
    status.bytes,
  );
  e.single(
    "netspectra_late_packets_total",
    "counter",
    "Packets that came after their window had closed (stored in a late part).",
    status.latePackets,
  );
  e.family(
    "netspectra_decode_errors_total",
    "counter",
    "Packets with a decode problem, by reason.",
  );
  for (const [reason, n] of [...status.decodeErrors].sort()) {
    e.sample("netspectra_decode_errors_total", n, { reason });
  }
  e.family(
    "netspectra_flow_table_overflow_packets_total",
    "counter",
    "Packets that found an exact task's table full (counted, in no row), by task.",
  );
  for (const [task, n] of status.tableOverflowPackets) {
    e.sample("netspectra_flow_table_overflow_packets_total", n, { task });
  }
  e.single(
    "netspectra_flow_tracker_overflow_packets_total",
    "counter",
    "Packets of new connections that found the flow tracker full.",
    status.trackerOverflowPackets,
  );
  perDevice(
    "netspectra_flows_active",
    "gauge",
    "Connections the flow tracker follows, as of the latest window close.",
    (d) => d.flowsActive,
  );
  e.single(
    "netspectra_windows_stored_total",
    "counter",
    "Windows (and late parts) stored.",
    status.windowsStored,
  );
  e.family(
    "netspectra_window_close_duration_seconds",
    "histogram",
    "From a window's close to its commit in the store (the queue's wait included).",
  );
  e.histogram(
    "netspectra_window_close_duration_seconds",
    FLUSH_BUCKETS_SEC,
    status.flushBuckets,
    status.flushSumSec,
  );
  e.single(
    "netspectra_window_last_closed_timestamp_seconds",
    "gauge",
    "End of the latest window stored (Unix time; NaN before the first).",
    status.lastWindowEndSec,
  );
  e.single(
    "netspectra_store_write_failures_total",
    "counter",
    "Window writes that failed and were tried again (a full disk).",
    status.storeWriteFailures,
  );
  e.single(
    "netspectra_store_write_queue_windows",
    "gauge",
    "Closed windows waiting to be stored.",
    status.queuedWindows(),
  );
  if (status.sinks.size > 0) exportMetrics(e, [...status.sinks.values()]);
  if (live !== null) {
    e.single("netspectra_live_clients", "gauge", "Clients reading the live stream.", live.clients);
    e.single(
      "netspectra_live_window_events_total",
      "counter",
      "Window events read from the store for the live stream.",
      live.windowEvents,
    );
    e.single(
      "netspectra_live_ticks_replaced_total",
      "counter",
      "Ticks a client had not yet been sent when the next replaced them (slow clients).",
      live.ticksReplaced,
    );
    e.single(
      "netspectra_live_resets_total",
      "counter",
      "Clients sent reset and closed because their queue filled (too slow for the stream).",
      live.resets,
    );
  }
  if (views !== null) {
    e.family(
      "netspectra_api_view_questions_total",
      "counter",
      "Questions a range view holds, by how they were answered: from the view as it was, " +
        "moved by a few windows, built anew, or computed (declined: the view would be too big).",
    );
    for (const result of ["kept", "moved", "built", "declined"] as const) {
      e.sample("netspectra_api_view_questions_total", views[result], { result });
    }
  }
  return e.text();
}

/** Forwarding, per sink: windows by result, the backlog, its oldest, send durations. */
function exportMetrics(e: Exposition, sinks: SinkStatus[]): void {
  e.family(
    "netspectra_export_windows_total",
    "counter",
    "Windows sent to a sink (inserted), found there already (present), and in failed attempts.",
  );
  for (const k of sinks) {
    e.sample("netspectra_export_windows_total", k.inserted, { sink: k.sink, result: "inserted" })
      .sample("netspectra_export_windows_total", k.present, { sink: k.sink, result: "present" })
      .sample("netspectra_export_windows_total", k.failed, { sink: k.sink, result: "failed" });
  }
  e.family("netspectra_export_backlog_windows", "gauge", "Windows waiting in the outbox.");
  for (const k of sinks) e.sample("netspectra_export_backlog_windows", k.backlog, { sink: k.sink });
  e.family(
    "netspectra_export_backlog_bytes",
    "gauge",
    "Bytes of the rows waiting in the outbox: disk it holds (retention never drops them).",
  );
  for (const k of sinks) {
    e.sample("netspectra_export_backlog_bytes", k.backlogBytes, { sink: k.sink });
  }
  e.family(
    "netspectra_export_oldest_pending_age_seconds",
    "gauge",
    "Age of the oldest window waiting in the outbox (0: none).",
  );
  const now = Date.now() / 1000;
  for (const k of sinks) {
    const age = k.oldestPendingSec === k.oldestPendingSec
      ? Math.max(0, now - k.oldestPendingSec)
      : 0;
    e.sample("netspectra_export_oldest_pending_age_seconds", age, { sink: k.sink });
  }
  e.family(
    "netspectra_export_sink_up",
    "gauge",
    "1 while the sink takes windows, 0 while it fails.",
  );
  for (const k of sinks) {
    e.sample("netspectra_export_sink_up", k.error === null ? 1 : 0, { sink: k.sink });
  }
  e.family(
    "netspectra_export_insert_duration_seconds",
    "histogram",
    "Time to send one window to a sink (every table, the check of what it holds included).",
  );
  for (const k of sinks) {
    e.histogram(
      "netspectra_export_insert_duration_seconds",
      INSERT_BUCKETS_SEC,
      k.insertBuckets,
      k.insertSumSec,
      { sink: k.sink },
    );
  }
}
