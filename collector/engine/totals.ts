/**
 * Whole-input (later: per-window) totals: frames, bytes, L3 and L4 mix, decode errors by
 * reason, first and last timestamp. Fixed-size typed counters, updated per batch.
 *
 * @module
 */

import { FAMILY_IPV4, FAMILY_IPV6, type PacketBatch } from "../packet/mod.ts";
import { ERROR_CODES, ERROR_NAMES } from "../decode/mod.ts";
import type { TotalsExport } from "../export/mod.ts";

export class Totals {
  frames = 0;
  wireBytes = 0;
  capBytes = 0;
  ipv4Frames = 0;
  ipv6Frames = 0;
  /** Frames per outer IP protocol number (the flow `proto`). */
  readonly protoFrames = new Float64Array(256);
  readonly protoBytes = new Float64Array(256);
  readonly errors = new Float64Array(ERROR_CODES);
  firstSec = Infinity;
  firstNsec = 0;
  lastSec = -Infinity;
  lastNsec = 0;

  /** Zeroes every counter in place (window rotation). */
  clear(): void {
    this.frames = 0,
      this.wireBytes = 0,
      this.capBytes = 0,
      this.ipv4Frames = 0,
      this.ipv6Frames = 0;
    this.protoFrames.fill(0), this.protoBytes.fill(0), this.errors.fill(0);
    this.firstSec = Infinity, this.firstNsec = 0, this.lastSec = -Infinity, this.lastNsec = 0;
  }

  /** The window's totals as export data (a copy); `late`: all of them came late. */
  snapshot(late = false): TotalsExport {
    const decodeErrors = new Map<string, number>();
    for (let c = 1; c < this.errors.length; c++) {
      if (this.errors[c]! > 0) decodeErrors.set(ERROR_NAMES[c]!, this.errors[c]!);
    }
    const timed = Number.isFinite(this.firstSec);
    return {
      packets: this.frames,
      bytes: this.wireBytes,
      capBytes: this.capBytes,
      ipv4Packets: this.ipv4Frames,
      ipv6Packets: this.ipv6Frames,
      nonIpPackets: this.nonIpFrames,
      latePackets: late ? this.frames : 0,
      lateBytes: late ? this.wireBytes : 0,
      protoPackets: this.protoFrames.slice(),
      protoBytes: this.protoBytes.slice(),
      decodeErrors,
      firstSec: timed ? this.firstSec : NaN,
      firstNsec: timed ? this.firstNsec : 0,
      lastSec: timed ? this.lastSec : NaN,
      lastNsec: timed ? this.lastNsec : 0,
    };
  }

  get nonIpFrames(): number {
    return this.frames - this.ipv4Frames - this.ipv6Frames;
  }

  /** Counts slots [from, to) of a decoded batch (default: all of it). */
  addBatch(batch: PacketBatch, from = 0, to = batch.length): void {
    for (let i = from; i < to; i++) {
      const wire = batch.wireLen[i]!;
      this.wireBytes += wire;
      this.capBytes += batch.capLen[i]!;
      this.errors[batch.error[i]!]! += 1;
      const family = batch.family[i]!;
      if (family === FAMILY_IPV4) this.ipv4Frames++;
      else if (family === FAMILY_IPV6) this.ipv6Frames++;
      if (family !== 0) {
        const p = batch.proto[i]!;
        this.protoFrames[p]! += 1;
        this.protoBytes[p]! += wire;
      }
      const sec = batch.tsSec[i]!;
      if (sec !== sec) continue; // no timestamp
      const nsec = batch.tsNsec[i]!;
      if (sec < this.firstSec || (sec === this.firstSec && nsec < this.firstNsec)) {
        this.firstSec = sec, this.firstNsec = nsec;
      }
      if (sec > this.lastSec || (sec === this.lastSec && nsec > this.lastNsec)) {
        this.lastSec = sec, this.lastNsec = nsec;
      }
    }
    this.frames += to - from;
  }
}

/** "sec.nnnnnnnnn" like tshark's frame.time_epoch, or null. */
export function tsText(sec: number, nsec: number): string | null {
  if (!Number.isFinite(sec)) return null;
  return `${sec}.${String(nsec).padStart(9, "0")}`;
}
