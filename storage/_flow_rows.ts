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

interface Column {
  /** Small integers (UTINYINT … INTEGER) as they are. */
  items: ArrayLike<number> | null;
  /** 128-bit values as little-endian 32-bit words. */
  words: Uint32Array | null;
  valid: (i: number) => boolean;
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
 * "sec.nnnnnnnnn" from HUGEINT epoch nanoseconds at row i, exactly: below 2^64 the value is
 * divided by 10^9 in 16-bit limbs (each step stays far below 2^53), beyond it as a BigInt.
 */
function timeText(c: Column, i: number): string | null {
  if (c.words === null || !c.valid(i)) return null;
  const w = c.words, o = 4 * i;
  if (w[o + 2] !== 0 || w[o + 3] !== 0) {
    const v = BigInt.asIntN(
      128,
      (BigInt(w[o + 3]!) << 96n) | (BigInt(w[o + 2]!) << 64n) | (BigInt(w[o + 1]!) << 32n) |
        BigInt(w[o]!),
    );
    return nsText(v);
  }
  const lo = w[o]!, hi = w[o + 1]!;
  let sec = 0, rem = 0;
  for (const limb of [hi >>> 16, hi & 0xffff, lo >>> 16, lo & 0xffff]) {
    const cur = rem * 65536 + limb;
    const q = Math.floor(cur / 1e9);
    rem = cur - q * 1e9;
    sec = sec * 65536 + q;
  }
  return `${sec}.${String(rem).padStart(9, "0")}`;
}

/** Reads report rows out of result chunks whose columns `flowRowSelect` named. */
export class FlowRowReader {
  private readonly words = new Uint32Array(4);
  constructor(private readonly groupBy: readonly KeyField[]) {}

  /** The rows of `chunk`, whose columns are called `names`. */
  rows(chunk: DuckDBDataChunk, names: readonly string[]): FlowRow[] {
    const col = (name: string): Column => {
      const c = names.indexOf(name);
      return c < 0 ? NO_COLUMN : columnOf(chunk.getColumnVector(c));
    };
    const version = col("ip_version"), src = col("src_addr"), dst = col("dst_addr");
    const numeric = (["proto", "src_port", "dst_port", "vlan"] as const).map((f) =>
      [f, col(f)] as const
    ).filter(([f]) => this.groupBy.includes(f));
    const packets = col("packets"), bytes = col("bytes"), flags = col("tcp_flags");
    const first = col("first_ns"), last = col("last_ns");
    const hasSrc = this.groupBy.includes("src_ip"), hasDst = this.groupBy.includes("dst_ip");
    const out: FlowRow[] = new Array(chunk.rowCount);
    for (let i = 0; i < chunk.rowCount; i++) {
      const row: FlowRow = {} as FlowRow;
      const v4 = version.items !== null && version.items[i] === 4;
      if (hasSrc) row.src_ip = this.addr(src, i, v4);
      if (hasDst) row.dst_ip = this.addr(dst, i, v4);
      for (const [f, c] of numeric) row[f] = c.valid(i) ? c.items![i]! : null;
      row.packets = packets.items?.[i] ?? 0;
      row.bytes = bytes.items?.[i] ?? 0;
      row.first_ts = timeText(first, i);
      row.last_ts = timeText(last, i);
      row.tcp_flags = flags.valid(i) ? flags.items![i]! : 0;
      out[i] = row;
    }
    return out;
  }

  /** Address text from a UHUGEINT (little-endian 128 bits) at row i. */
  private addr(c: Column, i: number, v4: boolean): string | null {
    const x = c.words;
    if (x === null || !c.valid(i)) return null;
    const o = i * 4;
    if (v4) return ipv4Text(x[o]!);
    const w = this.words;
    w[0] = x[o + 3]!, w[1] = x[o + 2]!, w[2] = x[o + 1]!, w[3] = x[o]!;
    return ipv6Text(w);
  }
}
