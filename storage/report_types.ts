/**
 * What a report shows: the shape `summarize()` (summary.ts) reads back from the store and the
 * CLI's reports print (cli/report/). Types only.
 *
 * @module
 */

import type { FileSummary } from "../collector/ingest/mod.ts";
import type { KeyField } from "../collector/packet/mod.ts";

export interface FlowRow {
  src_ip?: string | null;
  dst_ip?: string | null;
  proto?: number | null;
  src_port?: number | null;
  dst_port?: number | null;
  vlan?: number | null;
  packets: number;
  bytes: number;
  first_ts: string | null;
  last_ts: string | null;
  tcp_flags: number;
}

/** Key fields of a sketch's row (addresses as text). */
export type KeyedRow = Partial<Record<KeyField, string | number | null>>;

/** DNS and HTTP over the whole input (store path only). */
export interface AppSummary {
  dns: {
    messages: number;
    queries: number;
    responses: number;
    nxdomain: number;
    /** Responses with another error RCODE (SERVFAIL, REFUSED, …). */
    error_responses: number;
    /** Malformed messages by reason (dns_truncated, dns_pointer_loop, …). */
    malformed: Record<string, number>;
    names: {
      protocol: string;
      qname: string;
      qtype: number;
      queries: number;
      responses: number;
      nxdomain: number;
      avg_rtt_ms: number | null;
    }[];
  };
  http: {
    requests: number;
    responses: number;
    /** Messages lost to reassembly limits or sequence gaps. */
    lost: number;
    top: {
      protocol: string;
      host: string | null;
      method: string;
      path: string;
      requests: number;
    }[];
    status: { protocol: string; code: number; responses: number }[];
    /** Requests per User-Agent, most first (requests without one are not listed). */
    user_agents: { protocol: string; user_agent: string; requests: number }[];
  };
}

/** Sketch tasks' results over the whole input (store path only). */
export interface SketchesSummary {
  heavyHitters: {
    task: string;
    key: KeyField[];
    by: "packets" | "bytes";
    memoryBytes: number;
    /** The exact task the exact columns come from, if one covers the key. */
    exactTask: string | null;
    rows: (KeyedRow & {
      packets: number;
      bytes: number;
      /**
       * How much the summed count (by the task's `by`) may fall short: over the windows whose
       * full top list did not hold the key, that list's smallest count; 0 within one window.
       */
      error_bound: number;
      exact_packets: number | null;
      exact_bytes: number | null;
    })[];
  }[];
  distinct: {
    task: string;
    key: KeyField[];
    precision: number;
    estimate: number;
    /** Exact distinct count from an exact task whose key covers this one, else null. */
    exact: number | null;
  }[];
  spread: {
    task: string;
    key: KeyField[];
    element: KeyField[];
    threshold: number;
    filter: string;
    memoryBytes: number;
    rows: (KeyedRow & { spread: number })[];
  }[];
  countMin: { task: string; key: KeyField[]; by: string; memoryBytes: number; packets: number }[];
}

export interface Summary {
  /** Store source id; null for an in-memory analysis. */
  sourceId: string | null;
  /** The store it was read from (null: computed in memory). */
  storePath: string | null;
  task: string;
  groupBy: readonly KeyField[];
  /** Window length and count; 0 for an in-memory analysis (one whole-input table). */
  windowSec: number;
  windows: number;
  totals: {
    frames: number;
    bytes: number;
    capBytes: number;
    ipv4Frames: number;
    ipv6Frames: number;
    nonIpFrames: number;
    /** Of the frames, those that came after their window had closed (stored as late parts). */
    latePackets: number;
    firstTs: string | null;
    lastTs: string | null;
  };
  protocols: { proto: number; packets: number; bytes: number }[];
  decodeErrors: { reason: string; packets: number }[];
  /** Distinct keys of the task over the whole input (null when not asked for). */
  flowCount: number | null;
  /** Packets whose key found the table full (in-memory path). */
  overflowPackets: number;
  flows: FlowRow[];
  /** Sources by bytes, when the task's key has src_ip. */
  talkers: FlowRow[] | null;
  /** Flow records by close reason (store path only). */
  flowRecords: { reason: string; records: number }[];
  /** Sketch tasks (store path only; null in memory). */
  sketches: SketchesSummary | null;
  /** DNS and HTTP (store path only; null in memory). */
  app: AppSummary | null;
}

/** Files and warnings of a run, for the report header. */
export interface RunInfo {
  files: readonly FileSummary[];
  warnings: readonly string[];
  /** Whether connection records were kept (false: `--no-records`). */
  flowRecords: boolean;
}
