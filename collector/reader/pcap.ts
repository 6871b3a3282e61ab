/**
 * Classic libpcap files (https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/):
 * both byte orders, microsecond and nanosecond magic, and the modified (Kuznetsov) format
 * with its 24-byte record headers.
 *
 * @module
 */

import type { PacketBatch } from "../packet/mod.ts";
import type { ByteWindow } from "./_buffer.ts";
import { storeSecFrac } from "./_timestamp.ts";
import { PcapFormatError } from "./errors.ts";
import { RecordReader, u32 } from "./_record_reader.ts";

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_MAGIC_MODIFIED = 0xa1b2cd34;
const FILE_HEADER = 24;
const RECORD_HEADER = 16;
const RECORD_HEADER_MODIFIED = 24;
/** tshark's limit for ordinary link types (WTAP_MAX_PACKET_SIZE_STANDARD). */
export const PCAP_RECORD_BYTES_MAX = 262144;
const LINKTYPE_RESERVED_MASK = 0x03ff0000;

/** Reads the magic as little-endian to tell the formats apart; null if it is not pcap. */
export function pcapByteOrder(b: Uint8Array): boolean | null {
  if (b.length < 4) return null;
  const le = u32(b, 0, true);
  if (le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS || le === PCAP_MAGIC_MODIFIED) return true;
  const be = u32(b, 0, false);
  if (be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS || be === PCAP_MAGIC_MODIFIED) return false;
  return null;
}

export class PcapReader extends RecordReader {
  readonly format = "pcap";
  private readonly le: boolean;
  private readonly fracPerSec: number;
  private readonly recordHeader: number;
  private readonly linkType: number;
  /** The file header's snapshot length (0 when it gives none). */
  private readonly snapLen: number;

  private constructor(win: ByteWindow, name: string) {
    super(win, name);
    const b = win.buf;
    const s = win.start;
    this.le = pcapByteOrder(b.subarray(s, s + 4))!;
    const magic = u32(b, s, this.le);
    this.fracPerSec = magic === PCAP_MAGIC_NS ? 1_000_000_000 : 1_000_000;
    this.recordHeader = magic === PCAP_MAGIC_MODIFIED ? RECORD_HEADER_MODIFIED : RECORD_HEADER;
    const major = this.le ? b[s + 4]! | (b[s + 5]! << 8) : (b[s + 4]! << 8) | b[s + 5]!;
    const minor = this.le ? b[s + 6]! | (b[s + 7]! << 8) : (b[s + 6]! << 8) | b[s + 7]!;
    if (major !== 2) {
      throw new PcapFormatError(
        `Cannot read ${name}: pcap version ${major}.${minor} is not supported (only 2.x)`,
        4,
      );
    }
    const network = u32(b, s + 20, this.le);
    if ((network & LINKTYPE_RESERVED_MASK) !== 0) {
      throw new PcapFormatError(
        `Cannot read ${name}: pcap link-type field has reserved bits set (0x${
          network.toString(16).padStart(8, "0")
        })`,
        20,
      );
    }
    this.linkType = network & 0xffff;
    this.snapLen = u32(b, s + 16, this.le);
    this.linkTypes.add(this.linkType);
    win.start += FILE_HEADER;
  }

  /** Opens a pcap whose first bytes are in `win`; throws PcapFormatError on a bad header. */
  static async open(win: ByteWindow, name: string): Promise<PcapReader> {
    if (await win.ensure(FILE_HEADER) < FILE_HEADER) {
      throw new PcapFormatError(`Cannot read ${name}: pcap file header cut short`, 0);
    }
    return new PcapReader(win, name);
  }

  protected cutUnit(): string {
    return `record ${this.records + 1}`;
  }

  protected parse(batch: PacketBatch): number {
    const win = this.win;
    const hdr = this.recordHeader;
    const b = win.buf;
    const end = win.end;
    let p = win.start;
    let n = batch.length;
    let need = 0;
    while (n < batch.capacity) {
      if (end - p < hdr) {
        need = hdr;
        break;
      }
      const capLen = u32(b, p + 8, this.le);
      // More than any frame may hold, or than the file says it kept of each: the record
      // header is garbage (a damaged file), and what follows cannot be trusted.
      if (capLen > PCAP_RECORD_BYTES_MAX || (this.snapLen > 0 && capLen > this.snapLen)) {
        const limit = capLen > PCAP_RECORD_BYTES_MAX
          ? `limit ${PCAP_RECORD_BYTES_MAX}`
          : `the file's snapshot length is ${this.snapLen}`;
        this.stop(
          `record ${this.records + 1} at byte offset ${win.base + p} claims ${capLen} ` +
            `captured bytes (${limit}): file damaged, stopped there`,
        );
        break;
      }
      if (end - p < hdr + capLen) {
        need = hdr + capLen;
        break;
      }
      storeSecFrac(u32(b, p, this.le), u32(b, p + 4, this.le), this.fracPerSec, batch, n);
      batch.capLen[n] = capLen;
      batch.wireLen[n] = u32(b, p + 12, this.le);
      batch.linkType[n] = this.linkType;
      batch.dataOff[n] = p + hdr;
      p += hdr + capLen;
      n++;
      this.records++;
    }
    win.start = p;
    batch.length = n;
    return need;
  }
}
