/**
 * Deterministic synthetic traffic: Zipf-distributed flows with TCP handshakes and teardowns,
 * HTTP requests and responses, UDP, DNS queries and answers, ICMP echo, IPv6 and VLAN tags.
 * Same options → byte-identical pcap, so demos, tests and benchmarks are repeatable.
 *
 * @module
 */

import { UsageError } from "../user_error.ts";
import { type Endpoints, writeFrame } from "./packets.ts";
import { type AttackOptions, type AttackPacket, Attacks } from "./attacks.ts";
import { mix, rng } from "./_random.ts";

export { rng } from "./_random.ts";

export interface GenOptions {
  packets: number;
  flows: number;
  seed: number;
  /** Zipf exponent of flow popularity. */
  zipfAlpha: number;
  /** Mean packet rate, for timestamps. */
  ratePps: number;
  startSec: number;
  /** Scans, SYN flood, DDoS mixed in (none by default). */
  attacks?: AttackOptions;
  /**
   * Shares of packets, in percent, for DNS messages and for packets of HTTP (port 80)
   * connections. Unset: each flow's kind comes from its hash alone (about 15 % DNS and 12 %
   * HTTP at the default Zipf exponent), as in every capture made before these options existed.
   */
  dnsPercent?: number;
  httpPercent?: number;
}

export const GEN_DEFAULTS: Omit<GenOptions, "packets"> = {
  flows: 10_000,
  seed: 1,
  zipfAlpha: 1.0,
  ratePps: 100_000,
  startSec: 1_700_000_000,
};
export const GEN_PACKETS_MAX = 1e9;
export const GEN_FLOWS_MAX = 1 << 24;

const KIND_TCP4 = 0,
  KIND_TCP6 = 1,
  KIND_UDP4 = 2,
  KIND_DNS4 = 3,
  KIND_DNS6 = 4,
  KIND_ICMP4 = 5,
  KIND_ICMP6 = 6,
  KIND_TCP4_VLAN = 7;
const SYN = 0x02, ACK = 0x10, FIN = 0x01, PSH = 0x08;
const CLASS_OTHER = 0, CLASS_DNS = 1, CLASS_HTTP = 2;
const TCP_PORTS = [443, 80, 22, 8080, 3306, 80, 443, 5432];

/** Cumulative Zipf weights of ranks 1..n. */
function zipfCdf(n: number, alpha: number): Float64Array {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / Math.pow(k + 1, alpha);
  for (let k = 0; k < n; k++) cdf[k]! /= sum;
  return cdf;
}

/**
 * Gives each flow a class (other, DNS, HTTP) so that the expected packet shares, weighted by
 * flow popularity, meet the targets: flows in rank order each go to the class furthest below
 * its target share of the weight seen so far (error diffusion), so the error stays under the
 * weight of one flow even though the top Zipf flow alone can carry a tenth of the packets.
 */
function flowClasses(cdf: Float64Array, dnsShare: number, httpShare: number): Uint8Array {
  const classes = new Uint8Array(cdf.length);
  const target = [1 - dnsShare - httpShare, dnsShare, httpShare];
  const got = [0, 0, 0];
  let prev = 0;
  for (let f = 0; f < cdf.length; f++) {
    const w = cdf[f]! - prev, seen = cdf[f]!;
    prev = seen;
    let best = CLASS_OTHER, bestDeficit = -Infinity;
    for (let c = 0; c < 3; c++) {
      const deficit = target[c]! * seen - got[c]!;
      if (target[c]! > 0 && deficit > bestDeficit) best = c, bestDeficit = deficit;
    }
    classes[f] = best;
    got[best]! += w;
  }
  return classes;
}

/** A flow kind other than DNS, weighted as the default mix is without its DNS kinds. */
function otherKind(h: number): number {
  const r = mix(h ^ 0x3c3c) % 86;
  return r < 50
    ? KIND_TCP4
    : r < 58
    ? KIND_TCP6
    : r < 68
    ? KIND_UDP4
    : r < 73
    ? KIND_ICMP4
    : r < 76
    ? KIND_ICMP6
    : KIND_TCP4_VLAN;
}

function sample(cdf: Float64Array, u: number): number {
  let lo = 0, hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function dnsMessage(id: number, name: number, response: boolean, v6Answer: boolean): Uint8Array {
  const labels = [`host${name}`, "example", "com"];
  const q: number[] = [
    id >>> 8,
    id & 255,
    response ? 0x81 : 0x01,
    response ? 0x80 : 0x00,
    0,
    1,
    0,
    response ? 1 : 0,
    0,
    0,
    0,
    0,
  ];
  for (const l of labels) q.push(l.length, ...new TextEncoder().encode(l));
  q.push(0, 0, v6Answer ? 28 : 1, 0, 1);
  if (response) {
    q.push(0xc0, 12, 0, v6Answer ? 28 : 1, 0, 1, 0, 0, 0x0e, 0x10, 0, v6Answer ? 16 : 4);
    if (v6Answer) {
      q.push(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, name >>> 8 & 255, name & 255);
    } else q.push(198, 51, (name >>> 8) & 255, name & 255);
  }
  return new Uint8Array(q);
}

export interface GenSummary {
  packets: number;
  bytes: number;
  flows: number;
}

/**
 * Streams a pcap (little-endian, microseconds, Ethernet) of `opts.packets` packets to `w`.
 */
export async function generate(
  w: { write(p: Uint8Array): Promise<number> },
  opts: GenOptions,
): Promise<GenSummary> {
  const { packets, flows } = opts;
  if (!Number.isInteger(packets) || packets < 1 || packets > GEN_PACKETS_MAX) {
    throw new UsageError(`--packets must be 1..${GEN_PACKETS_MAX}`);
  }
  if (!Number.isInteger(flows) || flows < 1 || flows > GEN_FLOWS_MAX) {
    throw new UsageError(`--flows must be 1..${GEN_FLOWS_MAX}`);
  }
  const dnsPercent = opts.dnsPercent, httpPercent = opts.httpPercent;
  for (const [name, v] of [["--dns", dnsPercent], ["--http", httpPercent]] as const) {
    if (v !== undefined && !(v >= 0 && v <= 100)) {
      throw new UsageError(`${name} must be a percentage from 0 to 100`);
    }
  }
  if ((dnsPercent ?? 0) + (httpPercent ?? 0) > 100) {
    throw new UsageError("--dns and --http together must be at most 100 percent");
  }
  const rand = rng(opts.seed);
  const cdf = zipfCdf(flows, opts.zipfAlpha);
  const classes = dnsPercent === undefined && httpPercent === undefined
    ? null
    : flowClasses(cdf, (dnsPercent ?? 0) / 100, (httpPercent ?? 0) / 100);
  const state = new Uint8Array(flows);
  const generation = new Uint16Array(flows);
  const seqs = new Uint32Array(flows);
  // TCP sequence numbers per connection and direction, counted in bytes (SYN and FIN count one)
  // so that reassembly over TCP sees whole streams.
  const clientSeq = new Uint32Array(flows), serverSeq = new Uint32Array(flows);
  const buf = new Uint8Array(8 * 1024 * 1024);
  const enc = new TextEncoder();
  const http = enc.encode(
    "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: netspectra-gen\r\n\r\n",
  );
  const httpResp = enc.encode(
    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 400\r\n\r\n",
  );
  const ep: Endpoints = { v6: false, src: 0, dst: 0, srcPort: 0, dstPort: 0, vlan: -1 };
  const attacks = opts.attacks === undefined ? null : new Attacks(opts.attacks, packets, opts.seed);
  const attack: AttackPacket = { l4: 0, flags: 0, len: 0 };
  let o = 0;
  let bytes = 0;
  // file header: magic, v2.4, zone, sigfigs, snaplen 65535, Ethernet
  const header = new DataView(buf.buffer);
  header.setUint32(0, 0xa1b2c3d4, true);
  header.setUint16(4, 2, true);
  header.setUint16(6, 4, true);
  header.setUint32(16, 65535, true);
  header.setUint32(20, 1, true);
  o = 24;
  let usec = 0;
  const meanGapUs = 1e6 / opts.ratePps;
  for (let n = 0; n < packets; n++) {
    if (buf.length - o < 2048) {
      await writeFully(w, buf.subarray(0, o));
      o = 0;
    }
    usec += -Math.log(1 - rand()) * meanGapUs;
    if (attacks !== null && attacks.any && attacks.fill(n, ep, attack)) {
      const frame = writeRecord(
        header,
        buf,
        o,
        ep,
        attack.l4,
        attack.flags,
        n,
        null,
        attack.len,
        opts.startSec,
        usec,
      );
      o += 16 + frame, bytes += frame;
      continue;
    }
    const f = sample(cdf, rand());
    const h = mix(f ^ Math.imul(opts.seed, 0x9e3779b1));
    let kind = h % 100 < 50
      ? KIND_TCP4
      : h % 100 < 58
      ? KIND_TCP6
      : h % 100 < 68
      ? KIND_UDP4
      : h % 100 < 78
      ? KIND_DNS4
      : h % 100 < 82
      ? KIND_DNS6
      : h % 100 < 87
      ? KIND_ICMP4
      : h % 100 < 90
      ? KIND_ICMP6
      : KIND_TCP4_VLAN;
    let serverPort = TCP_PORTS[(h >>> 8) % TCP_PORTS.length]!;
    if (classes !== null) {
      const c = classes[f]!;
      if (c === CLASS_DNS) kind = h % 5 === 0 ? KIND_DNS6 : KIND_DNS4;
      else if (c === CLASS_HTTP) {
        const t = h % 68;
        kind = t < 50 ? KIND_TCP4 : t < 58 ? KIND_TCP6 : KIND_TCP4_VLAN;
        serverPort = 80;
      } else {
        if (kind === KIND_DNS4 || kind === KIND_DNS6) kind = otherKind(h);
        if (serverPort === 80) serverPort = 443;
      }
    }
    const client = 0x0a000000 | (mix(h) & 0x00ffffff);
    const server = 0xc6120000 | (mix(h ^ 0x55) & 0x0000ffff);
    const clientPort = 1024 + ((mix(h ^ 0xaa) + generation[f]!) % 60000);
    const st = state[f]!;
    let toServer = true;
    let l4 = 6, flags = 0, len = 0;
    let data: Uint8Array | null = null;
    ep.v6 = kind === KIND_TCP6 || kind === KIND_DNS6 || kind === KIND_ICMP6;
    ep.vlan = kind === KIND_TCP4_VLAN ? 100 + (h % 8) : -1;
    if (kind === KIND_TCP4 || kind === KIND_TCP6 || kind === KIND_TCP4_VLAN) {
      // 0 SYN, 1 SYN-ACK, 2 ACK, 3 first request (HTTP GET on port 80), 4 data either way,
      // 5 FIN from the client, 6 FIN from the server, 7 last ACK; then a new connection.
      let ns = st + 1;
      if (st === 0) flags = SYN;
      else if (st === 1) flags = SYN | ACK, toServer = false;
      else if (st === 2 || st === 7) flags = ACK;
      else if (st === 3) {
        flags = PSH | ACK;
        if (serverPort === 80) data = http, len = http.length;
        else len = 100 + (mix(n) % 1300);
      } else if (st === 4) {
        flags = PSH | ACK;
        toServer = (mix(n ^ h) & 1) === 0;
        if (serverPort === 80 && !toServer && (seqs[f]! & 3) === 0) {
          data = httpResp, len = httpResp.length + 400;
        } else len = (mix(n) & 3) === 0 ? mix(n) % 80 : 400 + (mix(n) % 1060);
        ns = rand() < 1 / 24 ? 5 : 4;
      } else if (st === 5) flags = FIN | ACK;
      else if (st === 6) flags = FIN | ACK, toServer = false;
      if (ns === 8) ns = 0, generation[f]!++;
      state[f] = ns;
    } else if (kind === KIND_UDP4) {
      l4 = 17;
      serverPort = [123, 514, 4789, 5060][h % 4]!;
      toServer = rand() < 0.6;
      len = 20 + (mix(n) % 600);
    } else if (kind === KIND_DNS4 || kind === KIND_DNS6) {
      l4 = 17;
      serverPort = 53;
      toServer = st === 0;
      // The answer carries its query's id (the flow's previous packet), so it can be matched.
      const id = (seqs[f]! - (st === 1 ? 1 : 0)) & 0xffff;
      data = dnsMessage(id, f, st === 1, kind === KIND_DNS6);
      len = data.length;
      state[f] = st === 0 ? 1 : 0;
    } else {
      l4 = kind === KIND_ICMP4 ? 1 : 58;
      toServer = st === 0;
      flags = l4 === 1 ? (toServer ? 8 : 0) : (toServer ? 128 : 129);
      len = 56;
      state[f] = st === 0 ? 1 : 0;
    }
    if (toServer) {
      ep.src = client, ep.dst = server, ep.srcPort = clientPort, ep.dstPort = serverPort;
    } else ep.src = server, ep.dst = client, ep.srcPort = serverPort, ep.dstPort = clientPort;
    if (l4 === 1 || l4 === 58) ep.srcPort = f & 0xffff;
    let seq = seqs[f]!++, ack = seq ^ 0x5a5a5a5a;
    if (l4 === 6) {
      if (st === 0) clientSeq[f] = mix(h ^ generation[f]!), serverSeq[f] = mix(h + generation[f]!);
      const dir = toServer ? clientSeq : serverSeq;
      seq = dir[f]!;
      dir[f] = (seq + len + ((flags & (SYN | FIN)) !== 0 ? 1 : 0)) >>> 0;
      ack = (toServer ? serverSeq : clientSeq)[f]!; // all the other side sent so far
    }
    const frame = writeRecord(
      header,
      buf,
      o,
      ep,
      l4,
      flags,
      seq,
      data,
      len,
      opts.startSec,
      usec,
      ack,
    );
    o += 16 + frame, bytes += frame;
  }
  await writeFully(w, buf.subarray(0, o));
  return { packets, bytes, flows };
}

/**
 * Writes one pcap record (16-byte header, then the frame) at `o` of `buf` (`view` is a view
 * of all of it); `flags` are TCP flags or the ICMP type. Returns the frame's length.
 */
function writeRecord(
  view: DataView,
  buf: Uint8Array,
  o: number,
  ep: Endpoints,
  l4: number,
  flags: number,
  seq: number,
  data: Uint8Array | null,
  len: number,
  startSec: number,
  usec: number,
  ack?: number,
): number {
  const frameLen = writeFrame(buf, o + 16, ep, l4, flags, seq, data, len, ack);
  view.setUint32(o, startSec + Math.floor(usec / 1e6), true);
  view.setUint32(o + 4, Math.floor(usec % 1e6), true);
  view.setUint32(o + 8, frameLen, true);
  view.setUint32(o + 12, frameLen, true);
  return frameLen;
}

async function writeFully(w: { write(p: Uint8Array): Promise<number> }, data: Uint8Array) {
  let off = 0;
  while (off < data.length) off += await w.write(data.subarray(off));
}
