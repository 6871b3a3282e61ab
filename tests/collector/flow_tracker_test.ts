/**
 * Flow lifecycle against tshark's conversations: both directions' packets and bytes and the
 * TCP SYN / SYN-ACK / FIN / RST frame counts, summed over a conversation's records; close
 * reasons of complete and reset TCP sessions; timeouts.
 */

import assert from "node:assert/strict";
import { PacketBatch } from "../../collector/packet/batch.ts";
import { decodeBatch } from "../../collector/decode/mod.ts";
import {
  FlowRecords,
  type FlowRecordView,
  FlowTracker,
  readRecord,
} from "../../collector/engine/flow_tracker.ts";
import { GEN_DEFAULTS, generate } from "../../collector/gen/gen.ts";
import { ipv4Text, ipv6Text } from "../../collector/packet/ip_text.ts";
import { openCapture } from "../../collector/reader/mod.ts";
import { captures, PCAPS_DIR } from "../_testdata.ts";

async function track(
  path: string,
  opts = {},
  /** Hand the records ended so far over before the end of input (as a window close does). */
  takeBeforeEnd = false,
): Promise<{ recs: FlowRecordView[]; packets: number; tracker: FlowTracker }> {
  const out = new FlowRecords(64);
  const tracker = new FlowTracker(out, opts);
  const reader = await openCapture(path);
  const batch = new PacketBatch(7); // small batches: sweeps and state cross batch borders
  let packets = 0;
  while (await reader.fill(batch) > 0) {
    decodeBatch(batch);
    tracker.addBatch(batch);
    for (let i = 0; i < batch.length; i++) if (batch.family[i] !== 0) packets++;
  }
  reader.close();
  const before: FlowRecordView[] = [];
  if (takeBeforeEnd) {
    const taken = out.take();
    const rows = FlowRecords.of(taken.words, taken.length);
    for (let r = 0; r < rows.length; r++) before.push(readRecord(rows, r));
  }
  tracker.sweep(true);
  const recs = Array.from({ length: out.length }, (_, r) => readRecord(out, r));
  return { recs: [...before, ...recs], packets, tracker };
}

function addr(family: number, w: Int32Array): string {
  return family === 4 ? ipv4Text(w[0]!) : ipv6Text(w);
}

interface Conv {
  family: string;
  proto: number;
  a: string;
  a_port: number | null;
  b: string;
  b_port: number | null;
  packets_a_to_b: number;
  bytes_a_to_b: number;
  packets_b_to_a: number;
  bytes_b_to_a: number;
  tcp_flags?: { syn: number; synack: number; fin: number; rst: number };
}

const usable = captures().filter((c) => !(c.truth.frame_count === 0 && c.truth.tshark_error));

Deno.test("FlowTracker records add up to tshark's conversations on every capture", async () => {
  for (const { path, name, truth } of usable) {
    const { recs, packets, tracker } = await track(path);
    assert.equal(tracker.overflowPackets, 0);
    assert.equal(tracker.size, 0, "nothing left after the end");
    const total = recs.reduce((n, r) => n + r.packetsFwd + r.packetsRev, 0);
    assert.equal(total, packets, `${name}: every IP packet is in exactly one record`);
    // Sum records by directed endpoint pair.
    const dir = new Map<
      string,
      { p: number; b: number; syn: number; synack: number; fin: number; rst: number }
    >();
    const add = (k: string, p: number, b: number, f: [number, number, number, number]) => {
      const v = dir.get(k) ?? { p: 0, b: 0, syn: 0, synack: 0, fin: 0, rst: 0 };
      v.p += p, v.b += b, v.syn += f[0], v.synack += f[1], v.fin += f[2], v.rst += f[3];
      dir.set(k, v);
    };
    for (const r of recs) {
      const s = `${addr(r.family, r.src)}|${r.srcPort ?? ""}`,
        d = `${addr(r.family, r.dst)}|${r.dstPort ?? ""}`;
      const pair = [s, d].sort().join("~") + `|${r.proto}`;
      add(`${pair}|${s}`, r.packetsFwd, r.bytesFwd, [r.syn, r.synAck, r.fin, r.rst]);
      add(`${pair}|${d}`, r.packetsRev, r.bytesRev, [0, 0, 0, 0]);
    }
    const convs = (truth as unknown as { conversations: Conv[] }).conversations;
    let flagSum = { syn: 0, synack: 0, fin: 0, rst: 0 };
    for (const c of convs) {
      const a = `${c.a}|${c.a_port ?? ""}`, b = `${c.b}|${c.b_port ?? ""}`;
      const pair = [a, b].sort().join("~") + `|${c.proto}`;
      const ab = dir.get(`${pair}|${a}`), ba = dir.get(`${pair}|${b}`);
      if (a === b) {
        assert.equal(ab?.p, c.packets_a_to_b + c.packets_b_to_a, `${name} ${pair}`);
        continue;
      }
      assert.deepEqual([ab?.p ?? 0, ab?.b ?? 0, ba?.p ?? 0, ba?.b ?? 0], [
        c.packets_a_to_b,
        c.bytes_a_to_b,
        c.packets_b_to_a,
        c.bytes_b_to_a,
      ], `${name} ${pair}`);
      if (c.tcp_flags) {
        flagSum = {
          syn: flagSum.syn + c.tcp_flags.syn,
          synack: flagSum.synack + c.tcp_flags.synack,
          fin: flagSum.fin + c.tcp_flags.fin,
          rst: flagSum.rst + c.tcp_flags.rst,
        };
      }
    }
    const ours = recs.filter((r) => r.proto === 6).reduce(
      (f, r) => ({
        syn: f.syn + r.syn,
        synack: f.synack + r.synAck,
        fin: f.fin + r.fin,
        rst: f.rst + r.rst,
      }),
      { syn: 0, synack: 0, fin: 0, rst: 0 },
    );
    assert.deepEqual(ours, flagSum, `${name} TCP flag frame counts`);
  }
});

Deno.test("FlowTracker closes a full handshake and teardown with reason fin", async () => {
  const { recs } = await track(PCAPS_DIR + "tcpdump__print-flags.pcap");
  assert.equal(recs.length, 1);
  const r = recs[0]!;
  assert.equal(r.reason, "fin");
  assert.equal(r.srcPort, 55920, "initiator is the SYN sender");
  assert.deepEqual([r.packetsFwd, r.packetsRev, r.bytesFwd + r.bytesRev], [6, 4, 6437]);
  assert.equal(r.syn, 1), assert.equal(r.synAck, 1), assert.equal(r.fin, 2);
});

Deno.test("FlowTracker closes a reset connection with reason rst", async () => {
  const { recs } = await track(PCAPS_DIR + "tcpdump__tcp_rst_data.pcap");
  assert.deepEqual(recs.map((r) => r.reason), ["rst"]);
});

/** A generated capture of `packets` over `flows` at 5,000 packets/s, removed after `fn`. */
async function withGenCapture(
  o: { packets: number; flows: number },
  fn: (path: string) => Promise<void>,
): Promise<void> {
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    const f = await Deno.open(path, { write: true });
    await generate(f, { ...GEN_DEFAULTS, ...o, ratePps: 5000 });
    f.close();
    await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("FlowTracker exports idle flows and long flows periodically", async () => {
  // 100k generated packets over ~20 s: popular flows run throughout, rare ones go idle.
  await withGenCapture({ packets: 100_000, flows: 2000 }, async (path) => {
    const { recs, packets } = await track(path, { idleSec: 5, activeSec: 3 });
    const reasons = new Set(recs.map((r) => r.reason));
    for (const want of ["idle", "active", "fin", "end"]) {
      assert.ok(reasons.has(want), [...reasons].join());
    }
    assert.equal(recs.reduce((n, r) => n + r.packetsFwd + r.packetsRev, 0), packets);
    for (const r of recs.filter((r) => r.reason === "active")) {
      assert.ok(r.endSec - r.startSec <= 3 + 1, "an active export covers about one active period");
    }
  });
});

Deno.test("end of input hands every record over once, in the tracker's array or copied", async () => {
  // Many records ended before the end (idle, active, fin) do not fit beside the open flows in
  // the tracker's own array (copied); with them handed over first, the open flows always fit
  // (the array itself). Both give the same records.
  await withGenCapture({ packets: 50_000, flows: 1500 }, async (path) => {
    const opts = { idleSec: 4, activeSec: 3 };
    const text = (recs: FlowRecordView[]) => recs.map((r) => JSON.stringify(r)).sort();
    const copied = await track(path, opts);
    const inPlace = await track(path, opts, true);
    assert.ok(copied.recs.filter((r) => r.reason !== "end").length > 1500);
    assert.deepEqual(text(inPlace.recs), text(copied.recs));
    assert.equal(copied.recs.reduce((n, r) => n + r.packetsFwd + r.packetsRev, 0), copied.packets);
    assert.equal(copied.tracker.size, 0);
  });
});

Deno.test("FlowTracker counts packets of flows beyond its limit", async () => {
  const { recs, packets, tracker } = await track(PCAPS_DIR + "pcapplusplus__DnsPackets.pcap", {
    flowsMax: 3,
  });
  const inRecords = recs.reduce((n, r) => n + r.packetsFwd + r.packetsRev, 0);
  assert.ok(tracker.overflowPackets > 0);
  assert.equal(inRecords + tracker.overflowPackets, packets);
});
