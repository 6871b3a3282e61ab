/**
 * Sketch tasks' rows of one window: the serialised sketch (window_sketches) and the keys it
 * reports (window_sketch_keys): a heavy-hitter task's top keys, a spread task's keys at or
 * above its threshold. Few rows per window, so plain appender calls.
 *
 * @module
 */

import type { DuckDBAppender, DuckDBTimestampValue } from "@duckdb/node-api";
import type { KeyColumns, SketchExport } from "../collector/export/mod.ts";

export function appendSketches(
  a: DuckDBAppender,
  sourceNo: number,
  taskNo0: number,
  start: DuckDBTimestampValue,
  sketches: readonly SketchExport[],
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

function addrOf(w: Uint32Array, o: number, v4: boolean): bigint {
  if (v4) return BigInt(w[o]!);
  let x = 0n;
  for (let j = 0; j < 4; j++) x = (x << 32n) | BigInt(w[o + j]!);
  return x;
}

/** Appends the key columns (ip_version … vlan) of row r. */
function appendKey(a: DuckDBAppender, k: KeyColumns, r: number): void {
  const family = k.family[r]!;
  if (family !== 0) a.appendUTinyInt(family);
  else a.appendNull();
  if (k.hasSrc && family !== 0) a.appendUHugeInt(addrOf(k.src, r * 4, family === 4));
  else a.appendNull();
  if (k.hasDst && family !== 0) a.appendUHugeInt(addrOf(k.dst, r * 4, family === 4));
  else a.appendNull();
  const small = (v: number, put: (v: number) => void) => v < 0 ? a.appendNull() : put.call(a, v);
  small(k.proto[r]!, a.appendUSmallInt);
  small(k.srcPort[r]!, a.appendInteger);
  small(k.dstPort[r]!, a.appendInteger);
  small(k.vlan[r]!, a.appendUSmallInt);
}

export function appendSketchKeys(
  a: DuckDBAppender,
  sourceNo: number,
  taskNo0: number,
  start: DuckDBTimestampValue,
  sketches: readonly SketchExport[],
): void {
  sketches.forEach((t, k) => {
    for (let r = 0; r < t.keys.length; r++) {
      a.appendUInteger(sourceNo), a.appendUSmallInt(taskNo0 + k), a.appendTimestamp(start);
      a.appendUInteger(r + 1);
      appendKey(a, t.keys, r);
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
