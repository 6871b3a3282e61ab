/**
 * Live capture on real devices (root only): `lo`, and a veth pair whose far end is in a network
 * namespace this test makes and removes, with traffic the test sends itself. What is captured
 * and decoded must be exactly what was sent: counts, lengths, ports, VLAN ids; the filter keeps
 * only what it names; the kernel drops nothing.
 */

import assert from "node:assert/strict";
import { sendUdp } from "../../_udp.ts";
import { LiveRing } from "../../../collector/live/mod.ts";
import { PacketBatch } from "../../../collector/packet/mod.ts";
import { decodeBatch } from "../../../collector/decode/mod.ts";
import { UserError } from "../../../collector/user_error.ts";
import { makeVeth } from "./_netns.ts";

const ROOT = Deno.uid() === 0;
const SENDER = new URL("./_udp_send.ts", import.meta.url).pathname;

interface Seen {
  packets: number;
  wire: number;
  /** Packets per "vlan/dstPort" (vlan 65535: untagged). */
  byKey: Map<string, number>;
  other: number;
}

/** Reads and decodes until `want` UDP packets to `ports` came or `ms` passed. */
async function capture(ring: LiveRing, ports: Set<number>, want: number, ms: number) {
  const batch = new PacketBatch(512);
  const seen: Seen = { packets: 0, wire: 0, byKey: new Map(), other: 0 };
  const end = performance.now() + ms;
  while (seen.packets < want && performance.now() < end) {
    if (ring.fill(batch) === 0) {
      await ring.wait(50);
      continue;
    }
    decodeBatch(batch);
    for (let i = 0; i < batch.length; i++) {
      if (batch.family[i] !== 4 || batch.proto[i] !== 17 || !ports.has(batch.dstPort[i]!)) {
        seen.other++;
        continue;
      }
      assert.equal(batch.capLen[i], batch.wireLen[i]);
      assert.ok(batch.tsSec[i]! > 1.7e9, "a wall-clock time stamp");
      seen.packets++;
      seen.wire += batch.wireLen[i]!;
      const key = `${batch.vlan[i]}/${batch.dstPort[i]}`;
      seen.byKey.set(key, (seen.byKey.get(key) ?? 0) + 1);
    }
  }
  return seen;
}

Deno.test({
  name:
    "live ring on lo: a full ring's losses are counted, and received = read + dropped + skipped",
  ignore: !ROOT,
  async fn() {
    const port = 40000 + Math.floor(Math.random() * 20000);
    // The smallest ring (two 4 MiB blocks), not read while 6,000 datagrams of 1,400 bytes (each
    // seen twice on lo) arrive: most find it full.
    const ring = LiveRing.open({
      device: "lo",
      filter: `udp and dst port ${port}`,
      bufferBytes: 8 << 20,
    });
    try {
      await sendUdp(port, Array.from({ length: 6000 }, () => 1400));
      ring.stopIntake();
      // Frames after stopIntake are not taken in: the counts are final once the ring is drained.
      await sendUdp(port, [100, 100, 100]);
      const batch = new PacketBatch(512);
      let read = 0;
      while (ring.fill(batch) > 0) read += batch.length;
      const st = ring.stats();
      assert.ok(st.dropped > 0, JSON.stringify(st));
      assert.ok(read > 0 && read < 6000, `${read} read`);
      assert.equal(st.received, read + st.dropped + st.skipped, JSON.stringify({ read, ...st }));
      assert.equal(st.received, 12000, JSON.stringify(st));
    } finally {
      ring.close();
    }
  },
});

Deno.test({
  name: "live ring on lo: the filter keeps only its port, each datagram once, nothing dropped",
  ignore: !ROOT,
  async fn() {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const ring = LiveRing.open({ device: "lo", filter: `udp and dst port ${port}` });
    try {
      const sizes = Array.from({ length: 3000 }, (_, i) => 20 + (i % 50));
      const bytes = await sendUdp(port, sizes);
      // The same again to the next port: the filter must keep them out.
      await sendUdp(port + 1, sizes);
      const seen = await capture(ring, new Set([port, port + 1]), 3000, 5000);
      // Give a duplicate or a packet of the other port the time to show up.
      const more = await capture(ring, new Set([port, port + 1]), 1, 300);
      assert.equal(seen.packets + more.packets, 3000, "each datagram once (lo shows sends too)");
      assert.deepEqual([...seen.byKey], [[`65535/${port}`, 3000]]);
      assert.equal(seen.other + more.other, 0, "the filter let through nothing else");
      // Ethernet (14) + IPv4 (20) + UDP (8) around each payload.
      assert.equal(seen.wire, bytes + 3000 * 42);
      const st = ring.stats();
      assert.equal(st.dropped, 0);
      assert.ok(st.received >= 3000, JSON.stringify(st));
    } finally {
      ring.close();
    }
  },
});

Deno.test({
  name: "live ring on a veth: tagged and untagged traffic from a namespace, counted exactly",
  ignore: !ROOT,
  async fn() {
    const veth = await makeVeth(`${Deno.pid % 10000}`);
    const { host, inNs } = veth;
    try {
      // Tagged frames are made by trafgen (this kernel may have no VLAN devices): 2,000 to
      // port 5007 in VLAN 7, 100 bytes of payload each.
      const ring = LiveRing.open({ device: host, promiscuous: true });
      try {
        const send = (addr: string, port: number, n: number) =>
          inNs(Deno.execPath(), "run", "-A", SENDER, addr, String(port), String(n), "100");
        await veth.trafgen(
          "eth(da=02:00:00:00:00:01, sa=02:00:00:00:00:02), vlan(id=7), " +
            "ipv4(saddr=10.77.0.2, daddr=10.77.0.1), udp(sp=4000, dp=5007), fill(0x41, 100)",
          2000,
        );
        const tagged = 2000 * 100;
        const plain = Number(await send("10.78.0.1", 5008, 1500));
        const seen = await capture(ring, new Set([5007, 5008]), 3500, 5000);
        assert.deepEqual(
          [...seen.byKey].sort(),
          [["65535/5008", 1500], ["7/5007", 2000]],
        );
        // Tagged frames are 4 bytes longer: the tag the kernel took off is back in the frame.
        assert.equal(seen.wire, tagged + plain + 3500 * 42 + 2000 * 4);
        assert.equal(ring.stats().dropped, 0);
      } finally {
        ring.close();
      }
    } finally {
      await veth.remove();
    }
  },
});

Deno.test({
  name: "live ring: a missing device, a bad filter and bad sizes are one-line user errors",
  ignore: !ROOT,
  fn() {
    const cases: [Parameters<typeof LiveRing.open>[0], RegExp][] = [
      [{ device: "nosuchdev0" }, /^No network device "nosuchdev0"\.$/],
      [{ device: "lo", filter: "udp port" }, /^Invalid capture filter "udp port": .+\.$/],
      [{ device: "lo", filter: "x".repeat(5000) }, /longer than 4096 characters/],
      [{ device: "lo", snaplen: 10 }, /^Invalid snaplen 10/],
      [{ device: "lo", bufferBytes: 1000 }, /^Invalid capture buffer 1000/],
      [{ device: "a/b" }, /^Invalid device name "a\/b"\.$/],
    ];
    for (const [opts, re] of cases) {
      assert.throws(() => LiveRing.open(opts), (e: unknown) => {
        assert.ok(e instanceof UserError, String(e));
        assert.match((e as Error).message, re);
        return true;
      });
    }
  },
});
