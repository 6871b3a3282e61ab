/**
 * Reports written to stdout in pieces of about a MiB: never one string for the whole result
 * (a million rows would make a string too long for JavaScript), never one write per line.
 *
 * @module
 */

const PIECE_CHARS = 1 << 20;

/** Writes all of `data`, however the writer splits it. */
export async function writeAll(w: { write(p: Uint8Array): Promise<number> }, data: Uint8Array) {
  let off = 0;
  while (off < data.length) off += await w.write(data.subarray(off));
}

export class BufferedStdout {
  private parts: string[] = [];
  private chars = 0;
  private readonly enc = new TextEncoder();

  async write(text: string): Promise<void> {
    this.parts.push(text);
    this.chars += text.length;
    if (this.chars >= PIECE_CHARS) await this.flush();
  }

  /** One write for everything gathered. */
  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const text = this.parts.join("");
    this.parts = [], this.chars = 0;
    await writeAll(Deno.stdout, this.enc.encode(text));
  }
}
