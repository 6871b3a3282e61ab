/**
 * Key columns from the engine's fixed-width keys. Flow-table entries, flow-tracker records
 * and sketch keys all start with the same 10 words — source address (4), destination address
 * (4), `srcPort << 16 | dstPort`, meta (`proto | family << 8 | ports bit 11 | VLAN bit 12 |
 * vlan << 16`) — and this is the one place that reads them into the window export's columns,
 * so nothing downstream knows the layout.
 *
 * @module
 */

import type { KeyMask } from "./flow_table.ts";
import type { KeyColumns } from "../export/mod.ts";

const W_PORTS = 8, W_META = 9;
const META_PORTS_PRESENT = 1 << 11, META_VLAN_PRESENT = 1 << 12;

/** Key columns being filled; `put` writes row r. */
export class KeyColumnsBuilder implements KeyColumns {
  readonly family: Uint8Array;
  readonly src: Uint32Array;
  readonly dst: Uint32Array;
  readonly proto: Int16Array;
  readonly srcPort: Int32Array;
  readonly dstPort: Int32Array;
  readonly vlan: Int32Array;
  readonly hasSrc: boolean;
  readonly hasDst: boolean;

  constructor(readonly length: number, private readonly mask: KeyMask) {
    this.family = new Uint8Array(length);
    this.src = new Uint32Array(length * 4);
    this.dst = new Uint32Array(length * 4);
    this.proto = new Int16Array(length);
    this.srcPort = new Int32Array(length);
    this.dstPort = new Int32Array(length);
    this.vlan = new Int32Array(length);
    this.hasSrc = mask.srcIp;
    this.hasDst = mask.dstIp;
  }

  /** The columns as a plain object (it crosses threads by structured clone). */
  done(): KeyColumns {
    const { length, family, src, dst, hasSrc, hasDst, proto, srcPort, dstPort, vlan } = this;
    return { length, family, src, dst, hasSrc, hasDst, proto, srcPort, dstPort, vlan };
  }

  /**
   * Row r from the key at w[o..o+10); with `swap`, the key's second side is the source (a
   * flow record whose initiator is side B). Fields outside the mask become NULL.
   */
  put(r: number, w: Int32Array, o: number, swap = false): void {
    const m = this.mask;
    const meta = w[o + W_META]!;
    const family = (meta >>> 8) & 7;
    this.family[r] = family;
    const a = swap ? o + 4 : o, b = swap ? o : o + 4;
    for (let j = 0; j < 4; j++) {
      this.src[r * 4 + j] = w[a + j]!;
      this.dst[r * 4 + j] = w[b + j]!;
    }
    this.proto[r] = m.proto ? meta & 0xff : -1;
    const ports = w[o + W_PORTS]! >>> 0;
    const hasPorts = (meta & META_PORTS_PRESENT) !== 0;
    const hi = ports >>> 16, lo = ports & 0xffff;
    this.srcPort[r] = hasPorts && m.srcPort ? (swap ? lo : hi) : -1;
    this.dstPort[r] = hasPorts && m.dstPort ? (swap ? hi : lo) : -1;
    this.vlan[r] = (meta & META_VLAN_PRESENT) !== 0 ? (meta >>> 16) & 0xfff : -1;
  }
}
