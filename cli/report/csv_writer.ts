/**
 * The csv report as bytes, cell by cell from the store's result chunks.
 *
 * A report of every key is hundreds of thousands of lines. Made as strings (a FlowRow object,
 * then a line, then a piece of a MiB to encode) it cost about three times what DuckDB takes to
 * group and sort the keys, most of it in the garbage collector moving the pieces; here each
 * cell is written as ASCII into one reused buffer and nothing is allocated per row (IPv6
 * addresses and times beyond 2^64 ns, rare, still go through their text). The bytes are those
 * of `csvLine` (report.ts), which stays the reference (tests compare the two).
 *
 * @module
 */

import type { KeyField } from "../../collector/packet/mod.ts";
// Types only: the report must not load DuckDB's native module (see analyze_cmd.ts).
import type { Column, FlowColumns } from "../../storage/mod.ts";
import { csvHeader } from "./report.ts";
import { writeAll } from "./stdout.ts";

const BUFFER_BYTES = 1 << 20;
/**
 * Room kept for one more row: two addresses (45 characters at most), four small numbers, two
 * sums, two times (a wide one about 50) and the flags come to well under this.
 */
const ROW_BYTES_MAX = 512;

const COMMA = 44, DOT = 46, NEWLINE = 10, ZERO = 48;

export class CsvWriter {
  private readonly buf = new Uint8Array(BUFFER_BYTES);
  private pos = 0;
  private readonly parts = new Float64Array(2);

  constructor(
    private readonly out: { write(p: Uint8Array): Promise<number> },
    private readonly groupBy: readonly KeyField[],
  ) {
    this.text(csvHeader(groupBy));
    this.buf[this.pos++] = NEWLINE;
  }

  /** Writes the lines of `c`'s rows (to the output as the buffer fills). */
  async rows(c: FlowColumns): Promise<void> {
    for (let i = 0; i < c.length; i++) {
      if (this.pos > BUFFER_BYTES - ROW_BYTES_MAX) await this.flush();
      this.row(c, i);
    }
  }

  /** Writes out what the buffer holds. */
  async flush(): Promise<void> {
    if (this.pos === 0) return;
    const n = this.pos;
    this.pos = 0;
    await writeAll(this.out, this.buf.subarray(0, n));
  }

  private row(c: FlowColumns, i: number): void {
    const b = this.buf;
    for (const f of this.groupBy) {
      if (f === "src_ip") this.addr(c, c.src, i);
      else if (f === "dst_ip") this.addr(c, c.dst, i);
      else {
        const k = c.key(f);
        if (k.valid(i)) this.num(k.items![i]!);
      }
      b[this.pos++] = COMMA;
    }
    this.num(c.packetsAt(i));
    b[this.pos++] = COMMA;
    this.num(c.bytesAt(i));
    b[this.pos++] = COMMA;
    this.time(c, c.first, i);
    b[this.pos++] = COMMA;
    this.time(c, c.last, i);
    b[this.pos++] = COMMA;
    this.num(c.tcpFlagsAt(i));
    b[this.pos++] = NEWLINE;
  }

  private addr(c: FlowColumns, col: Column, i: number): void {
    if (col.words === null || !col.valid(i)) return;
    if (!c.isV4(i)) return this.text(c.addrText(col, i)!);
    const a = col.words[4 * i]!;
    this.num(a >>> 24);
    this.buf[this.pos++] = DOT;
    this.num((a >>> 16) & 255);
    this.buf[this.pos++] = DOT;
    this.num((a >>> 8) & 255);
    this.buf[this.pos++] = DOT;
    this.num(a & 255);
  }

  private time(c: FlowColumns, col: Column, i: number): void {
    const kind = c.timeParts(col, i, this.parts);
    if (kind === "null") return;
    if (kind === "wide") return this.text(c.timeText(col, i)!);
    this.num(this.parts[0]!);
    this.buf[this.pos++] = DOT;
    // Nine digits, zero-padded.
    let ns = this.parts[1]!;
    for (let k = this.pos + 8; k >= this.pos; k--) {
      const q = Math.floor(ns / 10);
      this.buf[k] = ZERO + (ns - q * 10);
      ns = q;
    }
    this.pos += 9;
  }

  /** A number as JavaScript prints it; whole numbers below 2^53 digit by digit. */
  private num(v: number): void {
    if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER && Math.floor(v) === v)) {
      return this.text(String(v));
    }
    let digits = 1;
    for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
    const b = this.buf;
    let x = v;
    for (let k = this.pos + digits - 1; k >= this.pos; k--) {
      const q = Math.floor(x / 10);
      b[k] = ZERO + (x - q * 10);
      x = q;
    }
    this.pos += digits;
  }

  /** ASCII text (addresses, numbers and times are nothing else). */
  private text(s: string): void {
    const b = this.buf;
    for (let k = 0; k < s.length; k++) b[this.pos++] = s.charCodeAt(k);
  }
}
