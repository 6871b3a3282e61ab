/**
 * DNS split across TCP segments and a DNS answer in IPv4 fragments, built here, against what a
 * real tshark (4.0.17, Debian 12) reported for these same bytes with its default preferences:
 *
 *   tshark -r FILE -Y dns -T fields -e frame.number -e dns.id -e dns.qry.name
 *
 * The shared captures hold no such case; these recorded answers keep our reassembled view
 * (dns_tcp.ts, defrag.ts) to tshark's.
 */

import assert from "node:assert/strict";
import { writeFrame } from "../../collector/gen/packets.ts";
import { dnsMessage, lengthPrefixed, pcapFile, tempFile } from "../_builders.ts";
import { dnsReassembled } from "../_app.ts";

const LONG = `${"a".repeat(60)}.${"b".repeat(60)}.example`;

/** 10.0.0.1:40000 ↔ 10.0.0.2:53 over TCP: handshake, queries cut at odd places, answers. */
function tcpCapture(): Uint8Array {
  const records: { sec: number; frac: number; data: Uint8Array }[] = [];
  const buf = new Uint8Array(2048), view = new DataView(buf.buffer);
  const next = [0, 0];
  const segment = (toServer: boolean, flags: number, seq: number, payload: number[]) => {
    const ep = {
      v6: false,
      src: toServer ? 0x0a000001 : 0x0a000002,
      dst: toServer ? 0x0a000002 : 0x0a000001,
      srcPort: toServer ? 40000 : 53,
      dstPort: toServer ? 53 : 40000,
      vlan: -1,
    };
    const n = writeFrame(buf, 0, ep, 6, flags, seq, new Uint8Array(payload), payload.length);
    next[toServer ? 0 : 1] = (seq + payload.length + ((flags & 0x02) !== 0 ? 1 : 0)) >>> 0;
    // Acknowledge what the other side sent, as tshark's sequence analysis expects.
    view.setUint32(14 + 20 + 8, (flags & 0x10) !== 0 ? next[toServer ? 1 : 0]! : 0);
    records.push({ sec: 1_700_000_000, frac: records.length * 1000, data: buf.slice(0, n) });
  };
  const q = [
    lengthPrefixed(dnsMessage(1, "one.example", false)),
    lengthPrefixed(dnsMessage(2, LONG, false)),
  ];
  q.push(lengthPrefixed(dnsMessage(3, "three.example", false)));
  const queries = q.flat();
  const answers = [
    ...lengthPrefixed(dnsMessage(1, "one.example", true)),
    ...lengthPrefixed(dnsMessage(2, LONG, true)),
  ];
  segment(true, 0x02, 999, []), segment(false, 0x12, 4999, []), segment(true, 0x10, 1000, []);
  // Inside the first length prefix, inside a name, across message boundaries.
  const cuts = [1, 20, q[0]!.length + 3, q[0]!.length + q[1]!.length + 5, queries.length];
  let p = 0;
  for (const k of cuts) segment(true, 0x18, 1000 + p, queries.slice(p, k)), p = k;
  segment(false, 0x18, 5000, answers.slice(0, 30)), segment(false, 0x18, 5030, answers.slice(30));
  return pcapFile(records);
}

/** A UDP DNS answer from 10.0.0.2:53 in two IPv4 fragments, the last one first (raw IP). */
function fragmentCapture(): Uint8Array {
  const m = dnsMessage(9, `${LONG}.frag`, true);
  const udp = [0, 53, 0x9c, 0x40, (8 + m.length) >> 8, (8 + m.length) & 255, 0, 0, ...m];
  const fragment = (from: number, to: number, more: boolean) => {
    const total = 20 + to - from, frag = (from >> 3) | (more ? 0x2000 : 0);
    const h = [0x45, 0, total >> 8, total & 255, 0, 77, frag >> 8, frag & 255, 64, 17, 0, 0];
    return new Uint8Array([...h, 10, 0, 0, 2, 10, 0, 0, 1, ...udp.slice(from, to)]);
  };
  return pcapFile([
    { sec: 1, frac: 0, data: fragment(96, udp.length, false) },
    { sec: 1, frac: 1, data: fragment(0, 96, true) },
  ], { linkType: 101 });
}

/** Our entries in tshark's field output shape: frame, ids, names. */
async function ours(capture: Uint8Array): Promise<string[]> {
  const file = await tempFile(capture);
  try {
    return (await dnsReassembled(file)).map((e) =>
      [
        e.frame,
        e.messages.map((x) => `0x${x.id.toString(16).padStart(4, "0")}`).join(","),
        e.messages.map((x) => x.queries.map((q) => q[0]).join(",")).join(","),
      ].join("\t")
    );
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("DNS over TCP split across segments: the frames and messages tshark reports", async () => {
  assert.deepEqual(await ours(tcpCapture()), [
    "6\t0x0001\tone.example",
    `7\t0x0002\t${LONG}`,
    "8\t0x0003\tthree.example",
    `10\t0x0001,0x0002\tone.example,${LONG}`,
  ]);
});

Deno.test("DNS in IPv4 fragments: reported at the fragment that completes it, as tshark", async () => {
  assert.deepEqual(await ours(fragmentCapture()), [`2\t0x0009\t${LONG}.frag`]);
});
