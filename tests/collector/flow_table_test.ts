/**
 * Exact aggregation on any subset of key fields, checked against tshark's flows rolled up
 * by hand; overflow accounting; rollups equal direct grouping.
 */

import assert from "node:assert/strict";
import { analyzeFiles } from "../_memory.ts";
import { PacketBatch } from "../../collector/packet/batch.ts";
import { decodeBatch } from "../../collector/decode/mod.ts";
import { ENTRY_WORDS, FlowTable } from "../../collector/engine/flow_table.ts";
import { reserveWords } from "../../collector/engine/_reserve.ts";
import { UserError } from "../../collector/user_error.ts";
import {
  FlowRecords,
  FlowTracker,
  type FlowTrackerOptions,
} from "../../collector/engine/flow_tracker.ts";
import { GEN_DEFAULTS, generate } from "../../collector/gen/gen.ts";
import { openCapture } from "../../collector/reader/mod.ts";
import { FIVE_TUPLE, type KeyField, parseKeyFields } from "../../collector/packet/key_fields.ts";
import { flowRows } from "../_memory.ts";
import { pcapFile, tempFile, udpFrame } from "../_builders.ts";
import { captures, type TruthFlow, usableCaptures } from "../_testdata.ts";

const GROUPINGS: KeyField[][] = [
  ["src_ip"],
  ["dst_ip", "dst_port"],
  ["proto"],
  ["src_ip", "dst_ip"],
  ["src_port"],
];

const TRUTH_FIELD: Record<string, (f: TruthFlow) => string | number | null> = {
  src_ip: (f) => f.src,
  dst_ip: (f) => f.dst,
  proto: (f) => f.proto,
  src_port: (f) => f.sport,
  dst_port: (f) => f.dport,
};

const usable = captures().filter((c) => !(c.truth.frame_count === 0 && c.truth.tshark_error));

for (const g of GROUPINGS) {
  Deno.test(`FlowTable grouped by ${g.join(",")} equals tshark flows rolled up, every capture`, async () => {
    for (const { path, name, truth } of usable) {
      const res = await analyzeFiles({ files: [path], groupBy: g });
      const ours = new Map<string, [number, number]>();
      for (const r of flowRows(res.flows, g)) {
        ours.set(g.map((f) => String(r[f] ?? "")).join("|"), [r.packets, r.bytes]);
      }
      const theirs = new Map<string, [number, number]>();
      for (const f of truth.flows) {
        const key = g.map((k) => String(TRUTH_FIELD[k]!(f) ?? "")).join("|");
        const v = theirs.get(key) ?? [0, 0];
        theirs.set(key, [v[0] + f.packets, v[1] + f.bytes]);
      }
      assert.deepEqual(ours, theirs, name);
      // A coarser table rolled up from the 5-tuple table is the same as grouping directly.
      const five = await analyzeFiles({ files: [path] });
      const rolled = new FlowTable(g);
      five.flows.rollupInto(rolled);
      assert.deepEqual(flowRows(rolled, g), flowRows(res.flows, g), `${name} rollup`);
    }
  });
}

Deno.test("FlowTable first/last timestamps are the earliest and latest of the flow's frames", async () => {
  const ns = (t: string) => {
    const [sec, frac = ""] = t.split(".");
    return BigInt(sec!) * 1_000_000_000n + BigInt(frac.padEnd(9, "0").slice(0, 9));
  };
  let checked = 0;
  for (const { path, name, truth } of usable) {
    const frames = (truth as unknown as { frames?: (string | number | null)[][] }).frames;
    // tshark's time for an out-of-range µs field is not meaningful (see the truth README).
    if (!frames || name.includes("timestamp_invalid")) continue;
    const res = await analyzeFiles({ files: [path] });
    for (const r of flowRows(res.flows, FIVE_TUPLE)) {
      const times: bigint[] = frames.filter((f) =>
        f[9] === r.src_ip && f[10] === r.dst_ip && f[11] === r.proto &&
        f[12] === (r.src_port ?? null) && f[13] === (r.dst_port ?? null) && f[1] !== ""
      ).map((f) => ns(f[1] as string));
      if (times.length === 0) continue;
      const min = times.reduce((a: bigint, b: bigint) => a < b ? a : b);
      const max = times.reduce((a: bigint, b: bigint) => a > b ? a : b);
      assert.equal(ns(r.first_ts!), min, `${name} first_ts`);
      assert.equal(ns(r.last_ts!), max, `${name} last_ts`);
      checked++;
    }
  }
  assert.ok(checked > 500, `${checked} flows checked`);
});

Deno.test("FlowTable counts packets that find it full instead of dropping them silently", async () => {
  const recs = Array.from(
    { length: 20 },
    (_, k) => ({ sec: k, frac: 0, data: udpFrame(60, 1 + (k % 5)) }),
  );
  const path = await tempFile(pcapFile(recs));
  try {
    const res = await analyzeFiles({ files: [path], flowsMax: 2 });
    assert.equal(res.flows.size, 2);
    let stored = 0;
    for (let e = 0; e < res.flows.size; e++) stored += res.flows.packets(e);
    assert.equal(stored + res.flows.overflowPackets, 20);
    assert.equal(res.flows.overflowPackets, 12);
    assert.equal(res.flows.overflowBytes, 12 * 60);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("FlowTable keeps many distinct keys across resizes", () => {
  const batch = new PacketBatch(1000);
  const t = new FlowTable(FIVE_TUPLE);
  const frame = udpFrame(60);
  batch.bytes = frame;
  for (let round = 0; round < 50; round++) {
    batch.length = 1000;
    for (let i = 0; i < 1000; i++) {
      batch.dataOff[i] = 0, batch.capLen[i] = 60, batch.wireLen[i] = 60, batch.linkType[i] = 1;
      batch.tsSec[i] = round, batch.tsNsec[i] = i;
    }
    decodeBatch(batch);
    // Make every packet its own key: vary the source address word after decoding.
    for (let i = 0; i < 1000; i++) batch.src[i * 4] = round * 1000 + i;
    t.addBatch(batch);
  }
  assert.equal(t.size, 50_000);
  let total = 0;
  for (let e = 0; e < t.size; e++) total += t.packets(e);
  assert.equal(total, 50_000);
  assert.ok(t.allocatedBytes / t.size <= 150, `${t.allocatedBytes / t.size} B per flow`);
});

Deno.test("parseKeyFields() reports every problem at once", () => {
  assert.deepEqual(parseKeyFields("src_ip, dst_port"), ["src_ip", "dst_port"]);
  assert.throws(
    () => parseKeyFields("src_ip,bogus,src_ip,mac"),
    /unknown field "bogus"; field "src_ip" given twice; unknown field "mac"/,
  );
  assert.throws(() => parseKeyFields(""), /no fields given/);
});

Deno.test("FlowTable groups by VLAN id", async () => {
  const path = `${
    new URL("../../../shared/testdata/pcaps/", import.meta.url).pathname
  }pcapplusplus__VlanPackets.pcap`;
  const res = await analyzeFiles({ files: [path], groupBy: ["vlan"] });
  const rows = flowRows(res.flows, ["vlan"]);
  const total = rows.reduce((n, r) => n + r.packets, 0);
  assert.equal(total, res.totals.ipv4Frames + res.totals.ipv6Frames);
  assert.ok(rows.every((r) => r.vlan !== undefined));
  assert.ok(rows.some((r) => typeof r.vlan === "number"));
});

/** Every entry of `t` as text, in key order (an order-free picture of the table). */
function entriesOf(t: FlowTable): string[] {
  const out: string[] = [];
  for (let e = 0; e < t.size; e++) {
    const w = Array.from(t.records.subarray(e * ENTRY_WORDS, (e + 1) * ENTRY_WORDS));
    out.push(w.join(","));
  }
  return out.sort();
}

Deno.test("FlowTable.addBatchHinted counts exactly what addBatch counts, over windows and record reuse", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/g.pcap`;
    const out = await Deno.open(file, { write: true, create: true });
    // Short idle and linger: tracker records end and are taken again by other flows.
    await generate(out, { ...GEN_DEFAULTS, packets: 120_000, flows: 20_000, ratePps: 2_000 });
    out.close();
    const files = [file, ...usableCaptures().map((c) => c.path)];
    const cases: [string, Partial<FlowTrackerOptions>, readonly KeyField[]][] = [
      ["5-tuple, short timeouts", { idleSec: 2, activeSec: 5, lingerSec: 0 }, FIVE_TUPLE],
      ["5-tuple + vlan, tracker full", { flowsMax: 300 }, [...FIVE_TUPLE, "vlan"]],
      ["src_ip, dst_port", { idleSec: 1, activeSec: 3 }, ["src_ip", "dst_port"]],
    ];
    for (const [what, flows, key] of cases) {
      for (const f of files) {
        const plain = new FlowTable(key), hinted = new FlowTable(key);
        const tracker = new FlowTracker(new FlowRecords(16), flows);
        const batch = new PacketBatch(512), hints = new Int32Array(512);
        const r = await openCapture(f).catch(() => null);
        if (r === null) continue;
        let windows = 0;
        for (let k; (k = await r.fill(batch)) > 0;) {
          decodeBatch(batch);
          // Two ranges a batch, as the engine gives around a window's edge.
          const mid = k >>> 1;
          for (const [from, to] of [[0, mid], [mid, k]] as const) {
            tracker.addBatch(batch, from, to, hints);
            tracker.out.clear();
            plain.addBatch(batch, from, to);
            hinted.addBatchHinted(batch, from, to, hints);
          }
          if (++windows % 37 === 0) {
            assert.deepEqual(entriesOf(hinted), entriesOf(plain), `${what}: ${f}`);
            plain.clear(), hinted.clear();
          }
        }
        r.close();
        assert.deepEqual(entriesOf(hinted), entriesOf(plain), `${what}: ${f}`);
        assert.equal(hinted.overflowPackets, plain.overflowPackets);
        if (f === file) {
          assert.ok(plain.size > 100, `${what}: ${plain.size} entries, ${windows} batches`);
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a record reservation the system refuses is a one-line user error", () => {
  // 2^40 words cannot be reserved anywhere: the same path as a refused --memory on a small box.
  assert.throws(
    () => reserveWords(2 ** 40, "an exact table of 2^38 keys"),
    (e: unknown) =>
      e instanceof UserError &&
      /^Cannot reserve 4194304 MiB for an exact table of 2\^38 keys: lower --memory/.test(
        e.message,
      ),
  );
  assert.equal(reserveWords(16, "a test").length, 16);
});
