import assert from "node:assert/strict";
import {
  FAMILY_IPV4,
  FAMILY_IPV6,
  FAMILY_NONE,
  FLAG_HAS_PORTS,
  FLAG_HAS_TCP_FLAGS,
  PacketBatch,
  VLAN_NONE,
} from "../../collector/packet/batch.ts";
import { FlowTable } from "../../collector/engine/flow_table.ts";
import { SketchBank, sketchSpec } from "../../collector/engine/sketch_bank.ts";
import { HH_KEY_WORDS } from "../../sketches/heavy_hitters.ts";

interface Pkt {
  v6?: boolean;
  src: number;
  dst: number;
  proto?: number;
  sport?: number;
  dport?: number;
  tcp?: number;
  len?: number;
  nonIp?: boolean;
}

function batchOf(pkts: Pkt[]): PacketBatch {
  const b = new PacketBatch(Math.max(1, pkts.length));
  pkts.forEach((p, i) => {
    b.family[i] = p.nonIp ? FAMILY_NONE : p.v6 ? FAMILY_IPV6 : FAMILY_IPV4;
    b.src.fill(0, i * 4, i * 4 + 4), b.dst.fill(0, i * 4, i * 4 + 4);
    b.src[i * 4 + (p.v6 ? 3 : 0)] = p.src, b.dst[i * 4 + (p.v6 ? 3 : 0)] = p.dst;
    if (p.v6) b.src[i * 4] = 0x20010db8, b.dst[i * 4] = 0x20010db8;
    b.proto[i] = p.proto ?? 6;
    b.srcPort[i] = p.sport ?? 1234, b.dstPort[i] = p.dport ?? 80;
    b.flags[i] = FLAG_HAS_PORTS | (p.tcp === undefined ? 0 : FLAG_HAS_TCP_FLAGS);
    b.tcpFlags[i] = p.tcp ?? 0;
    b.vlan[i] = VLAN_NONE;
    b.wireLen[i] = p.len ?? 100;
    b.tsSec[i] = 1_700_000_000;
  });
  b.length = pkts.length;
  return b;
}

Deno.test("SketchBank: stored keys are the flow table's key words; packets counted per task", () => {
  const pkts: Pkt[] = [
    { src: 0x0a000001, dst: 0x0a000002, len: 1000 },
    { src: 0x0a000001, dst: 0x0a000003, len: 500 },
    { src: 7, dst: 9, v6: true, len: 200 },
    { src: 0, dst: 0, nonIp: true },
  ];
  const b = batchOf(pkts);
  const bank = new SketchBank([
    sketchSpec({ name: "hh", kind: "heavy_hitters", key: ["src_ip"], memoryBytes: 16384 }),
    sketchSpec({ name: "d", kind: "distinct", key: ["dst_ip"] }),
  ], b.capacity);
  bank.addRange(b, 0, b.length);
  const [hh, d] = bank.tasks;
  assert.equal(hh!.packets, 3, "non-IP packets are not counted");
  assert.equal(d!.packets, 3);
  const st = hh!.state;
  assert.equal(st.kind, "heavy_hitters");
  if (st.kind !== "heavy_hitters") return;
  const exact = new FlowTable(["src_ip"]);
  exact.addBatch(b);
  const words = (w: Int32Array, o: number) => Array.from(w.subarray(o, o + HH_KEY_WORDS));
  const want = new Map<string, number>();
  for (let e = 0; e < exact.size; e++) {
    want.set(words(exact.records, e * 20).join(), exact.bytes(e));
  }
  const got = new Map<string, number>();
  for (let e = 0; e < st.sketch.size; e++) {
    got.set(words(st.sketch.keys, e * HH_KEY_WORDS).join(), st.sketch.bytes(e));
  }
  assert.deepEqual(got, want);
  const dd = d!.state;
  if (dd.kind === "distinct") assert.equal(Math.round(dd.sketch.estimate()), 3);
  bank.clear();
  assert.equal(hh!.packets, 0);
  assert.equal(st.sketch.size, 0);
});

Deno.test("SketchBank: the same key hashes the same whatever the other fields; others differ", () => {
  const b = batchOf([
    { src: 1, dst: 2, sport: 1, dport: 2 },
    { src: 1, dst: 3, sport: 5, dport: 6, proto: 17 },
    { src: 1, dst: 2, v6: true },
    { src: 2, dst: 2 },
  ]);
  const bank = new SketchBank([
    sketchSpec({ name: "a", kind: "distinct", key: ["src_ip"] }),
    sketchSpec({ name: "b", kind: "distinct", key: ["src_ip", "dst_port"] }),
  ], b.capacity);
  bank.addRange(b, 0, b.length);
  const [srcOnly, srcPort] = bank.tasks.map((t) => t.key);
  assert.equal(srcOnly!.a[0], srcOnly!.a[1]);
  assert.equal(srcOnly!.b[0], srcOnly!.b[1]);
  assert.notEqual(srcOnly!.a[0], srcOnly!.a[2], "IPv6 ::1-ish is not IPv4 0.0.0.1");
  assert.notEqual(srcOnly!.a[0], srcOnly!.a[3]);
  assert.notEqual(srcPort!.a[0], srcPort!.a[1]);
});

Deno.test("SketchBank: tcp_syn tasks count SYNs without ACK only", () => {
  const SYN = 0x02, ACK = 0x10;
  const b = batchOf([
    { src: 1, dst: 2, dport: 22, tcp: SYN },
    { src: 1, dst: 2, dport: 23, tcp: SYN },
    { src: 1, dst: 2, dport: 24, tcp: SYN | ACK },
    { src: 1, dst: 2, dport: 25, tcp: ACK },
    { src: 1, dst: 2, dport: 26, proto: 17 },
  ]);
  const bank = new SketchBank([
    sketchSpec({
      name: "scan",
      kind: "spread",
      key: ["src_ip"],
      element: ["dst_port"],
      threshold: 2,
      memoryBytes: 16384,
      filter: "tcp_syn",
    }),
    sketchSpec({ name: "ports", kind: "distinct", key: ["dst_port"], filter: "tcp_syn" }),
  ], b.capacity);
  bank.addRange(b, 0, b.length);
  assert.equal(bank.tasks[0]!.packets, 2);
  const d = bank.tasks[1]!.state;
  if (d.kind === "distinct") assert.equal(Math.round(d.sketch.estimate()), 2);
});
