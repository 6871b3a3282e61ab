/**
 * Byte sources for capture readers: a file, standard input, either of them gzip-compressed
 * (detected by its magic bytes, not by the name).
 *
 * @module
 */

import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { createGunzip } from "node:zlib";
import { UserError } from "../user_error.ts";

/** Where capture bytes come from. `read` returns null at the end, like Deno.Reader. */
export interface ByteSource {
  read(into: Uint8Array): Promise<number | null>;
  close(): void;
  /** Bytes taken from the underlying file or pipe (compressed bytes for gzip). */
  readonly rawBytesRead: number;
  /** Size of the underlying file when known (for progress), else 0. */
  readonly rawBytesTotal: number;
  readonly compressed: boolean;
  /** Why the input ended early (a damaged gzip stream), or null. */
  readonly problem: string | null;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;
const RAW_CHUNK_BYTES = 256 * 1024;

/**
 * A plain file, pipe or FIFO. The bytes read to look at the magic are given back first
 * (never a seek: named pipes, `<(…)` and /dev/stdin cannot seek).
 */
class FileSource implements ByteSource {
  rawBytesRead = 0;
  readonly compressed = false;
  readonly problem = null;
  constructor(
    private readonly file: Deno.FsFile,
    readonly rawBytesTotal: number,
    private prefix: Uint8Array,
  ) {
    this.rawBytesRead = prefix.length;
  }
  async read(into: Uint8Array): Promise<number | null> {
    if (this.prefix.length > 0) {
      const n = Math.min(into.length, this.prefix.length);
      into.set(this.prefix.subarray(0, n));
      this.prefix = this.prefix.subarray(n);
      return n;
    }
    const n = await this.file.read(into);
    if (n !== null) this.rawBytesRead += n;
    return n;
  }
  close(): void {
    this.file.close();
  }
}

/** Reads a web stream of chunks, copying each into the caller's buffer. */
class StreamSource implements ByteSource {
  private pending: Uint8Array | null = null;
  problem: string | null = null;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  constructor(
    stream: ReadableStream<Uint8Array>,
    private readonly raw: { bytes: number; close(): void },
    readonly rawBytesTotal: number,
    readonly compressed: boolean,
  ) {
    this.reader = stream.getReader();
  }
  get rawBytesRead(): number {
    return this.raw.bytes;
  }
  async read(into: Uint8Array): Promise<number | null> {
    while (this.pending === null || this.pending.length === 0) {
      if (this.problem !== null) return null;
      try {
        const r = await this.reader.read();
        if (r.done) return null;
        this.pending = r.value;
      } catch (e) {
        // A damaged or cut gzip stream ends the input like a cut file: keep what came before.
        this.problem = `the gzip data is damaged or cut short (${(e as Error).message})`;
        return null;
      }
    }
    const n = Math.min(into.length, this.pending.length);
    into.set(this.pending.subarray(0, n));
    this.pending = this.pending.subarray(n);
    return n;
  }
  close(): void {
    this.reader.cancel().catch(() => {});
    this.raw.close();
  }
}

/** Pulls raw bytes from a reader function into a stream, counting them, after a prefix. */
function countingStream(
  prefix: Uint8Array,
  readRaw: (into: Uint8Array) => Promise<number | null>,
  counter: { bytes: number },
): ReadableStream<Uint8Array> {
  let prefixSent = prefix.length === 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!prefixSent) {
        prefixSent = true;
        controller.enqueue(prefix);
        return;
      }
      const chunk = new Uint8Array(RAW_CHUNK_BYTES);
      const n = await readRaw(chunk);
      if (n === null) {
        controller.close();
        return;
      }
      counter.bytes += n;
      controller.enqueue(chunk.subarray(0, n));
    },
  });
}

/** Reads at least 2 bytes (or to the end) to look at the magic. */
async function readPrefix(
  readRaw: (into: Uint8Array) => Promise<number | null>,
): Promise<Uint8Array> {
  const buf = new Uint8Array(RAW_CHUNK_BYTES);
  let got = 0;
  while (got < 2) {
    const n = await readRaw(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/**
 * Opens `path` (or standard input for `-`) as a byte source, unwrapping gzip.
 * Throws Deno.errors.NotFound and friends for files that cannot be opened.
 */
export async function openByteSource(path: string): Promise<ByteSource> {
  let readRaw: (into: Uint8Array) => Promise<number | null>;
  let closeRaw: () => void;
  let total = 0;
  let file: Deno.FsFile | null = null;
  if (path === "-") {
    readRaw = (into) => Deno.stdin.read(into);
    closeRaw = () => {};
  } else {
    file = await Deno.open(path, { read: true });
    const f = file;
    const info = await f.stat();
    if (info.isDirectory) {
      f.close();
      throw new UserError(`Cannot read ${path}: it is a directory`);
    }
    total = info.size;
    readRaw = (into) => f.read(into);
    closeRaw = () => f.close();
  }
  const prefix = await readPrefix(readRaw);
  const counter = { bytes: prefix.length, close: closeRaw };
  const isGzip = prefix.length >= 2 && prefix[0] === GZIP_MAGIC_0 && prefix[1] === GZIP_MAGIC_1;
  if (isGzip) {
    // node:zlib, not DecompressionStream: `cat a.gz b.gz` (several members) is a valid gzip
    // file that gunzip reads whole, and DecompressionStream stops with an error after the first.
    const raw = Readable.fromWeb(
      countingStream(prefix, readRaw, counter) as unknown as NodeReadableStream<Uint8Array>,
    );
    const gunzip = raw.pipe(createGunzip());
    raw.on("error", (e) => gunzip.destroy(e));
    const stream = Readable.toWeb(gunzip) as unknown as ReadableStream<Uint8Array>;
    return new StreamSource(stream, counter, total, true);
  }
  if (file !== null) return new FileSource(file, total, prefix);
  return new StreamSource(countingStream(prefix, readRaw, counter), counter, 0, false);
}
