/**
 * Writers of small pcap / pcapng files for reader tests (test-only; byte layouts from the
 * pcap and pcapng drafts).
 *
 * @module
 */

export class Bytes {
  private parts: number[] = [];
  constructor(readonly le = true) {}
  u8(v: number): this {
    this.parts.push(v & 255);
    return this;
  }
  u16(v: number): this {
    return this.le ? this.u8(v).u8(v >>> 8) : this.u8(v >>> 8).u8(v);
  }
  u32(v: number): this {
    return this.le ? this.u16(v & 0xffff).u16(v >>> 16) : this.u16(v >>> 16).u16(v & 0xffff);
  }
  raw(b: ArrayLike<number>): this {
    for (let k = 0; k < b.length; k++) this.parts.push(b[k]!);
    return this;
  }
  pad4(): this {
    while (this.parts.length % 4 !== 0) this.parts.push(0);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** A UDP/IPv4 Ethernet frame of `len` bytes (≥ 42) from 10.0.0.1:1000 to 10.0.0.2:2000. */
export function udpFrame(len = 60, srcLast = 1): Uint8Array {
  const f = new Uint8Array(len);
  f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00], 0);
  const ipLen = len - 14;
  f.set([
    0x45,
    0,
    ipLen >> 8,
    ipLen & 255,
    0,
    1,
    0x40,
    0,
    64,
    17,
    0,
    0,
    10,
    0,
    0,
    srcLast,
    10,
    0,
    0,
    2,
  ], 14);
  const udpLen = ipLen - 20;
  f.set([1000 >> 8, 1000 & 255, 2000 >> 8, 2000 & 255, udpLen >> 8, udpLen & 255, 0, 0], 34);
  return f;
}

export interface PcapRecord {
  sec: number;
  frac: number;
  data: Uint8Array;
  wireLen?: number;
}

export function pcapFile(
  records: PcapRecord[],
  opts: { le?: boolean; magic?: number; major?: number; linkType?: number } = {},
): Uint8Array {
  const b = new Bytes(opts.le ?? true);
  const magic = opts.magic ?? 0xa1b2c3d4;
  b.u32(magic).u16(opts.major ?? 2).u16(4).u32(0).u32(0).u32(65535).u32(opts.linkType ?? 1);
  for (const r of records) {
    b.u32(r.sec).u32(r.frac).u32(r.data.length).u32(r.wireLen ?? r.data.length);
    if (magic === 0xa1b2cd34) b.u32(0).u16(0x0800).u8(0).u8(0);
    b.raw(r.data);
  }
  return b.bytes();
}

/** pcapng block: type, body, options (code, value) list. */
export function block(le: boolean, type: number, body: Uint8Array): Uint8Array {
  const b = new Bytes(le);
  const len = 12 + ((body.length + 3) & ~3);
  b.u32(type).u32(len).raw(body).pad4().u32(len);
  return b.bytes();
}

export function options(le: boolean, opts: [number, Uint8Array][]): Uint8Array {
  const b = new Bytes(le);
  for (const [code, v] of opts) b.u16(code).u16(v.length).raw(v).pad4();
  if (opts.length > 0) b.u16(0).u16(0);
  return b.bytes();
}

export function shb(le: boolean, major = 1, minor = 0): Uint8Array {
  const b = new Bytes(le);
  b.u32(0x1a2b3c4d).u16(major).u16(minor).u32(0xffffffff).u32(0xffffffff);
  return block(le, 0x0a0d0d0a, b.bytes());
}

export function idb(
  le: boolean,
  linkType: number,
  snapLen: number,
  opts: [number, Uint8Array][] = [],
): Uint8Array {
  const b = new Bytes(le);
  b.u16(linkType).u16(0).u32(snapLen).raw(options(le, opts));
  return block(le, 1, b.bytes());
}

export function epb(
  le: boolean,
  ifId: number,
  hi: number,
  lo: number,
  data: Uint8Array,
  wireLen = data.length,
) {
  const b = new Bytes(le);
  b.u32(ifId).u32(hi).u32(lo).u32(data.length).u32(wireLen).raw(data).pad4();
  return block(le, 6, b.bytes());
}

export function spb(le: boolean, data: Uint8Array, wireLen = data.length) {
  const b = new Bytes(le);
  b.u32(wireLen).raw(data).pad4();
  return block(le, 3, b.bytes());
}

export function pb(le: boolean, ifId: number, hi: number, lo: number, data: Uint8Array) {
  const b = new Bytes(le);
  b.u16(ifId).u16(0).u32(hi).u32(lo).u32(data.length).u32(data.length).raw(data).pad4();
  return block(le, 2, b.bytes());
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}

export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Writes `data` to a new temp file and returns its path. */
export async function tempFile(data: Uint8Array, suffix = ".pcap"): Promise<string> {
  const path = await Deno.makeTempFile({ suffix });
  await Deno.writeFile(path, data);
  return path;
}

/** A DNS query for `name` with id `id`, or its answer (one A record, 192.0.2.<id & 255>). */
export function dnsMessage(id: number, name: string, response = false): number[] {
  const m = [
    id >> 8,
    id & 255,
    response ? 0x81 : 1,
    response ? 0x80 : 0,
    0,
    1,
    0,
    response ? 1 : 0,
  ];
  m.push(0, 0, 0, 0);
  for (const l of name.split(".")) m.push(l.length, ...new TextEncoder().encode(l));
  m.push(0, 0, 1, 0, 1);
  if (response) m.push(0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, id & 255);
  return m;
}

/** A message behind its two-byte length, as DNS over TCP carries it (RFC 1035 §4.2.2). */
export function lengthPrefixed(m: number[]): number[] {
  return [m.length >> 8, m.length & 255, ...m];
}
