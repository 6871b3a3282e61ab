/**
 * Sketch tasks' rows of one window: the serialised sketch (window_sketches) and the keys it
 * reports (window_sketch_keys): a heavy-hitter task's top keys, a spread task's keys at or
 * above its threshold. Few rows per window, so plain appender calls.
 *
 * @module
 */

import type { DuckDBAppender, DuckDBTimestampValue } from "@duckdb/node-api";
import type { SketchWindow } from "../collector/sketch_bank.ts";
import { FLOW_ENTRY, type KeyMask } from "../collector/flow_table.ts";
import { HH_KEY_WORDS } from "../sketches/heavy_hitters.ts";

export function appendSketches(
  a: DuckDBAppender,
  sourceNo: number,
  taskNo0: number,
  start: DuckDBTimestampValue,
  sketches: readonly SketchWindow[],
): void {
  sketches.forEach((t, k) => {
    a.appendUInteger(sourceNo), a.appendUSmallInt(taskNo0 + k), a.appendTimestamp(start);
    a.appendUBigInt(BigInt(t.packets));
    if (t.estimate === null) a.appendNull();
    else a.appendDouble(t.estimate);
    a.appendBlob(t.bytes);
    a.endRow();
  });
}

function addrOf(w: Int32Array, o: number, v4: boolean): bigint {
  if (v4) return BigInt(w[o]! >>> 0);
  let x = 0n;
  for (let j = 0; j < 4; j++) x = (x << 32n) | BigInt(w[o + j]! >>> 0);
  return x;
}

/** Appends the key columns (ip_version … vlan) of the key at `w[o..o+10)` under mask `m`. */
function appendKey(a: DuckDBAppender, m: KeyMask, w: Int32Array, o: number): void {
  const meta = w[o + FLOW_ENTRY.META]!;
  const family = (meta >>> 8) & 7;
  if (family !== 0) a.appendUTinyInt(family);
  else a.appendNull();
  if (m.srcIp && family !== 0) a.appendUHugeInt(addrOf(w, o, family === 4));
  else a.appendNull();
  if (m.dstIp && family !== 0) a.appendUHugeInt(addrOf(w, o + 4, family === 4));
  else a.appendNull();
  if (m.proto) a.appendUSmallInt(meta & 0xff);
  else a.appendNull();
  const ports = w[o + FLOW_ENTRY.PORTS]! >>> 0;
  const hasPorts = (meta & FLOW_ENTRY.META_PORTS_PRESENT) !== 0;
  if (hasPorts && m.srcPort) a.appendInteger(ports >>> 16);
  else a.appendNull();
  if (hasPorts && m.dstPort) a.appendInteger(ports & 0xffff);
  else a.appendNull();
  if ((meta & FLOW_ENTRY.META_VLAN_PRESENT) !== 0) a.appendUSmallInt((meta >>> 16) & 0xfff);
  else a.appendNull();
}

export function appendSketchKeys(
  a: DuckDBAppender,
  sourceNo: number,
  taskNo0: number,
  start: DuckDBTimestampValue,
  sketches: readonly SketchWindow[],
): void {
  sketches.forEach((t, k) => {
    const rows = t.keys.length / HH_KEY_WORDS;
    for (let r = 0; r < rows; r++) {
      a.appendUInteger(sourceNo), a.appendUSmallInt(taskNo0 + k), a.appendTimestamp(start);
      a.appendUInteger(r + 1);
      appendKey(a, t.mask, t.keys, r * HH_KEY_WORDS);
      if (t.keyPackets.length > 0) {
        a.appendUBigInt(BigInt(Math.round(t.keyPackets[r]!)));
        a.appendUBigInt(BigInt(Math.round(t.keyBytes[r]!)));
      } else a.appendNull(), a.appendNull();
      if (t.keySpread.length > 0) a.appendDouble(t.keySpread[r]!);
      else a.appendNull();
      a.endRow();
    }
  });
}
