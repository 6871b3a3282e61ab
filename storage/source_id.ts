/**
 * Source ids: a fingerprint of the inputs, so analysing the same capture(s) again replaces the
 * earlier rows instead of doubling them.
 *
 * @module
 */

const SAMPLE_BYTES = 1 << 20;

async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/**
 * SHA-256 over each input's size, first and last MiB, in order (hex, 32 chars). Standard
 * input cannot be recognised again: it gets a random id, so each run adds its own rows.
 */
export async function sourceIdOf(files: readonly string[]): Promise<string> {
  if (files.includes("-")) return `stdin-${crypto.randomUUID()}`;
  const parts: Uint8Array[] = [];
  for (const path of files) {
    const file = await Deno.open(path, { read: true });
    try {
      const size = (await file.stat()).size;
      parts.push(new TextEncoder().encode(`${size};`));
      parts.push(await readAt(file, 0, Math.min(size, SAMPLE_BYTES)));
      if (size > SAMPLE_BYTES) {
        parts.push(await readAt(file, Math.max(SAMPLE_BYTES, size - SAMPLE_BYTES), SAMPLE_BYTES));
      }
    } finally {
      file.close();
    }
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) all.set(p, o), o += p.length;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}
