/**
 * Capture-file readers: classic pcap and pcapng, plain or gzip-compressed, from a file or
 * standard input (`-`). The format is told by the magic number, never by the file name.
 *
 * @example
 * ```ts
 * import { openCapture } from "./mod.ts";
 * import { PacketBatch } from "../packet/mod.ts";
 * const reader = await openCapture("trace.pcap.gz");
 * const batch = new PacketBatch();
 * while (await reader.fill(batch) > 0) {
 *   // batch.capLen[0], batch.wireLen[0], batch.dataOff[0] into batch.bytes …
 * }
 * reader.close();
 * ```
 *
 * @module
 */

import { ByteWindow } from "./_buffer.ts";
import { openByteSource } from "./_source.ts";
import { ContentHash } from "./content_hash.ts";
import { PcapFormatError } from "./errors.ts";
import { pcapByteOrder, PcapReader } from "./pcap.ts";
import { BT_SHB, PcapngReader } from "./pcapng.ts";
import type { CaptureReader } from "./types.ts";

export { PcapFormatError } from "./errors.ts";
export type { CaptureReader } from "./types.ts";

function hex32(b: Uint8Array): string {
  let s = "";
  for (let k = 0; k < 4; k++) s += (b[k] ?? 0).toString(16).padStart(2, "0");
  return s;
}

/**
 * Opens a capture file (`-` = standard input). Throws PcapFormatError when the input is not
 * a capture we read, with a message like `Cannot read x.pcap: unknown magic 0x…`, and the
 * usual Deno errors when the file cannot be opened.
 */
export async function openCapture(
  path: string,
  opts: { prefixLengths?: Iterable<number> } = {},
): Promise<CaptureReader> {
  const name = path === "-" ? "<stdin>" : path;
  const source = await openByteSource(path);
  try {
    const win = new ByteWindow(source, undefined, new ContentHash(opts.prefixLengths));
    const got = await win.ensure(4);
    if (got === 0) {
      throw new PcapFormatError(`Cannot read ${name}: ${source.problem ?? "the file is empty"}`, 0);
    }
    const head = win.buf.subarray(win.start, win.start + 4);
    if (got < 4) {
      throw new PcapFormatError(`Cannot read ${name}: too short for a capture (${got} bytes)`, 0);
    }
    if (pcapByteOrder(head) !== null) return await PcapReader.open(win, name);
    const shb = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
    if (shb === BT_SHB) return await PcapngReader.open(win, name);
    throw new PcapFormatError(
      `Cannot read ${name}: unknown magic 0x${hex32(head)} (not a pcap or pcapng file${
        source.compressed ? " inside the gzip" : ""
      })`,
      0,
    );
  } catch (e) {
    source.close();
    throw e;
  }
}
