/**
 * Live capture from a network device through an AF_PACKET socket and its TPACKET_V3 receive
 * ring (packet(7)): the kernel writes frames into blocks of memory mapped into this process,
 * and the frames are read where they lie — no system call and no FFI call per packet, one
 * `poll` when the next block is not ready yet. A batch's `bytes` is the ring itself and its
 * offsets point at the frames; a block goes back to the kernel at the next `fill`, which is
 * when the PacketBatch contract says the offsets stop being valid.
 *
 * Like libpcap: the socket takes no traffic before it is bound to the device (protocol 0 at
 * creation), the filter is attached before binding, frames the loopback device sends are not
 * taken twice (only the received copy), and a VLAN tag the kernel took off the frame (tp_vlan_tci)
 * is put back in place, so decoding sees the frame as it was on the wire.
 *
 * @module
 */

import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from "../decode/mod.ts";
import { type CaptureCounts, NO_CAPTURE } from "../export/mod.ts";
import type { PacketBatch } from "../packet/mod.ts";
import { UserError } from "../user_error.ts";
import { compileFilter, DROP_ALL, TAKE_ALL } from "./bpf.ts";
import { ENODEV, ENOMEM, EPERM, errnoText, lastError, libcSymbols } from "./_ffi.ts";

const AF_PACKET = 17;
const SOCK_RAW = 3;
/** htons(ETH_P_ALL) as the kernel reads it from a little-endian int. */
const ETH_P_ALL_BE = 0x0300;
const SOL_SOCKET = 1;
const SO_ATTACH_FILTER = 26;
const SOL_PACKET = 263;
const PACKET_ADD_MEMBERSHIP = 1;
const PACKET_MR_PROMISC = 1;
const PACKET_RX_RING = 5;
const PACKET_STATISTICS = 6;
const PACKET_VERSION = 10;
const TPACKET_V3 = 2;
const PACKET_OUTGOING = 4;

const TP_STATUS_USER = 1;
const TP_STATUS_VLAN_VALID = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID = 1 << 6;

// struct tpacket_block_desc: version, offset_to_priv, then tpacket_hdr_v1 from byte 8.
const B_STATUS = 8;
const B_PACKETS = 12;
const B_FIRST = 16;
// struct tpacket3_hdr, then struct sockaddr_ll at TPACKET_ALIGN(48) = 48.
const P_NEXT = 0;
const P_SEC = 4;
const P_NSEC = 8;
const P_SNAPLEN = 12;
const P_LEN = 16;
const P_STATUS = 20;
const P_MAC = 24;
const P_VLAN_TCI = 32;
const P_VLAN_TPID = 36;
const P_PKTTYPE = 48 + 10;
/** Where the frame may start at the earliest once the header fields above were read. */
const P_HEADER_END = 48 + 12;

const BLOCK_BYTES = 1 << 22;
/** Frame slots in the ring's request (TPACKET_V3 packs frames; this only has to be consistent). */
const FRAME_BYTES = 2048;

export const SNAPLEN_DEFAULT = 262144;
/**
 * 128 MiB: ~0.6 s of 60-byte frames at 800k a second (a 4 MiB block holds ~15k of them). With
 * 64 MiB the daemon dropped frames in about one benchmark run of three at that rate (warming up,
 * or a slow second beside the store's writes); with 128 or 256 MiB in none of 10.
 */
export const BUFFER_BYTES_DEFAULT = 128 << 20;
export const BUFFER_BYTES_MIN = 2 * BLOCK_BYTES;
/** Offsets into the ring are 32-bit (PacketBatch.dataOff). */
export const BUFFER_BYTES_MAX = 2 ** 31;
/** How long the kernel fills a block before handing it over anyway (ms): the added latency. */
const BLOCK_TIMEOUT_MS = 10;

export interface LiveOptions {
  device: string;
  /** A capture filter in tcpdump's language (none: every frame). */
  filter?: string;
  /** Bytes of each frame kept at most (default 262,144). */
  snaplen?: number;
  /** The ring's size (default 128 MiB; whole 4 MiB blocks, at least two). */
  bufferBytes?: number;
  /** Take frames not addressed to this host too (default false). */
  promiscuous?: boolean;
}

/**
 * The capture's counts since the ring was opened. `received` is the kernel's PACKET_STATISTICS
 * (frames the filter passed, those dropped for want of ring space included), read as deltas: it
 * resets its 32-bit counters at each read, so they cannot wrap between two reads a window apart.
 * `skipped`: the sent copies on lo, passed over (each frame shows twice there; as libpcap).
 * `ifDropped`: rx_dropped + rx_missed_errors under /sys/class/net/DEV/statistics, for the whole
 * interface, not only what the filter takes; 0 where the device has no such counters.
 */
export type LiveStats = CaptureCounts;

const POLLERR = 8;
const SO_ERROR = 4;

const SIOCGIFHWADDR = 0x8927;

/**
 * The link type of a device's frames from its hardware type (ARPHRD_*, asked of the kernel with
 * SIOCGIFHWADDR on socket `fd`: no file under /sys to read), or null when it has none.
 */
function linkTypeOf(fd: number, device: string): number | null {
  // struct ifreq: the name (16 bytes), then a struct sockaddr whose family is the ARPHRD type.
  const ifr = new Uint8Array(40);
  ifr.set(new TextEncoder().encode(device));
  if (libcSymbols().ioctl(fd, BigInt(SIOCGIFHWADDR), ifr) < 0) return null;
  const type = ifr[16]! | (ifr[17]! << 8);
  // ARPHRD_ETHER, ARPHRD_LOOPBACK: Ethernet headers. ARPHRD_NONE (tun), ARPHRD_PPP: bare IP.
  if (type === 1 || type === 772) return LINKTYPE_ETHERNET;
  if (type === 65534 || type === 512) return LINKTYPE_RAW;
  throw new UserError(`Capturing on ${device} (hardware type ${type}) is not supported.`);
}

export class LiveRing {
  private readonly u32: Uint32Array;
  private readonly u16: Uint16Array;
  private readonly bytes: Uint8Array;
  private readonly blocks: number;
  private readonly poller = new Uint8Array(8);
  /** The block being read, the packets left in it and where the next one is. */
  private block = 0;
  private left = 0;
  private at = 0;
  private reading = false;
  /** Blocks read to their end during the last fill: the kernel's again at the next. */
  private readonly done: number[] = [];
  private totals: { -readonly [K in keyof LiveStats]: number } = { ...NO_CAPTURE };
  private skipped = 0;
  /** The interface's own drop counters when the ring was opened (null: it has none). */
  private readonly ifDropBase: number | null;
  private closed = false;

  private constructor(
    readonly device: string,
    readonly linkType: number,
    private readonly fd: number,
    private readonly ring: Deno.PointerValue,
    private readonly ringBytes: number,
    readonly snaplen: number,
    private readonly loopback: boolean,
    private readonly ifindex: number,
  ) {
    this.ifDropBase = interfaceDrops(device);
    const buf = Deno.UnsafePointerView.getArrayBuffer(ring!, ringBytes);
    this.u32 = new Uint32Array(buf);
    this.u16 = new Uint16Array(buf);
    this.bytes = new Uint8Array(buf);
    this.blocks = ringBytes / BLOCK_BYTES;
    const p = new DataView(this.poller.buffer);
    p.setInt32(0, fd, true);
    p.setInt16(4, 1, true); // POLLIN
  }

  /** Opens `opts.device`; a missing device, a bad filter or missing rights are UserErrors. */
  static open(opts: LiveOptions): LiveRing {
    const snaplen = opts.snaplen ?? SNAPLEN_DEFAULT;
    if (!Number.isInteger(snaplen) || snaplen < 64 || snaplen > SNAPLEN_DEFAULT) {
      throw new UserError(`Invalid snaplen ${snaplen}: 64 to ${SNAPLEN_DEFAULT} bytes.`);
    }
    const bufferBytes = opts.bufferBytes ?? BUFFER_BYTES_DEFAULT;
    if (
      !Number.isInteger(bufferBytes) || bufferBytes < BUFFER_BYTES_MIN ||
      bufferBytes > BUFFER_BYTES_MAX
    ) {
      throw new UserError(
        `Invalid capture buffer ${bufferBytes}: ${BUFFER_BYTES_MIN} to ${BUFFER_BYTES_MAX} bytes.`,
      );
    }
    const { device } = opts;
    if (device.length === 0 || device.length > 15 || /[\s/\0]/.test(device)) {
      throw new UserError(`Invalid device name "${device}".`);
    }
    const c = libcSymbols();
    const ifindex = c.if_nametoindex(new TextEncoder().encode(device + "\0"));
    if (ifindex === 0) throw new UserError(`No network device "${device}".`);

    // Protocol 0: no frame reaches the socket before bind names the device and the protocol.
    const fd = c.socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0) {
      const e = lastError();
      if (e.code === EPERM) {
        throw new UserError(
          `Capturing on ${device} needs root or the CAP_NET_RAW capability (${e.text}).`,
        );
      }
      throw new Error(`socket(AF_PACKET): ${e.text}`);
    }
    const blocks = Math.floor(bufferBytes / BLOCK_BYTES);
    const ringBytes = blocks * BLOCK_BYTES;
    let ring: Deno.PointerValue = null;
    try {
      const linkType = linkTypeOf(fd, device);
      if (linkType === null) throw new UserError(`No network device "${device}".`);
      const filter = opts.filter === undefined || opts.filter.trim() === ""
        ? null
        : compileFilter(opts.filter, linkType, snaplen);
      const opt = (level: number, name: number, value: Uint8Array, what: string) => {
        if (c.setsockopt(fd, level, name, value, value.length) < 0) {
          const e = lastError();
          if (name === PACKET_RX_RING && e.code === ENOMEM) {
            throw new UserError(
              `A capture buffer of ${ringBytes} bytes could not be had (${e.text}): ask for less.`,
            );
          }
          throw new Error(`setsockopt(${what}): ${e.text}`);
        }
      };
      opt(SOL_PACKET, PACKET_VERSION, u32s(TPACKET_V3), "PACKET_VERSION");
      // tpacket_req3: block size and count, frame size and count, block timeout (ms),
      // private bytes per block, feature word.
      const req = u32s(
        BLOCK_BYTES,
        blocks,
        FRAME_BYTES,
        (BLOCK_BYTES / FRAME_BYTES) * blocks,
        BLOCK_TIMEOUT_MS,
        0,
        0,
      );
      opt(SOL_PACKET, PACKET_RX_RING, req, "PACKET_RX_RING");
      ring = c.mmap(null, BigInt(ringBytes), 3, /* read|write */ 1, /* shared */ fd, 0n);
      if (ring === null || Deno.UnsafePointer.value(ring) === 0xffffffffffffffffn) {
        ring = null;
        throw new Error(`mmap of the capture ring: ${lastError().text}`);
      }
      if (filter !== null) attachFilter(fd, filter);
      if (opts.promiscuous === true) {
        // struct packet_mreq { int ifindex; u16 type; u16 alen; u8 address[8]; }
        const mreq = new Uint8Array(16);
        const v = new DataView(mreq.buffer);
        v.setInt32(0, ifindex, true);
        v.setUint16(4, PACKET_MR_PROMISC, true);
        opt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq, "PACKET_ADD_MEMBERSHIP");
      }
      // struct sockaddr_ll { u16 family; u16 protocol (network order); int ifindex; ... }
      const sll = new Uint8Array(20);
      const v = new DataView(sll.buffer);
      v.setUint16(0, AF_PACKET, true);
      v.setUint16(2, ETH_P_ALL_BE, true);
      v.setInt32(4, ifindex, true);
      if (c.bind(fd, sll, sll.length) < 0) {
        const e = lastError();
        if (e.code === ENODEV) throw new UserError(`No network device "${device}".`);
        throw new Error(`bind to ${device}: ${e.text}`);
      }
      const r = new LiveRing(
        device,
        linkType,
        fd,
        ring,
        ringBytes,
        snaplen,
        device === "lo",
        ifindex,
      );
      r.stats(); // the kernel's counters start now
      return r;
    } catch (e) {
      if (ring !== null) c.munmap(ring, BigInt(ringBytes));
      c.close(fd);
      throw e;
    }
  }

  /**
   * Fills `batch` with the frames ready in the ring (record fields only) and returns how many;
   * 0 when none is ready (then `wait`). Never blocks. With `beforeSec`, it stops at the first
   * frame stamped at or after that second, which stays for a later fill.
   */
  fill(batch: PacketBatch, beforeSec = Infinity): number {
    if (this.closed) throw new Error("capture already closed");
    const u32 = this.u32, bytes = this.bytes;
    // The frames the previous batch pointed at are no longer in use.
    for (const b of this.done) u32[(b * BLOCK_BYTES + B_STATUS) >> 2] = 0;
    this.done.length = 0;
    batch.length = 0;
    batch.bytes = bytes;
    const cap = batch.capacity;
    let n = 0;
    while (n < cap) {
      if (this.left === 0) {
        if (this.reading) {
          this.done.push(this.block);
          this.reading = false;
          this.block = (this.block + 1) % this.blocks;
        }
        const base = this.block * BLOCK_BYTES;
        if ((u32[(base + B_STATUS) >> 2]! & TP_STATUS_USER) === 0) break;
        // Round the whole ring in one batch: that block is this batch's, read already.
        if (this.done.includes(this.block)) break;
        this.reading = true;
        this.left = u32[(base + B_PACKETS) >> 2]!;
        this.at = base + u32[(base + B_FIRST) >> 2]!;
        continue;
      }
      const o = this.at;
      // Left in the ring for a later fill: the batch ends at a given second (a task change).
      if (u32[(o + P_SEC) >> 2]! >= beforeSec) break;
      this.at = o + u32[(o + P_NEXT) >> 2]!;
      this.left--;
      if (this.loopback && bytes[o + P_PKTTYPE] === PACKET_OUTGOING) {
        this.skipped++;
        continue;
      }
      let mac = o + this.u16[(o + P_MAC) >> 1]!;
      let capLen = u32[(o + P_SNAPLEN) >> 2]!;
      let wireLen = u32[(o + P_LEN) >> 2]!;
      const status = u32[(o + P_STATUS) >> 2]!;
      if (
        (status & TP_STATUS_VLAN_VALID) !== 0 && this.linkType === LINKTYPE_ETHERNET &&
        capLen >= 12 && mac - 4 >= o + P_HEADER_END
      ) {
        // Put the tag back where it was: addresses 4 bytes earlier, then TPID and TCI.
        const tci = u32[(o + P_VLAN_TCI) >> 2]! & 0xffff;
        const tpid = (status & TP_STATUS_VLAN_TPID_VALID) !== 0
          ? this.u16[(o + P_VLAN_TPID) >> 1]!
          : 0x8100;
        bytes.copyWithin(mac - 4, mac, mac + 12);
        mac -= 4;
        bytes[mac + 12] = tpid >>> 8, bytes[mac + 13] = tpid & 0xff;
        bytes[mac + 14] = tci >>> 8, bytes[mac + 15] = tci & 0xff;
        capLen += 4, wireLen += 4;
      }
      batch.tsSec[n] = u32[(o + P_SEC) >> 2]!;
      batch.tsNsec[n] = u32[(o + P_NSEC) >> 2]!;
      batch.capLen[n] = capLen < this.snaplen ? capLen : this.snaplen;
      batch.wireLen[n] = wireLen;
      batch.linkType[n] = this.linkType;
      batch.dataOff[n] = mac;
      n++;
    }
    batch.length = n;
    return n;
  }

  /**
   * Waits until frames are ready or `ms` passed (on a thread of its own: the loop runs on).
   * Returns the socket's pending error (ENETDOWN: the device went down or away), else null.
   */
  async wait(ms: number): Promise<string | null> {
    if (this.closed) return null;
    const base = this.block * BLOCK_BYTES;
    if (this.left > 0 || (this.u32[(base + B_STATUS) >> 2]! & TP_STATUS_USER) !== 0) return null;
    this.poller[6] = 0, this.poller[7] = 0;
    await libcSymbols().poll(this.poller, 1n, Math.max(0, Math.floor(ms)));
    if ((this.poller[6]! & POLLERR) === 0) return null;
    // Reading SO_ERROR clears it; the text names what happened.
    const err = new Uint32Array(1);
    libcSymbols().getsockopt(this.fd, SOL_SOCKET, SO_ERROR, u8(err), u32s(4));
    return err[0] === 0 ? null : errnoText(err[0]!);
  }

  /**
   * Whether the device this ring was bound to is still there (same index): a device that went
   * down comes back to the same socket, one deleted (and made again) needs a new ring.
   */
  deviceAlive(): boolean {
    return libcSymbols().if_nametoindex(new TextEncoder().encode(this.device + "\0")) ===
      this.ifindex;
  }

  /** Takes `filter` (tcpdump's language; empty: every frame) from now on, in place. */
  setFilter(filter: string | undefined): void {
    attachFilter(
      this.fd,
      filter === undefined || filter.trim() === ""
        ? TAKE_ALL
        : compileFilter(filter, this.linkType, this.snaplen),
    );
  }

  /**
   * The kernel puts no more frames in the ring (a filter that takes nothing): what is in it can
   * be drained, and the counts read afterwards are final, so they add up with what was read.
   */
  stopIntake(): void {
    attachFilter(this.fd, DROP_ALL);
  }

  /** The kernel's counts since the ring was opened (it resets its own at each read). */
  stats(): LiveStats {
    if (this.closed) return { ...this.totals };
    const st = new Uint32Array(3), len = u32s(12);
    if (libcSymbols().getsockopt(this.fd, SOL_PACKET, PACKET_STATISTICS, u8(st), len) === 0) {
      // tpacket_stats_v3: packets (drops included), drops, queue freezes.
      this.totals.received += st[0]!;
      this.totals.dropped += st[1]!;
    }
    this.totals.skipped = this.skipped;
    const ifNow = this.ifDropBase === null ? null : interfaceDrops(this.device);
    // A device made again starts its counters at 0: what it counted before stays counted.
    if (ifNow !== null && ifNow >= this.ifDropBase!) {
      this.totals.ifDropped = ifNow - this.ifDropBase!;
    }
    return { ...this.totals };
  }

  close(): void {
    if (this.closed) return;
    this.stats();
    this.closed = true;
    const c = libcSymbols();
    c.munmap(this.ring, BigInt(this.ringBytes));
    c.close(this.fd);
  }
}

/** Attaches a classic BPF program (sock_filter instructions) to socket `fd`. */
function attachFilter(fd: number, program: Uint8Array): void {
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
  const prog = new Uint8Array(16);
  const v = new DataView(prog.buffer);
  v.setUint16(0, program.length / 8, true);
  v.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(program))), true);
  if (libcSymbols().setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, prog, prog.length) < 0) {
    throw new Error(`setsockopt(SO_ATTACH_FILTER): ${lastError().text}`);
  }
}

/** The interface's own receive drops (rx_dropped + rx_missed_errors), or null without them. */
function interfaceDrops(device: string): number | null {
  let sum = 0;
  for (const name of ["rx_dropped", "rx_missed_errors"]) {
    try {
      sum += Number(Deno.readTextFileSync(`/sys/class/net/${device}/statistics/${name}`).trim());
    } catch {
      return null;
    }
  }
  return Number.isFinite(sum) ? sum : null;
}

function u32s(...values: number[]): Uint8Array {
  return u8(new Uint32Array(values));
}

function u8(a: Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
