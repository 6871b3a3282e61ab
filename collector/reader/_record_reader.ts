/**
 * What pcap and pcapng readers share: the fill loop over the byte window, the "cut short"
 * warning, stopping with a warning, progress and closing. Subclasses parse records.
 *
 * @module
 */

import type { PacketBatch } from "../packet/mod.ts";
import type { ByteWindow } from "./_buffer.ts";
import type { CaptureReader } from "./types.ts";

export function u16(b: Uint8Array, o: number, le: boolean): number {
  return le ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!;
}

export function u32(b: Uint8Array, o: number, le: boolean): number {
  return le
    ? ((b[o + 3]! << 24) | (b[o + 2]! << 16) | (b[o + 1]! << 8) | b[o]!) >>> 0
    : ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export abstract class RecordReader implements CaptureReader {
  abstract readonly format: string;
  readonly warnings: string[] = [];
  readonly linkTypes = new Set<number>();
  records = 0;
  protected done = false;

  constructor(protected readonly win: ByteWindow, protected readonly name: string) {}

  /**
   * Parses whole records from `win.start` into `batch` (advancing `win.start`) until the
   * batch is full or the window holds no whole record; returns the bytes the next record
   * needs in the latter case.
   */
  protected abstract parse(batch: PacketBatch): number;

  /** Names the unit a cut file ends in, for the warning ("record 10", "the block"). */
  protected abstract cutUnit(): string;

  get rawBytesRead(): number {
    return this.win.source.rawBytesRead;
  }
  get rawBytesTotal(): number {
    return this.win.source.rawBytesTotal;
  }

  async fill(batch: PacketBatch): Promise<number> {
    batch.length = 0;
    const win = this.win;
    while (!this.done) {
      batch.bytes = win.buf;
      const need = this.parse(batch);
      if (batch.length > 0 || this.done) return batch.length;
      // Only now, with no record of this batch pointing into it, may the window move.
      if (await win.ensure(need) < need) {
        const problem = win.source.problem;
        if (problem !== null) {
          this.stop(`${problem}; read up to byte offset ${win.position} of the uncompressed data`);
        } else if (win.available > 0) {
          this.stop(
            `file ends inside ${this.cutUnit()} at byte offset ${win.position} ` +
              `(needs ${need} bytes, ${win.available} left): the capture was cut short`,
          );
        }
        this.done = true;
      }
    }
    return 0;
  }

  /** Stops reading this file with a warning; records read so far stay counted. */
  protected stop(message: string): void {
    this.warnings.push(`${this.name}: ${message}`);
    this.done = true;
  }

  async contentIdentity(drain: boolean): Promise<
    { identity: string; bytes: number; prefixes: Map<number, string> }
  > {
    if (drain) await this.win.drain();
    const h = this.win.hash;
    return { identity: h.identity(), bytes: h.length, prefixes: h.prefixes };
  }

  close(): void {
    this.win.source.close();
  }
}
