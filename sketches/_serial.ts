/**
 * The common header of every serialised sketch, so bytes stored in DuckDB (or sent between
 * collectors) say what they are and which layout version wrote them:
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0 | 2 | magic "NS" |
 * | 2 | 1 | sketch kind (see `SketchKind`) |
 * | 3 | 1 | layout version of that kind |
 *
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

/** Writes the header into a new buffer of `bodyBytes` more bytes; returns it and its view. */
export function begin(
  kind: SketchKindCode,
  version: number,
  bodyBytes: number,
): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(HEADER_BYTES + bodyBytes);
  bytes[0] = MAGIC0, bytes[1] = MAGIC1, bytes[2] = kind, bytes[3] = version;
  return { bytes, view: new DataView(bytes.buffer) };
}

/** Checks the header; returns a view of the whole buffer. Throws SketchFormatError. */
export function open(
  bytes: Uint8Array,
  kind: SketchKindCode,
  version: number,
  name: string,
): DataView {
  if (bytes.length < HEADER_BYTES || bytes[0] !== MAGIC0 || bytes[1] !== MAGIC1) {
    throw new SketchFormatError(`Cannot read ${name}: no sketch header`);
  }
  if (bytes[2] !== kind) {
    throw new SketchFormatError(`Cannot read ${name}: the bytes hold sketch kind ${bytes[2]}`);
  }
  if (bytes[3] !== version) {
    throw new SketchFormatError(`Cannot read ${name}: unknown layout version ${bytes[3]}`);
  }
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Throws unless the buffer is exactly `expected` bytes long. */
export function expectLength(bytes: Uint8Array, expected: number, name: string): void {
  if (bytes.length !== expected) {
    throw new SketchFormatError(
      `Cannot read ${name}: ${bytes.length} bytes where the header implies ${expected}`,
    );
  }
}
