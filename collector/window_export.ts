/**
 * The window export: what the engine hands over when a window closes — immutable, columnar,
 * plain typed arrays and strings (no live tables, totals or app-layer objects), so it can be
 * queued, written by the store beside intake, streamed and forwarded. This module is the one
 * contract between the engine and everything downstream: storage imports these types, never
 * the engine's record layouts.
 *
 * Ownership: once handed over, the engine never touches an export's arrays again.
 *
 * @module
 */

import type { KeyField } from "./key_fields.ts";

/**
 * A window's stable identity: re-running the same input gives the same identity, so a store
 * or a forwarder can replace instead of add (exactly once).
 */
export interface WindowId {
  /** The configured sensor id (default: the host name). */
  sensor: string;
  /** The source: a capture file's content fingerprint, or (live) an interface. */
  source: string;
  /** Window start, whole seconds since the epoch (aligned on `windowSec`). */
  startSec: number;
  windowSec: number;
  /**
   * 0 for the window itself; k ≥ 1 for its k-th late part: packets that came after the window
   * had closed, stored beside it (never merged into it) and counted as late.
   */
  part: number;
}

/** Key columns of rows; one entry per row. -1 stands for NULL in the small-integer columns. */
export interface KeyColumns {
  readonly length: number;
  /** 4 or 6; 0 when the row's key has no addresses (non-IP, or no address field). */
  readonly family: Uint8Array;
  /** Four 32-bit words per row, most significant first (IPv4: word 0 only). */
  readonly src: Uint32Array;
  readonly dst: Uint32Array;
  /** Whether the key holds the source / destination address (else those columns are NULL). */
  readonly hasSrc: boolean;
  readonly hasDst: boolean;
  readonly proto: Int16Array;
  readonly srcPort: Int32Array;
  readonly dstPort: Int32Array;
  readonly vlan: Int32Array;
}

/** An exact task's rows for the window: counters per key. */
export interface TableColumns extends KeyColumns {
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
  /** First and last packet time per key; NaN seconds when no packet had a timestamp. */
  readonly firstSec: Float64Array;
  readonly firstNsec: Int32Array;
  readonly lastSec: Float64Array;
  readonly lastNsec: Int32Array;
  readonly tcpFlags: Uint16Array;
  /** Packets and bytes that found the table full: counted here, in no row. */
  readonly overflowPackets: number;
  readonly overflowBytes: number;
}

/** Connection records (initiator first) that ended since the previous window closed. */
export interface RecordColumns extends KeyColumns {
  /** Start and end times (seconds, NaN when unknown; nanoseconds). */
  readonly startSec: Float64Array;
  readonly startNsec: Int32Array;
  readonly endSec: Float64Array;
  readonly endNsec: Int32Array;
  readonly packetsFwd: Float64Array;
  readonly bytesFwd: Float64Array;
  readonly packetsRev: Float64Array;
  readonly bytesRev: Float64Array;
  readonly tcpFlags: Uint16Array;
  readonly syn: Uint32Array;
  readonly synAck: Uint32Array;
  readonly fin: Uint32Array;
  readonly rst: Uint32Array;
  /** 1 fin, 2 rst, 3 idle, 4 active, 5 end. */
  readonly closeCode: Uint8Array;
}

/** A sketch task's window: its serialised sketch and the keys it reports. */
export interface SketchExport {
  readonly kind: "heavy_hitters" | "count_min" | "distinct" | "spread";
  readonly packets: number;
  /** The distinct count; null for the other kinds. */
  readonly estimate: number | null;
  readonly bytes: Uint8Array;
  /** Reported keys in rank order, with packets and bytes (heavy hitters) or spread. */
  readonly keys: KeyColumns;
  readonly keyPackets: Float64Array;
  readonly keyBytes: Float64Array;
  readonly keySpread: Float64Array;
}

/** Text-keyed counters (DNS names, HTTP requests, user agents): one row per key. */
export interface TextRows {
  readonly texts: readonly string[];
  /** A number that is part of the key (flavour, query type, protocol bits). */
  readonly nums: Int32Array;
  /** `counters` values per row, row after row. */
  readonly values: Float64Array;
  readonly counters: number;
}

/** DNS and HTTP of the window (layouts of the counters: collector/app_layer.ts). */
export interface AppExport {
  readonly dns: TextRows;
  readonly http: TextRows;
  readonly agents: TextRows;
  /** Responses per [protocol * 1000 + code]. */
  readonly status: Float64Array;
  /** DNS responses per [flavour * 16 + RCODE]. */
  readonly rcodes: Float64Array;
  /** Problems and losses by reason name (dns_*, http_lost, dns_tcp_lost, ip_defrag_lost). */
  readonly errors: ReadonlyMap<string, number>;
}

/** Window totals and accounting: packets in = aggregated + every counted loss. */
export interface TotalsExport {
  /** Packets aggregated in this window or late part. */
  readonly packets: number;
  readonly bytes: number;
  readonly capBytes: number;
  readonly ipv4Packets: number;
  readonly ipv6Packets: number;
  readonly nonIpPackets: number;
  /** Of those, packets (and bytes) that came after their window had closed (a late part). */
  readonly latePackets: number;
  readonly lateBytes: number;
  /** Per outer IP protocol number. */
  readonly protoPackets: Float64Array;
  readonly protoBytes: Float64Array;
  /** Decode problems by reason name (only those that happened). */
  readonly decodeErrors: ReadonlyMap<string, number>;
  /** Earliest and latest packet time (NaN seconds when none had one). */
  readonly firstSec: number;
  readonly firstNsec: number;
  readonly lastSec: number;
  readonly lastNsec: number;
}

export interface TaskExport {
  readonly name: string;
  readonly key: readonly KeyField[];
  readonly rows: TableColumns;
}

/** One closed window, whole. */
export interface WindowExport {
  readonly id: WindowId;
  readonly totals: TotalsExport;
  /** Exact tasks in task order (task_no k). */
  readonly tasks: readonly TaskExport[];
  /** Sketch tasks in order (task_no tasks.length + k). */
  readonly sketches: readonly SketchExport[];
  /** DNS and HTTP; null when the app layer is off. */
  readonly app: AppExport | null;
  readonly records: RecordColumns;
  /** Packets of new flows that found the flow tracker full, while this window was newest. */
  readonly trackerOverflowPackets: number;
}

/** Where closed windows go, in the order they close (the store's queue). */
export interface WindowOutput {
  /** Takes the window; may wait (a full queue), must not drop it. */
  push(w: WindowExport): Promise<void>;
}
