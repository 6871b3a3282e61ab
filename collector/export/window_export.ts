/**
 * The window export: what the engine hands over when a window closes — immutable, columnar,
 * plain typed arrays and strings (no live tables, totals or app-layer objects), so it can be
 * queued, written by the store beside intake, streamed and forwarded. This module is the one
 * contract between the engine and everything downstream: storage imports these types, never
 * the engine's record layouts.
 *
 * Ownership: once handed over, the engine never touches an export's arrays again, and no
 * two exports share an array buffer; whoever consumes an export last frees its row buffers at
 * once with {@link releaseExport}.
 *
 * @module
 */

import type { KeyField } from "../packet/mod.ts";

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

/**
 * The fixed-width key every engine record starts with: 10 32-bit words — source address (4,
 * most significant first; IPv4 in word 0), destination address (4), `srcPort << 16 | dstPort`,
 * meta (`proto | family << 8 | ports bit 11 | VLAN bit 12 | vlan << 16`). Flow records keep the
 * two sides of a connection in canonical order (A, B) instead; see RECORD_ROW.
 */
export const KEY = {
  WORDS: 10,
  SRC: 0,
  DST: 4,
  PORTS: 8,
  META: 9,
  META_PORTS_PRESENT: 1 << 11,
  META_VLAN_PRESENT: 1 << 12,
} as const;

/**
 * An exact task's row: 20 words (80 bytes) — the key (KEY), then the high 16 bits of the first
 * (low half) and last (high half) seconds, packets and bytes as 64-bit (lo, hi) word pairs,
 * first and last seconds (low 32 bits) and nanoseconds (first nanoseconds -1: no timestamp),
 * the TCP flag union. One row per key; the exact table keeps its keys in this layout, so a
 * window's rows are handed over as they are, without a copy.
 */
export const TABLE_ROW = {
  WORDS: 20,
  SEC_HI: 10,
  PKTS_LO: 11,
  PKTS_HI: 12,
  BYTES_LO: 13,
  BYTES_HI: 14,
  FIRST_SEC: 15,
  FIRST_NSEC: 16,
  LAST_SEC: 17,
  LAST_NSEC: 18,
  TCP_FLAGS: 19,
  /** FIRST_NSEC of a key no timestamped packet has reached. */
  NO_TIME: -1,
} as const;

/**
 * A connection record: 32 words — the key with sides A and B (A is the lower address/port), then
 * state bits (INITIATOR_B: side B initiated), the TCP flag union, SYN / SYN-ACK / FIN / RST frame
 * counts, start and last seconds and nanoseconds, and from word 24 four float64 counters: packets
 * A→B, B→A, bytes A→B, B→A (as doubles D_* of a Float64Array over the same buffer); REASON: 1 fin,
 * 2 rst, 3 idle, 4 active, 5 end.
 */
export const RECORD_ROW = {
  WORDS: 32,
  STATE: 10,
  STATE_INITIATOR_B: 8,
  FLAGS: 11,
  SYN: 12,
  SYNACK: 13,
  FIN: 14,
  RST: 15,
  START_SEC: 16,
  START_NSEC: 17,
  LAST_SEC: 18,
  LAST_NSEC: 19,
  REASON: 22,
  D_PKTS_AB: 12,
  D_PKTS_BA: 13,
  D_BYTES_AB: 14,
  D_BYTES_BA: 15,
} as const;

/** Which key fields a task keeps (the others are zero in its rows). */
export interface KeyMask {
  srcIp: boolean;
  dstIp: boolean;
  proto: boolean;
  srcPort: boolean;
  dstPort: boolean;
  vlan: boolean;
}

/** An exact task's rows for the window: `length` rows of TABLE_ROW words. */
export interface TableRows {
  readonly length: number;
  readonly words: Int32Array;
  readonly mask: KeyMask;
  /** Packets and bytes that found the table full: counted here, in no row. */
  readonly overflowPackets: number;
  readonly overflowBytes: number;
}

/** Connection records that ended since the previous window closed: RECORD_ROW words each. */
export interface RecordRows {
  readonly length: number;
  readonly words: Int32Array;
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

/**
 * Text-keyed counters (DNS names, HTTP requests, user agents): `length` rows. A row's text is
 * `arena[offsets[r], offsets[r] + lengths[r])`, one byte a character (latin1): strings are made
 * by whoever reads the rows, never on the packet path or at the window's close.
 */
export interface TextRows {
  readonly length: number;
  readonly arena: Uint8Array;
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
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
  readonly rows: TableRows;
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
  readonly records: RecordRows;
  /** Packets of new flows that found the flow tracker full, while this window was newest. */
  readonly trackerOverflowPackets: number;
  /** Connections the flow tracker follows as the window closes (0 with records off). */
  readonly flowsActive: number;
  /** A live source's capture counts at this window's close (null: a file, or a late part). */
  readonly capture: CaptureCounts | null;
}

/**
 * What a capture device counted (cumulative, or per window as the change since the previous
 * window closed). The kernel counts a frame when it arrives, not by its time stamp, so a
 * window's share is what arrived between two closes; over a source's run they add up exactly:
 * received = packets stored + dropped + skipped.
 */
export interface CaptureCounts {
  /** Frames that passed the capture filter (dropped and skipped ones included). */
  readonly received: number;
  /** Of those, lost because the capture buffer was full. */
  readonly dropped: number;
  /** Of those, passed over on purpose (the sent copy of each frame on lo). */
  readonly skipped: number;
  /** Frames the interface dropped before capture (for the whole interface). */
  readonly ifDropped: number;
}

export const NO_CAPTURE: CaptureCounts = { received: 0, dropped: 0, skipped: 0, ifDropped: 0 };

/** `a` + `b`, or with `sign` -1 `a` − `b` (the counts since `b`). */
export function addCounts(a: CaptureCounts, b: CaptureCounts, sign: 1 | -1 = 1): CaptureCounts {
  return {
    received: a.received + sign * b.received,
    dropped: a.dropped + sign * b.dropped,
    skipped: a.skipped + sign * b.skipped,
    ifDropped: a.ifDropped + sign * b.ifDropped,
  };
}

/** Where closed windows go, in the order they close (the store's queue). */
export interface WindowOutput {
  /** Takes the window; may wait (a full queue), must not drop it. */
  push(w: WindowExport): Promise<void>;
}

/**
 * Frees the export's row buffers (exact tables and connection records) at once, instead of
 * whenever the garbage collector gets to them: a window of a million keys holds about 80 MB of
 * rows, and with two such windows (one being stored while the next fills) waiting for the
 * collector they were the run's peak. Their arrays read as empty afterwards; the totals, ids
 * and sketches stay readable.
 */
export function releaseExport(w: WindowExport): void {
  for (const t of w.tasks) free(t.rows.words);
  free(w.records.words);
}

function free(a: Int32Array): void {
  const b = a.buffer;
  // A buffer of length 0 may be shared (the empty records of a late part); it holds nothing.
  if (b instanceof ArrayBuffer && !b.detached && b.byteLength > 0) b.transfer(0);
}
