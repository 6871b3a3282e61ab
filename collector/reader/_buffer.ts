/**
 * A growable window over a byte source: records are parsed in place from `buf`, and the
 * window is compacted or refilled only between batches, so offsets handed out in a batch
 * stay valid until the reader's next fill.
 *
 * @module
 */

import type { ByteSource } from "./_source.ts";
import { ContentHash } from "./content_hash.ts";

export const BUFFER_BYTES_DEFAULT = 4 * 1024 * 1024;
/** Largest record or block any reader accepts; the window grows up to twice that. */
export const RECORD_BYTES_MAX = 16 * 1024 * 1024;

export class ByteWindow {
  buf: Uint8Array;
  /** First unconsumed byte. */
  start = 0;
  /** End of valid bytes. */
  end = 0;
  /** Offset in the (decompressed) stream of buf[0], for messages. */
  base = 0;
  eof = false;

  constructor(
    readonly source: ByteSource,
    bufferBytes = BUFFER_BYTES_DEFAULT,
    /** Every byte read passes through it (the capture's content identity). */
    readonly hash = new ContentHash(),
  ) {
    this.buf = new Uint8Array(bufferBytes);
  }

  /** Reads the rest of the input into the hash only (after the reader stopped early). */
  async drain(): Promise<void> {
    if (this.eof) return;
    const scratch = new Uint8Array(1 << 20);
    for (;;) {
      const n = await this.source.read(scratch);
      if (n === null) break;
      this.hash.update(scratch.subarray(0, n));
    }
    this.eof = true;
  }

  get available(): number {
    return this.end - this.start;
  }

  /** Stream offset of the first unconsumed byte. */
  get position(): number {
    return this.base + this.start;
  }

  /**
   * Makes at least `want` bytes available unless the input ends first; compacts and grows
   * the buffer as needed. Call only when no batch still points into the buffer.
   */
  async ensure(want: number): Promise<number> {
    if (this.available >= want || this.eof) return this.available;
    if (want > RECORD_BYTES_MAX + 64) want = RECORD_BYTES_MAX + 64;
    if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end);
      this.base += this.start;
      this.end -= this.start;
      this.start = 0;
    }
    if (want > this.buf.length) {
      const bigger = new Uint8Array(Math.max(want, this.buf.length * 2));
      bigger.set(this.buf.subarray(0, this.end));
      this.buf = bigger;
    }
    // Read well past `want` so small-chunk sources (pipes, gzip) still give large batches.
    const target = Math.max(want, this.buf.length >> 1);
    while (this.end < target) {
      const n = await this.source.read(this.buf.subarray(this.end));
      if (n === null) {
        this.eof = true;
        break;
      }
      this.hash.update(this.buf.subarray(this.end, this.end + n));
      this.end += n;
    }
    return this.available;
  }
}
