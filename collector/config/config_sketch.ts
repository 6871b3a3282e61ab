/**
 * The sketch kinds' entries of the configuration's `tasks` list: the same name, kind and key
 * as an exact task, plus each kind's own options, every one checked with its limits.
 *
 * @module
 */

import { bytes, checkKeys, keyFields } from "./_config_values.ts";
import type { KeyField } from "../packet/mod.ts";
import { SKETCH_FILTERS, type SketchFilter, type SketchSpec, sketchSpec } from "../engine/mod.ts";
import { HH_MEMORY_MAX, HH_MEMORY_MIN } from "../../sketches/mod.ts";
import { SPREAD_MEMORY_MAX, SPREAD_MEMORY_MIN } from "../../sketches/mod.ts";
import { HLL_P_MAX, HLL_P_MIN } from "../../sketches/mod.ts";

type Kind = SketchSpec["kind"];

/** Options each kind takes besides name, kind and key. */
const OPTIONS: Record<Kind, string[]> = {
  heavy_hitters: ["memory", "by", "top", "filter"],
  count_min: ["memory", "by", "conservative", "filter"],
  distinct: ["precision", "filter"],
  spread: ["memory", "element", "threshold", "filter"],
};
const MEMORY: Record<Kind, [number, number]> = {
  heavy_hitters: [HH_MEMORY_MIN, HH_MEMORY_MAX],
  count_min: [1024, 1 << 28],
  distinct: [0, 0], // not an option of distinct (its size is 2^precision bytes)
  spread: [SPREAD_MEMORY_MIN, SPREAD_MEMORY_MAX],
};

function wholeIn(v: unknown, lo: number, hi: number): number | null {
  return typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi ? v : null;
}

/** Parses one sketch task entry; adds problems and returns null when it is not valid. */
export function parseSketchTask(
  t: Record<string, unknown>,
  where: string,
  name: string,
  key: KeyField[],
  problems: string[],
): SketchSpec | null {
  const kind = t.kind as Kind;
  const before = problems.length;
  checkKeys(t, ["name", "kind", "key", ...OPTIONS[kind]], where, problems);
  const spec = sketchSpec({ name, kind, key });
  // Options the kind does not take were reported above; do not read them.
  const has = (k: string) => t[k] !== undefined && OPTIONS[kind].includes(k);
  if (has("memory")) {
    const [lo, hi] = MEMORY[kind];
    const v = bytes(t.memory);
    if (v === null || v < lo || v > hi) {
      problems.push(`${where}.memory: a size from ${lo} to ${hi} bytes, such as 256KiB`);
    } else spec.memoryBytes = v;
  }
  if (has("by")) {
    if (t.by !== "packets" && t.by !== "bytes") problems.push(`${where}.by: packets or bytes`);
    else spec.by = t.by;
  }
  if (has("top")) {
    const v = wholeIn(t.top, 1, 10000);
    if (v === null) problems.push(`${where}.top: a whole number from 1 to 10000`);
    else spec.top = v;
  }
  if (has("conservative")) {
    if (typeof t.conservative !== "boolean") problems.push(`${where}.conservative: true or false`);
    else spec.conservative = t.conservative;
  }
  if (has("precision")) {
    const v = wholeIn(t.precision, HLL_P_MIN, HLL_P_MAX);
    if (v === null) {
      problems.push(`${where}.precision: ${HLL_P_MIN} to ${HLL_P_MAX} (2^p registers)`);
    } else spec.precision = v;
  }
  if (has("threshold")) {
    const v = wholeIn(t.threshold, 2, 1e9);
    if (v === null) problems.push(`${where}.threshold: a whole number from 2 to 10^9`);
    else spec.threshold = v;
  }
  if (has("element")) spec.element = keyFields(t.element, `${where}.element`, problems);
  if (has("filter")) {
    if (!(SKETCH_FILTERS as readonly unknown[]).includes(t.filter)) {
      problems.push(`${where}.filter: one of ${SKETCH_FILTERS.join(", ")}`);
    } else spec.filter = t.filter as SketchFilter;
  }
  return problems.length === before ? spec : null;
}
