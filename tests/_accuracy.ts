/**
 * Sketch accuracy against exact counts on seeded synthetic traffic: `netspectra gen` writes a
 * capture (Zipf flows plus scans, a SYN flood and a DDoS), the real reader and decoders turn
 * it into batches, and each batch goes both to exact flow tables and to the sketch bank. The
 * tests assert the figures; bench/accuracy.ts prints them for bench/ACCURACY.md.
 *
 * @module
 */

import { PacketBatch } from "../collector/packet/batch.ts";
import { decodeBatch } from "../collector/decode/mod.ts";
import { FlowTable } from "../collector/engine/flow_table.ts";
import { GEN_DEFAULTS, generate } from "../collector/gen/gen.ts";
import { FIVE_TUPLE, type KeyField } from "../collector/packet/key_fields.ts";
import { openCapture } from "../collector/reader/mod.ts";
import { SketchBank, type SketchSpec, sketchSpec } from "../collector/engine/sketch_bank.ts";
import { HeavyHitters, type HeavyKeeperShape, HH_KEY_WORDS } from "../sketches/heavy_hitters.ts";

export const KIB = 1024;

/** Writes a seeded capture with attacks mixed in; returns its path (caller removes it). */
export async function genCapture(
  dir: string,
  opts: { packets: number; flows: number; alpha: number; seed?: number },
): Promise<string> {
  const file = `${dir}/acc-${opts.alpha}-${opts.packets}.pcap`;
  const out = await Deno.open(file, { write: true, create: true, truncate: true });
  try {
    await generate(out, {
      ...GEN_DEFAULTS,
      packets: opts.packets,
      flows: opts.flows,
      zipfAlpha: opts.alpha,
      seed: opts.seed ?? Math.round(opts.alpha * 100),
      attacks: { scans: 48, synFlood: true, ddos: true },
    });
  } finally {
    out.close();
  }
  return file;
}

export interface HhCase {
  key: readonly KeyField[];
  /** HeavyKeeper shape to try instead of the default (bench/accuracy.ts --shapes). */
  shape?: HeavyKeeperShape;
  by: "packets" | "bytes";
  memoryBytes: number;
  /** Keys at or above this share of all packets (bytes) are heavy. */
  share: number;
}

export interface HhResult extends HhCase {
  heavy: number;
  reported: number;
  precision: number;
  recall: number;
  f1: number;
  /** Average relative error of the true positives' counts. */
  are: number;
}

export interface SpreadResult {
  threshold: number;
  memoryBytes: number;
  truth: number;
  reported: number;
  f1: number;
  /** Mean relative error of the true positives' spreads. */
  mre: number;
  maxRe: number;
}

const keyText = (w: Int32Array, o: number, n = HH_KEY_WORDS) =>
  Array.from(w.subarray(o, o + n)).join(",");

function f1Of(tp: number, reported: number, truth: number) {
  const precision = reported === 0 ? 1 : tp / reported;
  const recall = truth === 0 ? 1 : tp / truth;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1 };
}

/**
 * Runs `cases` (heavy hitters) and one super-spreader task over the capture, with exact
 * tables beside them, and compares.
 */
export async function measure(
  file: string,
  cases: readonly HhCase[],
  spread: { threshold: number; memoryBytes: number },
): Promise<{ packets: number; bytes: number; hh: HhResult[]; spread: SpreadResult }> {
  const specs: SketchSpec[] = cases.map((c, k) =>
    sketchSpec({
      name: `hh${k}`,
      kind: "heavy_hitters",
      key: c.key,
      by: c.by,
      memoryBytes: c.memoryBytes,
    })
  );
  specs.push(sketchSpec({
    name: "spreaders",
    kind: "spread",
    key: ["src_ip"],
    element: ["dst_ip"],
    threshold: spread.threshold,
    memoryBytes: spread.memoryBytes,
  }));
  const batch = new PacketBatch();
  const bank = new SketchBank(specs, batch.capacity);
  cases.forEach((c, k) => {
    const st = bank.tasks[k]!.state;
    if (c.shape !== undefined && st.kind === "heavy_hitters") {
      st.sketch = new HeavyHitters(c.memoryBytes, c.by === "bytes", c.shape);
    }
  });
  const keys = [...new Set(cases.map((c) => c.key.join(",")))];
  const exact = new Map(keys.map((k) => [k, new FlowTable(k.split(",") as KeyField[], 1 << 22)]));
  const pairs = new FlowTable(["src_ip", "dst_ip"], 1 << 22);
  const r = await openCapture(file);
  let packets = 0, bytes = 0;
  try {
    for (let n; (n = await r.fill(batch)) > 0;) {
      decodeBatch(batch);
      for (const t of exact.values()) t.addBatch(batch);
      pairs.addBatch(batch);
      bank.addRange(batch, 0, n);
      for (let i = 0; i < n; i++) if (batch.family[i] !== 0) packets++, bytes += batch.wireLen[i]!;
    }
  } finally {
    r.close();
  }
  const hh = cases.map((c, k): HhResult => {
    const table = exact.get(c.key.join(","))!;
    const total = c.by === "bytes" ? bytes : packets;
    const t = c.share * total;
    const value = (e: number) => c.by === "bytes" ? table.bytes(e) : table.packets(e);
    const truth = new Map<string, number>();
    for (let e = 0; e < table.size; e++) {
      if (value(e) >= t) truth.set(keyText(table.records, e * 20), value(e));
    }
    const st = bank.tasks[k]!.state;
    if (st.kind !== "heavy_hitters") throw new Error("unreachable");
    const h = st.sketch;
    let reported = 0, tp = 0, errSum = 0;
    for (let e = 0; e < h.size; e++) {
      const est = c.by === "bytes" ? h.bytes(e) : h.packets(e);
      if (est < t) continue;
      reported++;
      const real = truth.get(keyText(h.keys, e * HH_KEY_WORDS));
      if (real !== undefined) tp++, errSum += Math.abs(est - real) / real;
    }
    return {
      ...c,
      heavy: truth.size,
      reported,
      ...f1Of(tp, reported, truth.size),
      are: tp === 0 ? 0 : errSum / tp,
    };
  });
  // Exact spread: distinct destinations per source, from the (src_ip, dst_ip) table.
  const spreads = new Map<string, number>();
  const w = pairs.records;
  for (let e = 0; e < pairs.size; e++) {
    const o = e * 20;
    const src = `${keyText(w, o, 4)}|${(w[o + 9]! >>> 8) & 7}`;
    spreads.set(src, (spreads.get(src) ?? 0) + 1);
  }
  const st = bank.tasks[cases.length]!.state;
  if (st.kind !== "spread") throw new Error("unreachable");
  const s = st.sketch;
  let tp = 0, reSum = 0, maxRe = 0;
  const found = s.spreaders();
  for (const e of found) {
    const o = e * HH_KEY_WORDS;
    const real = spreads.get(`${keyText(s.keys, o, 4)}|${(s.keys[o + 9]! >>> 8) & 7}`) ?? 0;
    if (real >= spread.threshold) {
      tp++;
      const re = Math.abs(s.spreadOf(e) - real) / real;
      reSum += re, maxRe = Math.max(maxRe, re);
    }
  }
  let truthCount = 0;
  for (const v of spreads.values()) if (v >= spread.threshold) truthCount++;
  return {
    packets,
    bytes,
    hh,
    spread: {
      ...spread,
      truth: truthCount,
      reported: found.length,
      f1: f1Of(tp, found.length, truthCount).f1,
      mre: tp === 0 ? 0 : reSum / tp,
      maxRe,
    },
  };
}

/** The heavy-hitter cases of the acceptance list (and the byte-counting twins). */
export const HH_CASES: HhCase[] = [
  { key: FIVE_TUPLE, by: "packets", memoryBytes: 256 * KIB, share: 1e-4 },
  { key: FIVE_TUPLE, by: "packets", memoryBytes: 64 * KIB, share: 1e-3 },
  { key: ["src_ip"], by: "packets", memoryBytes: 256 * KIB, share: 1e-4 },
  { key: ["src_ip"], by: "packets", memoryBytes: 64 * KIB, share: 1e-3 },
  { key: ["src_ip"], by: "bytes", memoryBytes: 256 * KIB, share: 1e-4 },
  { key: FIVE_TUPLE, by: "bytes", memoryBytes: 256 * KIB, share: 1e-4 },
];
