/**
 * The interface every capture-file reader implements.
 *
 * @module
 */

import type { PacketBatch } from "../packet/mod.ts";

export interface CaptureReader {
  /** "pcap" or "pcapng". */
  readonly format: string;
  /**
   * Fills `batch` with the next records (record fields only) and returns how many.
   * 0 means the end of the input. Offsets stay valid until the next call.
   */
  fill(batch: PacketBatch): Promise<number>;
  /** Problems that stopped reading early or were skipped, each naming a byte offset. */
  readonly warnings: string[];
  /** Link types seen so far (pcap: one; pcapng: one per interface). */
  readonly linkTypes: Set<number>;
  /** Records read so far. */
  readonly records: number;
  /** Progress: bytes taken from the file (compressed bytes for gzip) and its size. */
  readonly rawBytesRead: number;
  readonly rawBytesTotal: number;
  /**
   * The content identity of the whole input (reads what is left of it, if reading stopped
   * early, through the hash only). See content_hash.ts.
   */
  contentIdentity(
    drain: boolean,
  ): Promise<{ identity: string; bytes: number; prefixes: Map<number, string> }>;
  close(): void;
}
