/**
 * pcapng files (draft-ietf-opsawg-pcapng): several sections of either byte order, several
 * interfaces per section with their own link type, snaplen, `if_tsresol` and `if_tsoffset`;
 * Enhanced, Simple and (obsolete) Packet Blocks; every other block type is skipped.
 *
 * @module
 */

import type { PacketBatch } from "../packet/mod.ts";
import type { ByteWindow } from "./_buffer.ts";
import { RECORD_BYTES_MAX } from "./_buffer.ts";
import { storeUnits } from "./_timestamp.ts";
import { PcapFormatError } from "./errors.ts";
import { RecordReader, u16, u32 } from "./_record_reader.ts";

export const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 0x00000001;
const BT_PB = 0x00000002;
const BT_SPB = 0x00000003;
const BT_EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const BLOCK_MIN = 12;
const SHB_MIN = 28;
const OPT_END = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;
const TSRESOL_DEFAULT = 6; // microseconds
/** Interfaces per section; far above any real capture, and checked. */
export const INTERFACES_MAX = 65536;

interface Iface {
  linkType: number;
  snapLen: number;
  tsResol: number;
  tsOffsetSec: number;
}

export class PcapngReader extends RecordReader {
  readonly format = "pcapng";
  private le = true;
  private ifaces: Iface[] = [];

  private constructor(win: ByteWindow, name: string) {
    super(win, name);
  }

  /** Opens a pcapng whose first block must be a valid Section Header Block. */
  static async open(win: ByteWindow, name: string): Promise<PcapngReader> {
    const r = new PcapngReader(win, name);
    if (await win.ensure(SHB_MIN) < SHB_MIN) {
      throw new PcapFormatError(`Cannot read ${name}: pcapng section header cut short`, 0);
    }
    const problem = r.readShbHeader(win.buf, win.start, win.available);
    if (problem !== null) throw new PcapFormatError(`Cannot read ${name}: ${problem}`, 0);
    const len = u32(win.buf, win.start + 4, r.le);
    if (await win.ensure(len) < len) {
      throw new PcapFormatError(`Cannot read ${name}: pcapng section header cut short`, 0);
    }
    const bad = r.checkBlock(win.buf, win.start, len, true) ??
      r.checkOptions(win.buf, win.start, len, 24);
    if (bad !== null) throw new PcapFormatError(`Cannot read ${name}: ${bad}`, 0);
    win.start += len;
    return r;
  }

  /** Checks a SHB's magic, byte order and version; sets the section's byte order. */
  private readShbHeader(b: Uint8Array, p: number, avail: number): string | null {
    if (avail < SHB_MIN) return "pcapng section header cut short";
    const bom = u32(b, p + 8, true);
    if (bom === BYTE_ORDER_MAGIC) this.le = true;
    else if (bom === 0x4d3c2b1a) this.le = false;
    else return `pcapng section header has an unknown byte-order magic 0x${bom.toString(16)}`;
    const major = u16(b, p + 12, this.le);
    const minor = u16(b, p + 14, this.le);
    if (major !== 1 || (minor !== 0 && minor !== 2)) {
      return `pcapng section version ${major}.${minor} is not supported (only 1.0)`;
    }
    this.ifaces = [];
    return null;
  }

  /** Validates a block's lengths; null when fine. */
  private checkBlock(b: Uint8Array, p: number, len: number, whole: boolean): string | null {
    if (len < BLOCK_MIN || len % 4 !== 0) return `block length ${len} is invalid`;
    if (len > RECORD_BYTES_MAX) return `block length ${len} exceeds the ${RECORD_BYTES_MAX} limit`;
    if (whole) {
      const trailer = u32(b, p + len - 4, this.le);
      if (trailer !== len) return `block trailing length ${trailer} differs from ${len}`;
    }
    return null;
  }

  /** Walks the options of a block (from `optStart` in it) and checks they fit. */
  private checkOptions(b: Uint8Array, p: number, len: number, optStart: number): string | null {
    let o = p + optStart;
    const end = p + len - 4;
    while (o + 4 <= end) {
      const code = u16(b, o, this.le);
      const olen = u16(b, o + 2, this.le);
      if (code === OPT_END) return null;
      const padded = (olen + 3) & ~3;
      if (o + 4 + padded > end) return `option ${code} of length ${olen} runs past its block`;
      o += 4 + padded;
    }
    return null;
  }

  private readIdb(b: Uint8Array, p: number, len: number): string | null {
    if (len < 20) return "interface description block too short";
    if (this.ifaces.length >= INTERFACES_MAX) return `more than ${INTERFACES_MAX} interfaces`;
    const bad = this.checkOptions(b, p, len, 16);
    if (bad !== null) return bad;
    const iface: Iface = {
      linkType: u16(b, p + 8, this.le),
      snapLen: u32(b, p + 12, this.le),
      tsResol: TSRESOL_DEFAULT,
      tsOffsetSec: 0,
    };
    let o = p + 16;
    const end = p + len - 4;
    while (o + 4 <= end) {
      const code = u16(b, o, this.le);
      const olen = u16(b, o + 2, this.le);
      if (code === OPT_END) break;
      if (code === OPT_IF_TSRESOL && olen >= 1) iface.tsResol = b[o + 4]!;
      if (code === OPT_IF_TSOFFSET && olen >= 8) {
        const hi = u32(b, o + 4 + (this.le ? 4 : 0), this.le) | 0;
        const lo = u32(b, o + 4 + (this.le ? 0 : 4), this.le);
        iface.tsOffsetSec = hi * 4294967296 + lo;
      }
      o += 4 + ((olen + 3) & ~3);
    }
    this.ifaces.push(iface);
    this.linkTypes.add(iface.linkType);
    return null;
  }

  /** Parses one whole block at `p`; returns a problem that stops the file, or null. */
  private block(
    b: Uint8Array,
    p: number,
    len: number,
    type: number,
    batch: PacketBatch,
  ): string | null {
    const n = batch.length;
    if (type === BT_EPB || type === BT_PB) {
      const old = type === BT_PB;
      if (len < 32) return "packet block too short";
      const ifId = old ? u16(b, p + 8, this.le) : u32(b, p + 8, this.le);
      const iface = this.ifaces[ifId];
      if (iface === undefined) return `packet block names interface ${ifId}, which is not defined`;
      const capLen = u32(b, p + 20, this.le);
      if (capLen > len - 32) return `packet block captured length ${capLen} exceeds its block`;
      storeUnits(
        u32(b, p + 12, this.le),
        u32(b, p + 16, this.le),
        iface.tsResol,
        iface.tsOffsetSec,
        batch,
        n,
      );
      batch.capLen[n] = capLen;
      batch.wireLen[n] = u32(b, p + 24, this.le);
      batch.linkType[n] = iface.linkType;
      batch.dataOff[n] = p + 28;
    } else if (type === BT_SPB) {
      if (len < 16) return "simple packet block too short";
      const iface = this.ifaces[0];
      if (iface === undefined) return "simple packet block before any interface";
      const wire = u32(b, p + 8, this.le);
      let capLen = Math.min(wire, len - 16);
      if (iface.snapLen > 0 && capLen > iface.snapLen) capLen = iface.snapLen;
      batch.tsSec[n] = NaN; // SPBs carry no timestamp
      batch.tsNsec[n] = 0;
      batch.capLen[n] = capLen;
      batch.wireLen[n] = wire;
      batch.linkType[n] = iface.linkType;
      batch.dataOff[n] = p + 12;
    } else if (type === BT_IDB) {
      return this.readIdb(b, p, len);
    } else if (type === BT_SHB) {
      const problem = this.readShbHeader(b, p, len);
      return problem ?? this.checkOptions(b, p, len, 24);
    } else {
      return null; // NRB, ISB, DSB, custom and unknown blocks are skipped
    }
    batch.length = n + 1;
    this.records++;
    return null;
  }

  protected cutUnit(): string {
    return "the block";
  }

  protected parse(batch: PacketBatch): number {
    const win = this.win;
    const b = win.buf;
    const end = win.end;
    let p = win.start;
    let need = 0;
    while (batch.length < batch.capacity) {
      if (end - p < 12) {
        need = 12;
        break;
      }
      const type = u32(b, p, this.le);
      if (type === BT_SHB) {
        if (end - p < SHB_MIN) {
          need = SHB_MIN;
          break;
        }
        // A new section may switch byte order: read its length with its own BOM.
        const bom = u32(b, p + 8, true);
        if (bom === BYTE_ORDER_MAGIC) this.le = true;
        else if (bom === 0x4d3c2b1a) this.le = false;
      }
      const len = u32(b, p + 4, this.le);
      const lenProblem = this.checkBlock(b, p, len, false);
      if (lenProblem !== null) {
        this.stop(
          `block at byte offset ${win.base + p}: ${lenProblem}: file damaged, stopped there`,
        );
        break;
      }
      if (end - p < len) {
        need = len;
        break;
      }
      const problem = this.checkBlock(b, p, len, true) ?? this.block(b, p, len, type, batch);
      if (problem !== null) {
        this.stop(`block at byte offset ${win.base + p}: ${problem}: stopped there`);
        break;
      }
      p += len;
    }
    win.start = p;
    return need;
  }
}
