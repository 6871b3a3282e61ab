/**
 * Sketch tasks over decoded batches: heavy hitters, Count-Min, distinct counts (HyperLogLog)
 * and spread (super-spreaders, scanners), each on its own key, run per window beside the
 * exact tasks.
 *
 * Each key hashed once per packet and shared: every distinct key (or element) field list
 * among the tasks gets one pair of lane arrays, filled per batch range, and every task reads
 * the lanes it needs. Nothing is allocated per packet; the key words are written only when a
 * key enters a sketch's store.
 *
 * @module
 */

import { PROTO_TCP, TCP_ACK, TCP_SYN } from "../packet/mod.ts";
import { FAMILY_IPV6, FAMILY_NONE, type PacketBatch } from "../packet/mod.ts";
import { type KeyMask, keyMask, keyMeta, keyPorts, writeKey } from "./flow_table.ts";
import { KeyColumnsBuilder } from "./key_columns.ts";
import type { SketchExport } from "../export/mod.ts";
import type { KeyField } from "../packet/mod.ts";
import { CountMin } from "../../sketches/mod.ts";
import {
  addrLaneA,
  addrLaneB,
  finishA,
  finishB,
  laneA,
  laneB,
  stepA,
  stepB,
} from "../../sketches/mod.ts";
import { HeavyHitters, HH_KEY_WORDS, type KeySource } from "../../sketches/mod.ts";
import { HyperLogLog } from "../../sketches/mod.ts";
import { SpreadSketch } from "../../sketches/mod.ts";

export const SKETCH_KINDS = ["heavy_hitters", "count_min", "distinct", "spread"] as const;
export type SketchKindName = typeof SKETCH_KINDS[number];
/** Which packets a sketch task counts: all IP packets, or TCP connection attempts only. */
export const SKETCH_FILTERS = ["all", "tcp_syn"] as const;
export type SketchFilter = typeof SKETCH_FILTERS[number];

export interface SketchSpec {
  name: string;
  kind: SketchKindName;
  key: readonly KeyField[];
  /** Memory budget in bytes (distinct: implied by `precision`). */
  memoryBytes: number;
  /** heavy_hitters and count_min: what is counted. */
  by: "packets" | "bytes";
  /** spread: the fields whose distinct values are counted per key. */
  element: readonly KeyField[];
  /** spread: spread from which a key is reported. */
  threshold: number;
  /** distinct: log2 of the HyperLogLog registers. */
  precision: number;
  /** count_min: conservative update. */
  conservative: boolean;
  /** heavy_hitters: keys stored per window. */
  top: number;
  filter: SketchFilter;
}

const KB = 1024;

/** A spec with every option at its default; `over` sets what differs. */
export function sketchSpec(
  over: Partial<SketchSpec> & Pick<SketchSpec, "name" | "kind" | "key">,
): SketchSpec {
  const memory = { heavy_hitters: 256 * KB, count_min: 64 * KB, distinct: 0, spread: 512 * KB };
  const base: SketchSpec = {
    ...over,
    memoryBytes: memory[over.kind],
    by: over.kind === "heavy_hitters" ? "bytes" : "packets",
    element: ["dst_ip"],
    threshold: 1000,
    precision: 14,
    conservative: true,
    top: 100,
    filter: "all",
  };
  return { ...base, ...over };
}

/** The sketch tasks run when the configuration names none. */
export function defaultSketches(): SketchSpec[] {
  return [
    sketchSpec({ name: "top_sources", kind: "heavy_hitters", key: ["src_ip"] }),
    sketchSpec({ name: "distinct_sources", kind: "distinct", key: ["src_ip"] }),
    sketchSpec({ name: "distinct_destinations", kind: "distinct", key: ["dst_ip"] }),
    sketchSpec({ name: "super_spreaders", kind: "spread", key: ["src_ip"] }),
    sketchSpec({
      name: "port_scanners",
      kind: "spread",
      key: ["src_ip"],
      element: ["dst_port"],
      threshold: 100,
      memoryBytes: 128 * KB,
      filter: "tcp_syn",
    }),
  ];
}

/** Lanes of one key field list for the current batch, and its key words on demand. */
class Lanes implements KeySource {
  readonly mask: KeyMask;
  readonly a: Int32Array;
  readonly b: Int32Array;
  batch: PacketBatch | null = null;
  /** Every task reading these lanes counts TCP SYNs only, so only those are hashed. */
  synOnly = true;

  constructor(
    readonly fields: readonly KeyField[],
    capacity: number,
    private readonly seed = 0,
  ) {
    this.mask = keyMask(fields);
    this.a = new Int32Array(capacity);
    this.b = new Int32Array(capacity);
  }

  writeKey(i: number, out: Int32Array, o: number): void {
    writeKey(this.batch!, i, this.mask, out, o);
  }

  /**
   * Hashes packets [from, to): the key's meta word (keyMeta) mixed into the seeds,
   * then the words the mask keeps. An address is its first word plus one word folding the other
   * three (zero for IPv4), so IPv4 and IPv6 take the same branch-free path.
   */
  fill(batch: PacketBatch, from: number, to: number, syns: Int32Array): void {
    this.batch = batch;
    const m = this.mask, a = this.a, b = this.b;
    const fam = batch.family, src = batch.src, dst = batch.dst;
    const useSrc = m.srcIp, useDst = m.dstIp, usePorts = m.srcPort || m.dstPort;
    // One address and no ports (src_ip, dst_ip, maybe with proto or vlan): the cheap lanes.
    const oneAddr = useSrc !== useDst && !usePorts;
    // SYN-only lanes walk the bank's list of SYN packets (`syns[from..to)`) instead.
    const list = this.synOnly, seed = this.seed;
    for (let j = from; j < to; j++) {
      const i = list ? syns[j]! : j;
      // Non-IP packets get lanes too (of a meaningless key): cheaper than a branch, and no
      // task counts them. Meta and ports are the flow table's words (writeKey), so a key
      // hashes the same whichever structure holds it.
      const f = fam[i]!;
      // The seed enters with the meta word: every lane below depends on it.
      const meta = keyMeta(batch, i, m) ^ seed;
      const w = i * 4;
      if (oneAddr) {
        const ad = useSrc ? src : dst;
        const x = ad[w]!;
        const y = f === FAMILY_IPV6 ? fold(ad[w + 1]!, ad[w + 2]!, ad[w + 3]!) : 0;
        a[i] = addrLaneA(meta, x, y), b[i] = addrLaneB(meta, x, y);
        continue;
      }
      let h1 = SEED_LANE_A ^ Math.imul(meta, 0x27d4eb2f),
        h2 = SEED_LANE_B ^ Math.imul(meta, 0x165667b1);
      if (useSrc) {
        const x = src[w]!, y = fold(src[w + 1]!, src[w + 2]!, src[w + 3]!);
        h1 = stepA(stepA(h1, x), y), h2 = stepB(stepB(h2, x), y);
      }
      if (useDst) {
        const x = dst[w]!, y = fold(dst[w + 1]!, dst[w + 2]!, dst[w + 3]!);
        h1 = stepA(stepA(h1, x), y), h2 = stepB(stepB(h2, x), y);
      }
      if (usePorts) {
        const ports = keyPorts(batch, i, m);
        h1 = stepA(h1, ports), h2 = stepB(h2, ports);
      }
      a[i] = finishA(h1), b[i] = finishB(h2);
    }
  }
}

/** Folds an IPv6 address's last three words into one (all zero for IPv4, so zero). */
function fold(x: number, y: number, z: number): number {
  return x ^ Math.imul(y ^ (y >>> 15), 0x2c1b3c6d) ^ Math.imul(z ^ (z >>> 13), 0x297a2d39);
}

const TCP = PROTO_TCP, SYN = TCP_SYN, ACK = TCP_ACK;

/** A TCP connection attempt: SYN without ACK. */
function isSyn(batch: PacketBatch, i: number): boolean {
  return batch.proto[i] === TCP && (batch.tcpFlags[i]! & (SYN | ACK)) === SYN;
}

const SEED_LANE_A = laneA(0), SEED_LANE_B = laneB(0);

/** Lanes of packet i's key under `fields`, as the bank computes them (off the hot path). */
export function laneOfPacket(
  fields: readonly KeyField[],
  batch: PacketBatch,
  i: number,
  seed = 0,
): [number, number] {
  const l = new Lanes(fields, batch.capacity, seed);
  l.synOnly = false;
  l.fill(batch, i, i + 1, new Int32Array(0));
  return [l.a[i]!, l.b[i]!];
}

export type SketchState =
  | { kind: "heavy_hitters"; sketch: HeavyHitters }
  | { kind: "count_min"; sketch: CountMin }
  | { kind: "distinct"; sketch: HyperLogLog }
  | { kind: "spread"; sketch: SpreadSketch };

export interface SketchTask {
  spec: SketchSpec;
  state: SketchState;
  /** Packets counted this window (IP packets; TCP SYNs for tcp_syn tasks). */
  packets: number;
  key: Lanes;
  element: Lanes | null;
}

/**
 * The window's export of `t` (off the hot path: once per task per window): the serialised
 * sketch and the keys it reports — a heavy-hitter task's top keys with packets and bytes, a
 * spread task's keys at or above its threshold with their spread. Plain data: it crosses from
 * the helper thread by structured clone.
 */
export function sketchWindow(t: SketchTask): SketchExport {
  const st = t.state;
  let rows: number[] = [];
  let words: Int32Array = new Int32Array(0);
  if (st.kind === "heavy_hitters") rows = st.sketch.top(t.spec.top), words = st.sketch.keys;
  else if (st.kind === "spread") rows = st.sketch.spreaders(), words = st.sketch.keys;
  const keys = new KeyColumnsBuilder(rows.length, t.key.mask);
  rows.forEach((e, r) => keys.put(r, words, e * HH_KEY_WORDS));
  const per = (f: (e: number) => number) => Float64Array.from(rows, f);
  const none = new Float64Array(0);
  return {
    kind: st.kind,
    packets: t.packets,
    estimate: st.kind === "distinct" ? st.sketch.estimate() : null,
    // HeavyKeeper buckets and spread filters are left out (see their serialize).
    bytes: st.kind === "heavy_hitters" || st.kind === "spread"
      ? st.sketch.serialize(false)
      : st.sketch.serialize(),
    keys: keys.done(),
    keyPackets: st.kind === "heavy_hitters" ? per((e) => st.sketch.packets(e)) : none,
    keyBytes: st.kind === "heavy_hitters" ? per((e) => st.sketch.bytes(e)) : none,
    keySpread: st.kind === "spread" ? per((e) => st.sketch.spreadOf(e)) : none,
  };
}

function makeState(s: SketchSpec, seed: number): SketchState {
  const st = makeState0(s);
  st.sketch.seed = seed >>> 0;
  return st;
}

function makeState0(s: SketchSpec): SketchState {
  switch (s.kind) {
    case "heavy_hitters":
      return { kind: s.kind, sketch: new HeavyHitters(s.memoryBytes, s.by === "bytes") };
    case "count_min":
      return { kind: s.kind, sketch: CountMin.forBudget(s.memoryBytes, 4, s.conservative) };
    case "distinct":
      return { kind: s.kind, sketch: new HyperLogLog(s.precision) };
    case "spread":
      return {
        kind: s.kind,
        sketch: new SpreadSketch({ memoryBytes: s.memoryBytes, threshold: s.threshold }),
      };
  }
}

export class SketchBank {
  readonly tasks: readonly SketchTask[];
  private readonly lanes: Lanes[] = [];
  /** Packets of the current range that are TCP SYNs, for tcp_syn tasks. */
  private readonly syns: Int32Array;
  private readonly anySyn: boolean;

  /**
   * `seed` goes into every key's hash (so traffic crafted against known buckets misses) and
   * into every sketch's bytes (so merges can check it); one store keeps one seed.
   */
  constructor(specs: readonly SketchSpec[], batchCapacity: number, seed = 0) {
    const lanesOf = (fields: readonly KeyField[], filter: SketchFilter): Lanes => {
      const name = [...fields].sort().join(",");
      let l = this.lanes.find((x) => [...x.fields].sort().join(",") === name);
      if (l === undefined) this.lanes.push(l = new Lanes(fields, batchCapacity, seed));
      if (filter !== "tcp_syn") l.synOnly = false;
      return l;
    };
    this.tasks = specs.map((spec) => ({
      spec,
      state: makeState(spec, seed),
      packets: 0,
      key: lanesOf(spec.key, spec.filter),
      element: spec.kind === "spread" ? lanesOf(spec.element, spec.filter) : null,
    }));
    this.syns = new Int32Array(batchCapacity);
    this.anySyn = specs.some((s) => s.filter === "tcp_syn");
  }

  /** Bytes of sketch state (the budgets, as allocated). */
  get memoryBytes(): number {
    let n = 0;
    for (const t of this.tasks) n += t.state.sketch.memoryBytes;
    return n;
  }

  addRange(batch: PacketBatch, from: number, to: number): void {
    if (this.tasks.length === 0) return;
    if (batch.length > this.syns.length) {
      throw new RangeError("Batch larger than the sketch bank was made for");
    }
    let nSyn = 0;
    if (this.anySyn) {
      for (let i = from; i < to; i++) if (isSyn(batch, i)) this.syns[nSyn++] = i;
    }
    for (const l of this.lanes) {
      l.fill(batch, l.synOnly ? 0 : from, l.synOnly ? nSyn : to, this.syns);
    }
    for (const t of this.tasks) {
      if (t.spec.filter === "tcp_syn") t.packets += this.run(t, batch, 0, nSyn, this.syns);
      else t.packets += this.run(t, batch, from, to, null);
    }
  }

  /**
   * Counts packets [from, to) — or, with `list`, the packets list[from..to) — into one task.
   * One loop per kind, so each loop's body is monomorphic. Returns the packets counted.
   */
  private run(
    t: SketchTask,
    batch: PacketBatch,
    from: number,
    to: number,
    list: Int32Array | null,
  ): number {
    const fam = batch.family, wire = batch.wireLen;
    const a = t.key.a, b = t.key.b;
    const st = t.state;
    let n = 0;
    if (st.kind === "distinct") {
      // family is 0 (FAMILY_NONE) exactly for the packets not counted.
      n = st.sketch.addMany(a, b, fam, from, to, list);
    } else if (st.kind === "heavy_hitters") {
      n = st.sketch.addMany(a, b, wire, fam, from, to, list, t.key);
    } else if (st.kind === "count_min") {
      const h = st.sketch, bytes = t.spec.by === "bytes";
      for (let j = from; j < to; j++) {
        const i = list === null ? j : list[j]!;
        if (fam[i] !== FAMILY_NONE) h.add(a[i]!, b[i]!, bytes ? wire[i]! : 1), n++;
      }
    } else {
      n = st.sketch.addMany(a, b, t.element!.a, t.element!.b, fam, from, to, list, t.key);
    }
    return n;
  }

  /** The window's stored form of every task, in task order. */
  snapshot(): SketchExport[] {
    return this.tasks.map(sketchWindow);
  }

  /** Empties every sketch in place (window rotation). */
  clear(): void {
    for (const t of this.tasks) t.state.sketch.clear(), t.packets = 0;
  }
}
