/**
 * Report rows (FlowRow) straight from DuckDB's result chunks.
 *
 * A csv or json report of every key reads hundreds of thousands of rows. Turning each value
 * into a JS object first (`getRows`: a BigInt per address, per nanosecond time and per sum)
 * took about 3.5 µs a row; here the vectors' own buffers are read (as _chunk.ts writes them):
 * sums as DOUBLE (exact below 2^53, as the reports' numbers are), addresses (UHUGEINT) and
 * nanosecond times (HUGEINT) as four 32-bit words, with a BigInt only for a time beyond 2^64
 * ns (crafted captures have them).
 *
 * @module
 */

import type { DuckDBDataChunk, DuckDBVector } from "@duckdb/node-api";
import type { KeyField } from "../collector/packet/mod.ts";
import { ipv4Text, ipv6Text } from "../collector/packet/mod.ts";
import type { FlowRow } from "./report_types.ts";
import { keyColumns, nsText } from "./_row_text.ts";

/** The select list of a report row over `window_flows` grouped by the key (GROUP BY ALL). */
export function flowRowSelect(groupBy: readonly KeyField[], times: boolean): string {
  const sums = "sum(packets)::DOUBLE AS packets, sum(bytes)::DOUBLE AS bytes";
  if (!times) return `${keyColumns(groupBy)}, ${sums}`;
  return `${keyColumns(groupBy)}, ${sums}, min(first_ns) AS first_ns, max(last_ns) AS last_ns, ` +
    `bit_or(tcp_flags)::INTEGER AS tcp_flags`;
}

/** One column of a result chunk, read in place. */
export interface Column {
  /** Small integers (UTINYINT … INTEGER) and DOUBLEs as they are. */
  readonly items: ArrayLike<number> | null;
  /** 128-bit values as little-endian 32-bit words (four per row). */
  readonly words: Uint32Array | null;
  valid(i: number): boolean;
}

/** A vector's buffer and validity (fields of @duckdb/node-api 1.5's vector classes). */
function columnOf(v: DuckDBVector): Column {
  const x = v as unknown as {
    items?: ArrayLike<number> | BigInt64Array | BigUint64Array;
    dataView?: DataView;
    validity: { itemValid(i: number): boolean };
  };
  if (x.items instanceof BigInt64Array || x.items instanceof BigUint64Array) {
    throw new TypeError(`Column of type ${v.type}: ask for DOUBLE or a 128-bit type`);
  }
  const view = x.dataView;
  if (x.items === undefined && view === undefined) {
    throw new TypeError(`Column of type ${v.type} has no fixed-width buffer`);
  }
  return {
    items: x.items ?? null,
    words: view === undefined
      ? null
      : new Uint32Array(view.buffer, view.byteOffset, view.byteLength >>> 2),
    valid: (i) => x.validity.itemValid(i),
  };
}

const NO_COLUMN: Column = { items: null, words: null, valid: () => false };

/**
 * What timeParts found: NULL; seconds and nanoseconds (in `out`); or a time beyond 2^64 ns or
 * before 1970 that only timeText gives (through a BigInt).
 */
export type TimeKind = "null" | "parts" | "wide";

/**
 * Seconds and nanoseconds of a HUGEINT epoch-nanosecond time at row i, exactly: below 2^64 the
 * value is divided by 10^9 in 16-bit limbs (each step stays far below 2^53).
 */
function timeParts(c: Column, i: number, out: Float64Array): TimeKind {
  if (c.words === null || !c.valid(i)) return "null";
  const w = c.words, o = 4 * i;
  if (w[o + 2] !== 0 || w[o + 3] !== 0) return "wide";
  const lo = w[o]!, hi = w[o + 1]!;
  let sec = 0, rem = 0;
  for (let k = 0; k < 4; k++) {
    const limb = k === 0 ? hi >>> 16 : k === 1 ? hi & 0xffff : k === 2 ? lo >>> 16 : lo & 0xffff;
    const cur = rem * 65536 + limb;
    const q = Math.floor(cur / 1e9);
    rem = cur - q * 1e9;
    sec = sec * 65536 + q;
  }
  out[0] = sec, out[1] = rem;
  return "parts";
}

/** "sec.nnnnnnnnn" of a HUGEINT epoch-nanosecond time at row i (null when NULL). */
function timeText(c: Column, i: number, scratch: Float64Array): string | null {
  const kind = timeParts(c, i, scratch);
  if (kind === "null") return null;
  if (kind === "parts") return `${scratch[0]}.${String(scratch[1]).padStart(9, "0")}`;
  const w = c.words!, o = 4 * i;
  return nsText(BigInt.asIntN(
    128,
    (BigInt(w[o + 3]!) << 96n) | (BigInt(w[o + 2]!) << 64n) | (BigInt(w[o + 1]!) << 32n) |
      BigInt(w[o]!),
  ));
}

type NumericKey = "proto" | "src_port" | "dst_port" | "vlan";

/**
 * A result chunk whose columns `flowRowSelect` named, read in place: either as FlowRow
 * objects (`rows`), or cell by cell without an object per row (the csv report's writer).
 */
export class FlowColumns {
  readonly length: number;
  readonly version: Column;
  readonly src: Column;
  readonly dst: Column;
  readonly packets: Column;
  readonly bytes: Column;
  readonly flags: Column;
  readonly first: Column;
  readonly last: Column;
  private readonly numeric: Record<NumericKey, Column>;
  private readonly words = new Uint32Array(4);
  private readonly parts = new Float64Array(2);

  constructor(
    chunk: DuckDBDataChunk,
    names: readonly string[],
    readonly groupBy: readonly KeyField[],
  ) {
    const col = (name: string): Column => {
      const c = names.indexOf(name);
      return c < 0 ? NO_COLUMN : columnOf(chunk.getColumnVector(c));
    };
    this.length = chunk.rowCount;
    this.version = col("ip_version");
    this.src = col("src_addr"), this.dst = col("dst_addr");
    this.numeric = {
      proto: col("proto"),
      src_port: col("src_port"),
      dst_port: col("dst_port"),
      vlan: col("vlan"),
    };
    this.packets = col("packets"), this.bytes = col("bytes"), this.flags = col("tcp_flags");
    this.first = col("first_ns"), this.last = col("last_ns");
  }

  /** A small-integer key column (proto, ports, vlan). */
  key(f: NumericKey): Column {
    return this.numeric[f];
  }

  isV4(i: number): boolean {
    const v = this.version.items;
    return v !== null && v[i] === 4;
  }

  packetsAt(i: number): number {
    return this.packets.items?.[i] ?? 0;
  }

  bytesAt(i: number): number {
    return this.bytes.items?.[i] ?? 0;
  }

  tcpFlagsAt(i: number): number {
    return this.flags.valid(i) ? this.flags.items![i]! : 0;
  }

  /** A time column (first, last) at row i: see TimeKind. */
  timeParts(c: Column, i: number, out: Float64Array): TimeKind {
    return timeParts(c, i, out);
  }

  /** "sec.nnnnnnnnn" of a time column (first, last) at row i; null when NULL. */
  timeText(c: Column, i: number): string | null {
    return timeText(c, i, this.parts);
  }

  /** Address text of a UHUGEINT (little-endian 128 bits) column at row i. */
  addrText(c: Column, i: number): string | null {
    const x = c.words;
    if (x === null || !c.valid(i)) return null;
    const o = i * 4;
    if (this.isV4(i)) return ipv4Text(x[o]!);
    const w = this.words;
    w[0] = x[o + 3]!, w[1] = x[o + 2]!, w[2] = x[o + 1]!, w[3] = x[o]!;
    return ipv6Text(w);
  }

  /** The rows as FlowRow objects (the table and json reports). */
  rows(): FlowRow[] {
    const hasSrc = this.groupBy.includes("src_ip"), hasDst = this.groupBy.includes("dst_ip");
    const numeric = (["proto", "src_port", "dst_port", "vlan"] as const).filter((f) =>
      this.groupBy.includes(f)
    ).map((f) => [f, this.numeric[f]] as const);
    const out: FlowRow[] = new Array(this.length);
    for (let i = 0; i < this.length; i++) {
      const row: FlowRow = {} as FlowRow;
      if (hasSrc) row.src_ip = this.addrText(this.src, i);
      if (hasDst) row.dst_ip = this.addrText(this.dst, i);
      for (const [f, c] of numeric) row[f] = c.valid(i) ? c.items![i]! : null;
      row.packets = this.packetsAt(i);
      row.bytes = this.bytesAt(i);
      row.first_ts = timeText(this.first, i, this.parts);
      row.last_ts = timeText(this.last, i, this.parts);
      row.tcp_flags = this.tcpFlagsAt(i);
      out[i] = row;
    }
    return out;
  }
}
