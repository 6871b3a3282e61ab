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

  constructor(capacity = BATCH_PACKETS_DEFAULT) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 20) {
      throw new RangeError(`Cannot make a packet batch of ${capacity} packets: 1..1048576`);
    }
    this.capacity = capacity;
    this.tsSec = new Float64Array(capacity);
    this.tsNsec = new Uint32Array(capacity);
    this.capLen = new Uint32Array(capacity);
    this.wireLen = new Uint32Array(capacity);
    this.linkType = new Uint16Array(capacity);
    this.dataOff = new Uint32Array(capacity);
    this.family = new Uint8Array(capacity);
    this.src = new Int32Array(capacity * 4);
    this.dst = new Int32Array(capacity * 4);
    this.proto = new Uint8Array(capacity);
    this.srcPort = new Uint16Array(capacity);
    this.dstPort = new Uint16Array(capacity);
    this.tcpFlags = new Uint16Array(capacity);
    this.tcpSeq = new Uint32Array(capacity);
    this.vlan = new Uint16Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.error = new Uint8Array(capacity);
    this.payloadOff = new Uint32Array(capacity);
    this.payloadLen = new Uint32Array(capacity);
  }
}
