/**
 * Crafted frames that nest encapsulations thousands deep — MPLS pseudowire → Ethernet → MPLS …,
 * VLAN and QinQ tags, 802.1ah, LLC/SNAP, PPPoE, IPv6 extension headers — are decoded to a
 * bounded depth and counted (link_too_deep, ipv6_ext_too_many), never a crash.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PacketBatch } from "../../../collector/packet/batch.ts";
import { decodeBatch, ERROR_NAMES } from "../../../collector/decode/mod.ts";
import { rng } from "../../../collector/gen/gen.ts";

const MAC = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
/** Units a frame can stack, each ending in the EtherType of what follows. */
const UNITS: Record<string, (next: number) => number[]> = {
  vlan: (next) => [0x00, 0x05, next >> 8, next & 255],
  qinq: (next) => [0x00, 0x07, next >> 8, next & 255],
  pbb: (next) => [0, 0, 0, 1, ...MAC, next >> 8, next & 255],
  snap: (next) => [0xaa, 0xaa, 0x03, 0, 0, 0, next >> 8, next & 255],
};
const TYPE_OF: Record<string, number> = { vlan: 0x8100, qinq: 0x88a8, pbb: 0x88e7, snap: 60 };
const MPLS = 0x8847, IPV6 = 0x86dd;

/** An MPLS label (bottom of stack) then a pseudowire control word: an Ethernet frame follows. */
function mplsPseudowire(): number[] {
  return [0x00, 0x01, 0x01, 0x40, 0, 0, 0, 0, ...MAC];
}

/** IPv6 with `n` Hop-by-Hop/Destination option headers chained, then UDP. */
function ipv6Chain(n: number): number[] {
  const ext: number[] = [];
  for (let k = 0; k < n; k++) ext.push(k + 1 < n ? 60 : 17, 0, 1, 4, 0, 0, 0, 0);
  const payload = ext.length + 8;
  return [
    0x60,
    0,
    0,
    0,
    payload >> 8,
    payload & 255,
    n > 0 ? 0 : 17,
    64,
    ...new Array(16).fill(0).map((_, j) => j === 15 ? 1 : 0),
    ...new Array(16).fill(0).map((_, j) => j === 15 ? 2 : 0),
    ...ext,
    0x04,
    0xd2,
    0x16,
    0x2e,
    0,
    8,
    0,
    0,
  ];
}

/** A frame of up to `maxBytes`: Ethernet, then random units, pseudowires, and IPv6 last. */
function nestedFrame(rand: () => number, maxBytes: number): Uint8Array {
  const bytes: number[] = [...MAC];
  const names = Object.keys(UNITS);
  // The EtherType field of the header being built is the last 2 bytes pushed.
  while (bytes.length < maxBytes - 64) {
    const r = rand();
    const setType = (
      t: number,
    ) => (bytes[bytes.length - 2] = t >> 8, bytes[bytes.length - 1] = t & 255);
    if (bytes.length === MAC.length) bytes.push(0, 0);
    if (r < 0.4) {
      setType(MPLS);
      bytes.push(...mplsPseudowire(), 0, 0);
    } else {
      const name = names[Math.floor(rand() * names.length)]!;
      setType(TYPE_OF[name]!);
      bytes.push(...UNITS[name]!(0));
    }
    if (rand() < 0.01) break;
  }
  bytes[bytes.length - 2] = IPV6 >> 8, bytes[bytes.length - 1] = IPV6 & 255;
  bytes.push(...ipv6Chain(Math.floor(rand() * 300)));
  return new Uint8Array(bytes);
}

function decodeOne(frame: Uint8Array, batch: PacketBatch): number {
  batch.length = 1;
  batch.bytes = frame;
  batch.dataOff[0] = 0;
  batch.capLen[0] = frame.length;
  batch.wireLen[0] = frame.length;
  batch.linkType[0] = 1;
  decodeBatch(batch);
  return batch.error[0]!;
}

Deno.test("decoders stop crafted deep nesting at a bounded depth and count it", () => {
  const batch = new PacketBatch(1);
  // The worst case: 64 KiB of MPLS pseudowire → Ethernet → MPLS … (about 2,900 levels).
  const deep: number[] = [...MAC, MPLS >> 8, MPLS & 255];
  while (deep.length < 65_000) deep.push(...mplsPseudowire(), MPLS >> 8, MPLS & 255);
  assert.equal(ERROR_NAMES[decodeOne(new Uint8Array(deep), batch)], "link_too_deep");
  // Thousands of VLAN tags.
  const tags: number[] = [...MAC, 0x81, 0x00];
  while (tags.length < 65_000) tags.push(0, 5, 0x81, 0x00);
  assert.equal(ERROR_NAMES[decodeOne(new Uint8Array(tags), batch)], "link_too_deep");
  // A few levels still decode to the inner IPv6 packet.
  const shallow = [...MAC, MPLS >> 8, MPLS & 255, ...mplsPseudowire(), 0x81, 0x00];
  shallow.push(...UNITS.vlan!(IPV6), ...ipv6Chain(3));
  assert.equal(decodeOne(new Uint8Array(shallow), batch), 0);
  assert.equal(batch.family[0], 6);
  assert.equal(batch.vlan[0], 5, "the outermost tag after the pseudowire");
});

Deno.test("decoders survive 3,000 generated nestings of every encapsulation mixed", () => {
  const rand = rng(99);
  const batch = new PacketBatch(1);
  const seen = new Set<string>();
  for (let k = 0; k < 3000; k++) {
    const frame = nestedFrame(rand, 64 + Math.floor(rand() * 65_000));
    const err = decodeOne(frame, batch);
    assert.ok(err >= 0 && err < ERROR_NAMES.length, `frame ${k}: error code ${err}`);
    seen.add(ERROR_NAMES[err]!);
  }
  // Both the decoded and the refused paths were reached.
  assert.ok(seen.has("none") && seen.has("link_too_deep"), [...seen].join(", "));
});
