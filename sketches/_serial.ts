/**
 * The common header of every serialised sketch, so bytes stored in DuckDB (or sent between
 * collectors) say what they are and which layout version wrote them:
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0 | 2 | magic "NS" |
 * | 2 | 1 | sketch kind (see `SketchKind`) |
 * | 3 | 1 | layout version of that kind; bit 7 set: a seed follows |
 * | 4 | 4 | (bit 7) the hash seed the sketch was filled with (u32); absent: seed 0 |
 *
 * Sketches hashed with different seeds cannot be merged; the seed travels with the bytes so
 * every merge can check it.
 * All numbers after the header are little-endian.
 *
 * @module
 */

export const SketchKind = {
  hll: 1,
  countMin: 2,
  heavyHitters: 3,
  spread: 4,
} as const;
export type SketchKindCode = typeof SketchKind[keyof typeof SketchKind];

export const HEADER_BYTES = 4;
const MAGIC0 = 0x4e, MAGIC1 = 0x53; // "NS"

export class SketchFormatError extends SyntaxError {
  constructor(message: string) {
    super(message);
    this.name = "SketchFormatError";
  }
}

/** Bit 7 of the version byte: the header goes on with the 4-byte hash seed. */
const SEEDED = 0x80;
const SEED_BYTES = 4;

/**
 * Writes the header (with `seed`) into a new buffer for `bodyBytes` more bytes. `bytes` and
 * `view` start 4 bytes in, so the body is written at HEADER_BYTES as always; `full` is the
 * serialised sketch.
 */
export function begin(
  kind: SketchKindCode,
  version: number,
  bodyBytes: number,
  seed = 0,
): { bytes: Uint8Array; view: DataView; full: Uint8Array } {
  const full = new Uint8Array(HEADER_BYTES + SEED_BYTES + bodyBytes);
  full[0] = MAGIC0, full[1] = MAGIC1, full[2] = kind, full[3] = version | SEEDED;
  new DataView(full.buffer).setUint32(HEADER_BYTES, seed >>> 0, true);
  return {
    bytes: full.subarray(SEED_BYTES),
    view: new DataView(full.buffer, SEED_BYTES),
    full,
  };
}

/**
 * Checks the header; returns the body's bytes and view (the body at HEADER_BYTES, as `begin`
 * laid it out) and the seed (0 for sketches written before seeds). Throws SketchFormatError.
 */
export function open(
  bytes: Uint8Array,
  kind: SketchKindCode,
  version: number,
  name: string,
): { bytes: Uint8Array; view: DataView; seed: number } {
  if (bytes.length < HEADER_BYTES || bytes[0] !== MAGIC0 || bytes[1] !== MAGIC1) {
    throw new SketchFormatError(`Cannot read ${name}: no sketch header`);
  }
  if (bytes[2] !== kind) {
    throw new SketchFormatError(`Cannot read ${name}: the bytes hold sketch kind ${bytes[2]}`);
  }
  if ((bytes[3]! & ~SEEDED) !== version) {
    throw new SketchFormatError(`Cannot read ${name}: unknown layout version ${bytes[3]}`);
  }
  let seed = 0;
  if ((bytes[3]! & SEEDED) !== 0) {
    if (bytes.length < HEADER_BYTES + SEED_BYTES) {
      throw new SketchFormatError(`Cannot read ${name}: the seed is cut short`);
    }
    seed = new DataView(bytes.buffer, bytes.byteOffset).getUint32(HEADER_BYTES, true);
    bytes = bytes.subarray(SEED_BYTES);
  }
  return { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), seed };
}

/** Merges need sketches filled with the same seed (their buckets mean the same keys). */
export function checkSeeds(a: number, b: number, name: string): void {
  if (a !== b) {
    throw new RangeError(`Cannot merge ${name} hashed with different seeds (${a} and ${b})`);
  }
}

/** Throws unless the buffer is exactly `expected` bytes long. */
export function expectLength(bytes: Uint8Array, expected: number, name: string): void {
  if (bytes.length !== expected) {
    throw new SketchFormatError(
      `Cannot read ${name}: ${bytes.length} bytes where the header implies ${expected}`,
    );
  }
}
