/**
 * Packet metadata as a struct of arrays: one typed array per field, one slot per packet.
 *
 * A reader fills the record fields (timestamps, lengths, link type, where the bytes are);
 * the decoders fill the header fields in place. Nothing here is allocated per packet: a
 * batch is made once and reused for the whole run.
 *
 * Buffer ownership: `bytes` belongs to the reader and the offsets in `dataOff` are only
 * valid until the reader's next `fill()` call.
 *
 * @module
 */

/** Packets per batch when the caller does not say. Large enough to amortise calls. */
export const BATCH_PACKETS_DEFAULT = 4096;

/** Family value of a packet without a decodable outer IP header. */
export const FAMILY_NONE = 0;
export const FAMILY_IPV4 = 4;
export const FAMILY_IPV6 = 6;

/** `vlan` value of an untagged frame (VLAN ids are 12 bits, so this never collides). */
export const VLAN_NONE = 0xffff;

/** Per-packet flag bits in `flags`. */
export const FLAG_HAS_PORTS = 1;
export const FLAG_FRAGMENT = 2;
export const FLAG_HAS_TCP_FLAGS = 4;

export class PacketBatch {
  readonly capacity: number;
  /** Number of valid slots. */
  length = 0;
  /** The reader's buffer the `dataOff` offsets point into. */
  bytes: Uint8Array = new Uint8Array(0);

  // Record fields, filled by the reader.
  /** Whole seconds since the epoch; NaN when the record has no timestamp (pcapng SPB). */
  readonly tsSec: Float64Array;
  readonly tsNsec: Uint32Array;
  readonly capLen: Uint32Array;
  /** Original (wire) length, link-layer header included. */
  readonly wireLen: Uint32Array;
  readonly linkType: Uint16Array;
  readonly dataOff: Uint32Array;

  // Header fields, filled by the decoders.
  readonly family: Uint8Array;
  /** 4 words per packet (int32 bit patterns), big-endian packed; IPv4 uses word 0 only. */
  readonly src: Int32Array;
  readonly dst: Int32Array;
  readonly proto: Uint8Array;
  readonly srcPort: Uint16Array;
  readonly dstPort: Uint16Array;
  readonly tcpFlags: Uint16Array;
  /** TCP sequence number (valid with FLAG_HAS_TCP_FLAGS), for stream reassembly. */
  readonly tcpSeq: Uint32Array;
  readonly vlan: Uint16Array;
  readonly flags: Uint8Array;
  /** Decode error code (see decode/errors.ts); 0 = none. */
  readonly error: Uint8Array;
  /** Offset and length of the L4 payload in `bytes` (for the application decoders). */
  readonly payloadOff: Uint32Array;
  readonly payloadLen: Uint32Array;
  /**
   * IP fragments only (FLAG_FRAGMENT; stale otherwise), for reassembly (defrag.ts): the
   * identification, offset in bytes << 1 | More Fragments, where the fragment's data is in
   * `bytes` and how long, and the protocol of the fragmented part (IPv6: the Fragment
   * header's Next Header).
   */
  readonly fragId: Uint32Array;
  readonly fragInfo: Uint32Array;
  readonly fragDataOff: Uint32Array;
  readonly fragDataLen: Uint32Array;
  readonly fragNext: Uint8Array;

  /**
   * With `buffer` (at least {@link PacketBatch.bytesFor} bytes, e.g. a SharedArrayBuffer a
   * helper thread also maps), every field is a view into it; else each field is its own array.
   */
  constructor(capacity = BATCH_PACKETS_DEFAULT, buffer?: ArrayBufferLike) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 20) {
      throw new RangeError(`Cannot make a packet batch of ${capacity} packets: 1..1048576`);
    }
    this.capacity = capacity;
    const buf = buffer ?? new ArrayBuffer(PacketBatch.bytesFor(capacity));
    if (buf.byteLength < PacketBatch.bytesFor(capacity)) {
      throw new RangeError("Buffer too small for the packet batch");
    }
    // Widest fields first, so every view starts aligned to its element size.
    let o = 0;
    const take = <T>(
      make: new (b: ArrayBufferLike, o: number, n: number) => T,
      size: number,
      n: number,
    ) => {
      const v = new make(buf, o, n);
      o += size * n;
      return v;
    };
    this.tsSec = take(Float64Array, 8, capacity);
    this.tsNsec = take(Uint32Array, 4, capacity);
    this.capLen = take(Uint32Array, 4, capacity);
    this.wireLen = take(Uint32Array, 4, capacity);
    this.dataOff = take(Uint32Array, 4, capacity);
    this.src = take(Int32Array, 4, capacity * 4);
    this.dst = take(Int32Array, 4, capacity * 4);
    this.tcpSeq = take(Uint32Array, 4, capacity);
    this.payloadOff = take(Uint32Array, 4, capacity);
    this.payloadLen = take(Uint32Array, 4, capacity);
    this.fragId = take(Uint32Array, 4, capacity);
    this.fragInfo = take(Uint32Array, 4, capacity);
    this.fragDataOff = take(Uint32Array, 4, capacity);
    this.fragDataLen = take(Uint32Array, 4, capacity);
    this.linkType = take(Uint16Array, 2, capacity);
    this.srcPort = take(Uint16Array, 2, capacity);
    this.dstPort = take(Uint16Array, 2, capacity);
    this.tcpFlags = take(Uint16Array, 2, capacity);
    this.vlan = take(Uint16Array, 2, capacity);
    this.family = take(Uint8Array, 1, capacity);
    this.proto = take(Uint8Array, 1, capacity);
    this.flags = take(Uint8Array, 1, capacity);
    this.error = take(Uint8Array, 1, capacity);
    this.fragNext = take(Uint8Array, 1, capacity);
    if (o !== PacketBatch.bytesFor(capacity)) throw new Error("PacketBatch.bytesFor is stale");
  }

  /** Bytes of every field of a batch of `capacity` packets (see the constructor). */
  static bytesFor(capacity: number): number {
    // 1 double, 11 single words and 8 address words, 5 halves, 5 bytes per packet.
    return capacity * (8 + 4 * 11 + 4 * 8 + 2 * 5 + 5);
  }
}

/**
 * Copies the header fields the flow lifecycle and the sketches read (timestamps, wire length,
 * addresses, ports, protocol, TCP flags, VLAN, flags) of `from`'s packets into `to`.
 */
export function copyHeaders(from: PacketBatch, to: PacketBatch): void {
  const n = from.length;
  if (n > to.capacity) throw new RangeError("Batch larger than the one copied into");
  to.tsSec.set(from.tsSec.subarray(0, n));
  to.tsNsec.set(from.tsNsec.subarray(0, n));
  to.wireLen.set(from.wireLen.subarray(0, n));
  to.src.set(from.src.subarray(0, n * 4));
  to.dst.set(from.dst.subarray(0, n * 4));
  to.srcPort.set(from.srcPort.subarray(0, n));
  to.dstPort.set(from.dstPort.subarray(0, n));
  to.tcpFlags.set(from.tcpFlags.subarray(0, n));
  to.vlan.set(from.vlan.subarray(0, n));
  to.family.set(from.family.subarray(0, n));
  to.proto.set(from.proto.subarray(0, n));
  to.flags.set(from.flags.subarray(0, n));
  to.length = n;
}
