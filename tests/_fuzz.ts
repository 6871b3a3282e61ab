/**
 * Decoder fuzzing with mutated real packets (seeded, bounded), through the link, IP and
 * transport decoders and the DNS/HTTP app layer: used by the test suite (200k packets) and by
 * `deno task fuzz` for longer runs.
 *
 * @module
 */

import { PacketBatch } from "../collector/packet/batch.ts";
import { decodeBatch, ERROR_CODES, LINKTYPES_SUPPORTED } from "../collector/decode/mod.ts";
import { AppLayer } from "../collector/app/app_layer.ts";
import { FlowTable } from "../collector/engine/flow_table.ts";
import { rng } from "../collector/gen/gen.ts";
import { FIVE_TUPLE } from "../collector/packet/key_fields.ts";
import { openCapture } from "../collector/reader/mod.ts";
import { Totals } from "../collector/engine/totals.ts";
import { captures } from "./_testdata.ts";

export interface SeedPacket {
  link: number;
  bytes: Uint8Array;
  wire: number;
}

/** Every packet of every readable shared capture, copied out of the reader's buffer. */
export async function seedPackets(): Promise<SeedPacket[]> {
  const out: SeedPacket[] = [];
  const batch = new PacketBatch();
  for (const { path } of captures()) {
    let reader;
    try {
      reader = await openCapture(path);
    } catch {
      continue; // refused files have no packets
    }
    while (await reader.fill(batch) > 0) {
      for (let i = 0; i < batch.length; i++) {
        const off = batch.dataOff[i]!;
        out.push({
          link: batch.linkType[i]!,
          bytes: batch.bytes.slice(off, off + batch.capLen[i]!),
          wire: batch.wireLen[i]!,
        });
      }
    }
    reader.close();
  }
  return out;
}

export interface FuzzStats {
  packets: number;
  ipFrames: number;
  nonIpFrames: number;
  errorFrames: number;
  flowPackets: number;
  overflowPackets: number;
  /** DNS messages and HTTP starts the app layer found in the mutated packets. */
  dnsMessages: number;
  httpMessages: number;
}

const MAX_FRAME = 2048;

/** Decodes `count` mutated packets; throws (AssertionError-like) on any broken invariant. */
export function fuzzDecoders(seeds: SeedPacket[], count: number, seed: number): FuzzStats {
  const rand = rng(seed);
  const batchSize = 512;
  const batch = new PacketBatch(batchSize);
  const buf = new Uint8Array(batchSize * MAX_FRAME);
  batch.bytes = buf;
  const totals = new Totals();
  const flows = new FlowTable(FIVE_TUPLE, 1 << 16);
  const app = new AppLayer();
  let dnsMessages = 0, httpMessages = 0;
  let done = 0;
  while (done < count) {
    const n = Math.min(batchSize, count - done);
    for (let i = 0; i < n; i++) {
      const s = seeds[Math.floor(rand() * seeds.length)]!;
      const off = i * MAX_FRAME;
      let len = Math.min(s.bytes.length, MAX_FRAME);
      buf.set(s.bytes.subarray(0, len), off);
      let link = s.link;
      const mutations = 1 + Math.floor(rand() * 4);
      for (let m = 0; m < mutations; m++) {
        const r = rand();
        const at = off + Math.floor(rand() * Math.max(1, len));
        if (r < 0.35) buf[at] = buf[at]! ^ (1 << Math.floor(rand() * 8));
        else if (r < 0.55) {
          buf[at] = [0, 0xff, 0x80, 0x06, 0x11, 0x2c, 0x3c][Math.floor(rand() * 7)]!;
        } else if (r < 0.75) len = Math.floor(rand() * (len + 1));
        else if (r < 0.85) {
          link = LINKTYPES_SUPPORTED[Math.floor(rand() * LINKTYPES_SUPPORTED.length)]!;
        } else if (r < 0.95) {
          const extra = Math.min(MAX_FRAME - len, Math.floor(rand() * 64));
          for (let k = 0; k < extra; k++) buf[off + len + k] = Math.floor(rand() * 256);
          len += extra;
        } else link = Math.floor(rand() * 300);
      }
      batch.dataOff[i] = off;
      batch.capLen[i] = len;
      batch.wireLen[i] = rand() < 0.1 ? Math.floor(rand() * 70000) : s.wire;
      batch.linkType[i] = link;
      batch.tsSec[i] = rand() < 0.01 ? NaN : 1e9 + done;
      batch.tsNsec[i] = 0;
    }
    batch.length = n;
    decodeBatch(batch);
    for (let i = 0; i < n; i++) {
      if (batch.error[i]! >= ERROR_CODES) {
        throw new Error(`error code ${batch.error[i]} out of range`);
      }
      if (
        batch.payloadLen[i]! > 0 &&
        batch.payloadOff[i]! + batch.payloadLen[i]! > batch.dataOff[i]! + batch.capLen[i]!
      ) {
        throw new Error("payload window runs past the captured bytes");
      }
    }
    totals.addBatch(batch);
    flows.addBatch(batch);
    app.addRange(batch, 0, n);
    dnsMessages += app.own.dnsMessages,
      httpMessages += app.own.httpRequests + app.own.httpResponses;
    app.clear();
    done += n;
  }
  let flowPackets = 0;
  for (let e = 0; e < flows.size; e++) flowPackets += flows.packets(e);
  return {
    packets: totals.frames,
    ipFrames: totals.ipv4Frames + totals.ipv6Frames,
    nonIpFrames: totals.nonIpFrames,
    errorFrames: totals.errors.reduce((a, b) => a + b, 0) - totals.errors[0]!,
    flowPackets,
    overflowPackets: flows.overflowPackets,
    dnsMessages,
    httpMessages,
  };
}
