/**
 * IP reassembly (defrag.ts) on raw IPv4 / IPv6 fragments decoded by our decoders: one line
 * per case, what completes at which fragment.
 */

import assert from "node:assert/strict";
import { FLAG_HAS_PORTS, PacketBatch } from "../../collector/packet/batch.ts";
import { decodeBatch } from "../../collector/decode/mod.ts";
import { Defragmenter } from "../../collector/app/defrag.ts";
import { openCapture } from "../../collector/reader/mod.ts";
import { pcapFile, tempFile } from "../_builders.ts";
import { PCAPS_DIR } from "../_testdata.ts";
import { AppLayer } from "../../collector/app/app_layer.ts";

/** A UDP datagram 10.0.0.1:1000 → 10.0.0.2:53 (or IPv6) carrying `n` payload bytes k & 255. */
function udpDatagram(n: number): Uint8Array {
  const d = new Uint8Array(8 + n);
  d.set([1000 >> 8, 1000 & 255, 0, 53, (8 + n) >> 8, (8 + n) & 255, 0, 0]);
  for (let k = 0; k < n; k++) d[8 + k] = k & 255;
  return d;
}

/** Fragment [from, to) of `dg` as a raw IPv4 packet (id, More Fragments unless last). */
function v4(dg: Uint8Array, from: number, to: number, id: number, more: boolean): Uint8Array {
  const p = new Uint8Array(20 + to - from);
  const total = p.length, frag = (from >> 3) | (more ? 0x2000 : 0);
  p.set([0x45, 0, total >> 8, total & 255, id >> 8, id & 255, frag >> 8, frag & 255, 64, 17]);
  p.set([10, 0, 0, 1, 10, 0, 0, 2], 12);
  p.set(dg.subarray(from, to), 20);
  return p;
}

/** The same as IPv6 with a Fragment header (32-bit id). */
function v6(dg: Uint8Array, from: number, to: number, id: number, more: boolean): Uint8Array {
  const p = new Uint8Array(48 + to - from);
  const plen = 8 + to - from;
  p.set([0x60, 0, 0, 0, plen >> 8, plen & 255, 44, 64]);
  p[23] = 1, p[39] = 2; // ::1 → ::2
  const off = (from >> 3) << 3 | (more ? 1 : 0);
  p.set([17, 0, off >> 8, off & 255, id >>> 24, (id >>> 16) & 255, (id >>> 8) & 255, id & 255], 40);
  p.set(dg.subarray(from, to), 48);
  return p;
}

type Frag = [from: number, to: number, id: number, more: boolean, cut?: boolean];

/** Per fragment: the completed datagram's UDP payload length and ports ("-" none). */
async function run(
  fam: 4 | 6,
  dg: Uint8Array,
  frags: Frag[],
  d = new Defragmenter(),
): Promise<{ at: string[]; lost: number }> {
  const records = frags.map(([from, to, id, more, cut]) => {
    const p = (fam === 4 ? v4 : v6)(dg, from, to, id, more);
    return cut
      ? { sec: 1, frac: 0, data: p.subarray(0, p.length - 4), wireLen: p.length }
      : { sec: 1, frac: 0, data: p };
  });
  const file = await tempFile(pcapFile(records, { linkType: 101 }));
  const r = await openCapture(file);
  const b = new PacketBatch(), whole = new PacketBatch(1);
  const at: string[] = [];
  for (let n; (n = await r.fill(b)) > 0;) {
    decodeBatch(b);
    for (let i = 0; i < n; i++) {
      if (!d.addInto(b, i, whole)) at.push("-");
      else {
        const ok = (whole.flags[0]! & FLAG_HAS_PORTS) !== 0;
        const data = whole.bytes.subarray(
          whole.payloadOff[0]!,
          whole.payloadOff[0]! + whole.payloadLen[0]!,
        );
        const intact = data.every((v, k) => v === (k & 255));
        at.push(
          ok
            ? `${whole.payloadLen[0]}:${whole.srcPort[0]}>${whole.dstPort[0]}${intact ? "" : "!"}`
            : "?",
        );
      }
    }
  }
  r.close();
  await Deno.remove(file);
  return { at, lost: d.lost };
}

Deno.test("Defragmenter: one line per case (what completes at which fragment)", async () => {
  const dg = udpDatagram(3000); // 3,008 bytes: fragments of 1,480 (185 units) and the rest
  const A: Frag = [0, 1480, 7, true],
    B: Frag = [1480, 2960, 7, true],
    C: Frag = [2960, 3008, 7, false];
  const cases: [string, Frag[], string[], number][] = [
    ["in order", [A, B, C], ["-", "-", "3000:1000>53"], 0],
    ["last first", [C, A, B], ["-", "-", "3000:1000>53"], 0],
    ["a duplicate is absorbed", [A, A, C, B], ["-", "-", "-", "3000:1000>53"], 0],
    [
      "overlapping fragments",
      [[0, 2000, 7, true], [1480, 3008, 7, false]],
      ["-", "3000:1000>53"],
      0,
    ],
    ["a missing fragment: never whole", [A, C], ["-", "-"], 0],
    [
      "a fragment cut by the snaplen loses it",
      [A, [1480, 2960, 7, true, true], C],
      ["-", "-", "-"],
      1,
    ],
    ["two datagrams interleaved by id", [A, [0, 1480, 8, true], B, C, [1480, 3008, 8, false]], [
      "-",
      "-",
      "-",
      "3000:1000>53",
      "3000:1000>53",
    ], 0],
    ["a middle fragment not in whole units is malformed", [[0, 1001, 7, true], [
      1001,
      3008,
      7,
      false,
    ]], [
      "-",
      "-",
    ], 1],
    ["a last fragment shorter than the rest is malformed", [B, [8, 16, 7, false]], ["-", "-"], 1],
  ];
  for (const fam of [4, 6] as const) {
    for (const [what, frags, want, lost] of cases) {
      assert.deepEqual(await run(fam, dg, frags), { at: want, lost }, `IPv${fam}: ${what}`);
    }
  }
});

Deno.test("Defragmenter: limits (no buffer, past 65,535 bytes, idle datagrams swept)", async () => {
  const dg = udpDatagram(3000);
  const one = new Defragmenter(16, 1);
  assert.deepEqual(
    await run(4, dg, [[0, 1480, 1, true], [0, 1480, 2, true], [1480, 3008, 2, false], [
      1480,
      3008,
      1,
      false,
    ]], one),
    { at: ["-", "-", "-", "3000:1000>53"], lost: 1 },
    "the second datagram found no buffer; its fragments are absorbed",
  );
  const big = new Defragmenter();
  const huge = udpDatagram(66000);
  assert.deepEqual(await run(4, huge, [[0, 1480, 3, true], [65528, 66008, 3, false]], big), {
    at: ["-", "-"],
    lost: 1,
  });
  const idle = new Defragmenter();
  await run(4, dg, [[0, 1480, 4, true]], idle);
  assert.equal(idle.inProgress, 1);
  idle.sweepIdle();
  assert.equal(idle.inProgress, 1, "touched during the window: kept");
  idle.sweepIdle();
  assert.deepEqual([idle.inProgress, idle.lost], [0, 1], "a whole window without a fragment");
});

Deno.test("AppLayer: an HTTP request in 11 IPv4 fragments is counted once, whole", async () => {
  const app = new AppLayer();
  const r = await openCapture(`${PCAPS_DIR}pcapplusplus__frag_http_req.pcap`);
  const b = new PacketBatch();
  for (let n; (n = await r.fill(b)) > 0;) decodeBatch(b), app.addRange(b, 0, n);
  r.close();
  const keys = Array.from({ length: app.own.http.size }, (_, e) => app.own.http.keyText(e));
  assert.deepEqual(keys, ["js.bizographics.com\0GET\0/convert_data.js"]);
  assert.equal(app.own.httpRequests, 1);
  assert.equal(app.defragLost, 0);
});

Deno.test("AppLayer: a datagram that never completes is counted lost, in the window after its drop", async () => {
  const file = await tempFile(
    pcapFile([{ sec: 1, frac: 0, data: v4(udpDatagram(3000), 0, 1480, 5, true) }], {
      linkType: 101,
    }),
  );
  const app = new AppLayer();
  const r = await openCapture(file);
  const b = new PacketBatch();
  for (let n; (n = await r.fill(b)) > 0;) decodeBatch(b), app.addRange(b, 0, n);
  r.close();
  await Deno.remove(file);
  assert.equal(app.defragLost, 0, "still waiting for its other fragments");
  app.clear(); // the window it came in ends
  assert.equal(app.defragLost, 0);
  app.clear(); // a whole window without a fragment: dropped, counted in the next one
  assert.equal(app.defragLost, 1);
  app.clear();
  assert.equal(app.defragLost, 0, "counted once");
});
