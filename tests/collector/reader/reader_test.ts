/**
 * Capture readers: pcap variants, pcapng sections/interfaces/blocks, gzip, damaged files.
 */

import assert from "node:assert/strict";
import { PacketBatch } from "../../../collector/packet/batch.ts";
import { openCapture, PcapFormatError } from "../../../collector/reader/mod.ts";
import {
  Bytes,
  concat,
  epb,
  gzip,
  idb,
  pb,
  pcapFile,
  shb,
  spb,
  tempFile,
  udpFrame,
} from "../../_builders.ts";

interface Rec {
  ts: string;
  cap: number;
  wire: number;
  link: number;
}

async function readAll(data: Uint8Array, batchPackets = 3) {
  const path = await tempFile(data);
  try {
    const reader = await openCapture(path);
    const batch = new PacketBatch(batchPackets);
    const recs: Rec[] = [];
    while (await reader.fill(batch) > 0) {
      for (let i = 0; i < batch.length; i++) {
        const s = batch.tsSec[i]!;
        recs.push({
          ts: Number.isNaN(s) ? "none" : `${s}.${String(batch.tsNsec[i]).padStart(9, "0")}`,
          cap: batch.capLen[i]!,
          wire: batch.wireLen[i]!,
          link: batch.linkType[i]!,
        });
        // The data really is where dataOff says: our frames start with MAC 02:00:…
        if (batch.capLen[i]! >= 1) assert.equal(batch.bytes[batch.dataOff[i]!], 2);
      }
    }
    reader.close();
    return { recs, warnings: reader.warnings, format: reader.format, links: [...reader.linkTypes] };
  } finally {
    await Deno.remove(path);
  }
}

async function rejects(data: Uint8Array, pattern: RegExp) {
  const path = await tempFile(data);
  try {
    await assert.rejects(openCapture(path), (e: unknown) => {
      assert.ok(e instanceof PcapFormatError, String(e));
      assert.match(e.message, pattern);
      return true;
    });
  } finally {
    await Deno.remove(path);
  }
}

const F = udpFrame(60);

Deno.test("openCapture() reads little-endian microsecond pcap", async () => {
  const r = await readAll(
    pcapFile([{ sec: 1000, frac: 500000, data: F }, {
      sec: 1001,
      frac: 1,
      data: F,
      wireLen: 1500,
    }]),
  );
  assert.deepEqual(r.recs, [
    { ts: "1000.500000000", cap: 60, wire: 60, link: 1 },
    { ts: "1001.000001000", cap: 60, wire: 1500, link: 1 },
  ]);
  assert.equal(r.format, "pcap");
  assert.deepEqual(r.warnings, []);
});

Deno.test("openCapture() reads big-endian nanosecond pcap", async () => {
  const r = await readAll(
    pcapFile([{ sec: 7, frac: 123456789, data: F }], { le: false, magic: 0xa1b23c4d }),
  );
  assert.deepEqual(r.recs, [{ ts: "7.123456789", cap: 60, wire: 60, link: 1 }]);
});

Deno.test("openCapture() reads the modified (Kuznetsov) pcap record header", async () => {
  const r = await readAll(
    pcapFile([{ sec: 1, frac: 0, data: F }, { sec: 2, frac: 0, data: F }], { magic: 0xa1b2cd34 }),
  );
  assert.equal(r.recs.length, 2);
  assert.equal(r.recs[1]!.ts, "2.000000000");
});

Deno.test("openCapture() carries an out-of-range microsecond field into seconds", async () => {
  const r = await readAll(pcapFile([{ sec: 10, frac: 2_500_000, data: F }]));
  assert.equal(r.recs[0]!.ts, "12.500000000");
});

Deno.test("openCapture() keeps whole records of a pcap cut short and names the offset", async () => {
  const whole = pcapFile([{ sec: 1, frac: 0, data: F }, { sec: 2, frac: 0, data: F }]);
  for (const cut of [whole.length - 1, whole.length - 60, 24 + 16 + 60 + 5]) {
    const r = await readAll(whole.subarray(0, cut));
    assert.equal(r.recs.length, 1, `cut at ${cut}`);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /byte offset 100 .*cut short/);
  }
});

Deno.test("openCapture() stops at a record claiming more than 256 KiB", async () => {
  const good = pcapFile([{ sec: 1, frac: 0, data: F }]);
  const bad = new Bytes().u32(1).u32(0).u32(300000).u32(300000).bytes();
  const r = await readAll(concat(good, bad, F));
  assert.equal(r.recs.length, 1);
  assert.match(r.warnings[0]!, /claims 300000 captured bytes/);
});

Deno.test("openCapture() stops at a record claiming more than the file's snapshot length", async () => {
  // pcapFile writes snaplen 65535: a 70,000-byte record is below 256 KiB but above it.
  const good = pcapFile([{ sec: 1, frac: 0, data: F }]);
  const bad = new Bytes().u32(1).u32(0).u32(70000).u32(70000).bytes();
  const r = await readAll(concat(good, bad, new Uint8Array(70000)));
  assert.equal(r.recs.length, 1);
  assert.match(
    r.warnings[0]!,
    /record 2 at byte offset 100 claims 70000 captured bytes \(the file's snapshot length is 65535\)/,
  );
});

Deno.test("openCapture() refuses what is not a capture, in one clear line", async () => {
  await rejects(
    new TextEncoder().encode("hello world, not a capture"),
    /^Cannot read .*: unknown magic 0x68656c6c/,
  );
  await rejects(new Uint8Array(0), /the file is empty/);
  await rejects(Uint8Array.of(0xd4, 0xc3), /too short/);
  await rejects(pcapFile([], { major: 1 }), /pcap version 1\.4 is not supported/);
  await rejects(pcapFile([], { linkType: 0x00300001 }), /reserved bits/);
  await rejects(pcapFile([]).subarray(0, 20), /header cut short/);
  await rejects(shb(true, 2, 0), /section version 2\.0/);
});

Deno.test("openCapture() reads pcapng sections of both byte orders, interfaces and block kinds", async () => {
  const ns = Uint8Array.of(9);
  const pow2 = Uint8Array.of(0x80 | 10);
  const offset = new Bytes(true).u32(100).u32(0).bytes();
  const offsetBe = new Bytes(false).u32(0).u32(100).bytes();
  const file = concat(
    shb(true),
    idb(true, 1, 0, [[9, ns]]),
    idb(true, 113, 0, [[9, pow2], [14, offset]]),
    epb(true, 0, 0x0000003b, 0x9aca0001, F), // 256_000_000_001 ns = 256.000000001 s
    epb(true, 1, 0, 1024 + 512, udpFrame(50)), // 1.5 s in 2^-10 units, +100 s offset
    new Bytes(true).u32(0xdead).u32(16).u32(0).u32(16).bytes(), // unknown block: skipped
    spb(true, udpFrame(80), 100),
    shb(false),
    idb(false, 0, 64, [[14, offsetBe]]),
    pb(false, 0, 0, 3_000_000, F),
  );
  const r = await readAll(file);
  assert.equal(r.format, "pcapng");
  assert.deepEqual(r.recs, [
    { ts: "256.000000001", cap: 60, wire: 60, link: 1 },
    { ts: "101.500000000", cap: 50, wire: 50, link: 113 },
    { ts: "none", cap: 80, wire: 100, link: 1 },
    { ts: "103.000000000", cap: 60, wire: 60, link: 0 },
  ]);
  assert.deepEqual(r.links.sort((a, b) => a - b), [0, 1, 113]);
  assert.deepEqual(r.warnings, []);
});

Deno.test("openCapture() limits a Simple Packet Block to the interface snaplen", async () => {
  const r = await readAll(concat(shb(true), idb(true, 1, 40), spb(true, udpFrame(60))));
  assert.deepEqual(r.recs, [{ ts: "none", cap: 40, wire: 60, link: 1 }]);
});

Deno.test("openCapture() stops at an unsupported later section and keeps what came before", async () => {
  const r = await readAll(
    concat(
      shb(true),
      idb(true, 1, 0),
      epb(true, 0, 0, 1, F),
      shb(true, 2, 0),
      idb(true, 1, 0),
      epb(true, 0, 0, 2, F),
    ),
  );
  assert.equal(r.recs.length, 1);
  assert.match(r.warnings[0]!, /byte offset 140: pcapng section version 2\.0/);
});

Deno.test("openCapture() stops at a packet block naming an undefined interface", async () => {
  const r = await readAll(
    concat(shb(true), idb(true, 1, 0), epb(true, 0, 0, 1, F), epb(true, 5, 0, 1, F)),
  );
  assert.equal(r.recs.length, 1);
  assert.match(r.warnings[0]!, /interface 5, which is not defined/);
});

Deno.test("openCapture() stops at a block whose trailing length disagrees", async () => {
  const bad = epb(true, 0, 0, 1, F);
  bad[bad.length - 1] = 0x7f;
  const r = await readAll(concat(shb(true), idb(true, 1, 0), epb(true, 0, 0, 1, F), bad));
  assert.equal(r.recs.length, 1);
  assert.match(r.warnings[0]!, /trailing length/);
});

Deno.test("openCapture() keeps whole blocks of a pcapng cut short", async () => {
  const whole = concat(shb(true), idb(true, 1, 0), epb(true, 0, 0, 1, F), epb(true, 0, 0, 2, F));
  const r = await readAll(whole.subarray(0, whole.length - 10));
  assert.equal(r.recs.length, 1);
  assert.match(r.warnings[0]!, /ends inside the block at byte offset 140/);
});

Deno.test("openCapture() refuses a section header whose option overruns the block", async () => {
  const body = new Bytes(true).u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff)
    .u16(2).u16(200).u32(0).bytes();
  const len = 12 + body.length;
  const file = new Bytes(true).u32(0x0a0d0d0a).u32(len).raw(body).u32(len).bytes();
  await rejects(file, /option 2 of length 200 runs past its block/);
});

Deno.test("openCapture() reads gzip by its magic, whatever the name", async () => {
  const plain = pcapFile(
    Array.from({ length: 50 }, (_, k) => ({ sec: k, frac: k, data: udpFrame(60 + k) })),
  );
  const a = await readAll(plain);
  const b = await readAll(await gzip(plain));
  assert.equal(b.recs.length, 50);
  assert.deepEqual(b.recs, a.recs);
});

Deno.test("openCapture() refuses a gzip that holds no capture", async () => {
  await rejects(
    await gzip(new TextEncoder().encode("plain text inside")),
    /unknown magic .*inside the gzip/,
  );
});

Deno.test("openCapture() reads every member of a multi-member gzip (cat a.gz b.gz)", async () => {
  const plain = pcapFile(
    Array.from({ length: 40 }, (_, k) => ({ sec: k, frac: 0, data: udpFrame(60 + k) })),
  );
  const cut = 1000;
  const multi = concat(await gzip(plain.subarray(0, cut)), await gzip(plain.subarray(cut)));
  const r = await readAll(multi);
  assert.equal(r.recs.length, 40);
  assert.deepEqual(r.warnings, []);
});

Deno.test("openCapture() keeps whole records of a gzip cut short and says so", async () => {
  const plain = pcapFile(
    Array.from({ length: 400 }, (_, k) => ({ sec: k, frac: 0, data: udpFrame(60 + (k % 50)) })),
  );
  const gz = await gzip(plain);
  const r = await readAll(gz.subarray(0, Math.floor(gz.length / 2)));
  assert.ok(r.recs.length > 0 && r.recs.length < 400, `${r.recs.length} records`);
  assert.match(r.warnings[0]!, /gzip data is damaged or cut short/);
  await rejects(gz.subarray(0, 12), /gzip data is damaged or cut short/);
});
