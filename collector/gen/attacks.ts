/**
 * Attack traffic mixed into `netspectra gen` captures, so every sketch has something to find:
 *
 * - scans: `scans` sources each probing `spread` distinct targets with TCP SYNs (a fifth of
 *   probes are retries of a target already probed). Even-numbered scanners sweep hosts
 *   (203.0.113.k → 10.200.0.0/16, one port: super-spreaders), odd-numbered ones sweep the ports
 *   of one host (192.0.2.k → 198.51.100.100+k: port scanners). Spreads are log-uniform from
 *   200 to 8,000, so some sit below the usual thresholds and some above.
 * - a SYN flood: 2 % of packets are SYNs to 198.51.100.10:80 from spoofed random sources.
 * - a DDoS: 3 % of packets are 468-byte UDP datagrams from 5,000 bots (172.16.0.0/12, source
 *   port 123, as NTP reflection) to 198.51.100.20.
 *
 * Attack packets replace normal ones (the packet count is unchanged) and draw from their own
 * random stream, so without attacks a capture is byte-identical to one made before they
 * existed.
 *
 * @module
 */

import { UsageError } from "../user_error.ts";
import { mix, rng } from "./_random.ts";
import type { Endpoints } from "./packets.ts";

export interface AttackOptions {
  /** Scanning sources (0..64). */
  scans: number;
  synFlood: boolean;
  ddos: boolean;
}

export const SCANS_MAX = 64;
const SPREAD_MIN = 200, SPREAD_RATIO = 40;
/** Share of all packets scans may take; spreads shrink to fit in short captures. */
const SCAN_SHARE_MAX = 0.2;
const RETRY = 0.2;
const SYN_SHARE = 0.02, DDOS_SHARE = 0.03, BOTS = 5000;
const SYN = 0x02;

/** The packet `fill` chose: L4 protocol, TCP flags, payload length. */
export interface AttackPacket {
  l4: number;
  flags: number;
  len: number;
}

export class Attacks {
  /** Distinct targets each scanner probes. */
  readonly spreads: number[];
  private readonly cum: number[];
  private readonly next: number[];
  private readonly pScan: number;
  private readonly pSyn: number;
  private readonly pDdos: number;
  private readonly rand: () => number;

  constructor(opts: AttackOptions, packets: number, seed: number) {
    if (!Number.isInteger(opts.scans) || opts.scans < 0 || opts.scans > SCANS_MAX) {
      throw new UsageError(`--scans must be 0..${SCANS_MAX}`);
    }
    this.rand = rng((seed ^ 0x5ca77ac5) >>> 0);
    let spreads = Array.from(
      { length: opts.scans },
      () => Math.round(SPREAD_MIN * Math.pow(SPREAD_RATIO, this.rand())),
    );
    const probes = spreads.reduce((a, b) => a + b, 0) / (1 - RETRY);
    const scale = Math.min(1, (SCAN_SHARE_MAX * packets) / Math.max(1, probes));
    spreads = spreads.map((s) => Math.max(1, Math.floor(s * scale)));
    this.spreads = spreads;
    let c = 0;
    this.cum = spreads.map((s) => c += s);
    this.next = spreads.map(() => 0);
    this.pScan = (spreads.reduce((a, b) => a + b, 0) / (1 - RETRY)) / packets;
    this.pSyn = opts.synFlood ? SYN_SHARE : 0;
    this.pDdos = opts.ddos ? DDOS_SHARE : 0;
  }

  get any(): boolean {
    return this.pScan + this.pSyn + this.pDdos > 0;
  }

  /** Decides whether packet `n` is an attack packet; if so fills `ep` and `out`. */
  fill(n: number, ep: Endpoints, out: AttackPacket): boolean {
    const u = this.rand();
    ep.v6 = false, ep.vlan = -1;
    if (u < this.pScan) return this.scan(ep, out);
    if (u < this.pScan + this.pSyn) {
      ep.src = (0x64400000 | (mix(n) & 0x003fffff)) >>> 0; // 100.64.0.0/10, spoofed
      ep.dst = 0xc633640a, ep.srcPort = 1024 + (mix(n ^ 0x77) % 60000), ep.dstPort = 80;
      out.l4 = 6, out.flags = SYN, out.len = 0;
      return true;
    }
    if (u < this.pScan + this.pSyn + this.pDdos) {
      const bot = Math.floor(this.rand() * BOTS);
      ep.src = (0xac100000 | (mix(bot) & 0x000fffff)) >>> 0; // 172.16.0.0/12
      ep.dst = 0xc6336414, ep.srcPort = 123, ep.dstPort = 1024 + (mix(n) % 60000);
      out.l4 = 17, out.flags = 0, out.len = 468;
      return true;
    }
    return false;
  }

  private scan(ep: Endpoints, out: AttackPacket): boolean {
    const total = this.cum[this.cum.length - 1]!;
    const pick = this.rand() * total;
    let k = 0;
    while (this.cum[k]! <= pick) k++;
    const done = this.next[k]!;
    const target = done > 0 && (done >= this.spreads[k]! || this.rand() < RETRY)
      ? Math.floor(this.rand() * done)
      : this.next[k]!++;
    if (k % 2 === 0) {
      ep.src = (0xcb007100 | (k + 1)) >>> 0; // 203.0.113.k+1
      ep.dst = (0x0ac80000 | (target & 0xffff)) >>> 0; // 10.200.0.0/16
      ep.srcPort = 40000 + k, ep.dstPort = [22, 23, 445][k % 3]!;
    } else {
      ep.src = (0xc0000200 | (k + 1)) >>> 0; // 192.0.2.k+1
      ep.dst = (0xc6336464 + k) >>> 0; // 198.51.100.100+k
      ep.srcPort = 40000 + k, ep.dstPort = 1 + (target % 65535);
    }
    out.l4 = 6, out.flags = SYN, out.len = 0;
    return true;
  }
}
