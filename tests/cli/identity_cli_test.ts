/**
 * A capture's identity is its content: the same packets analysed again — as gzip, through
 * stdin or a named pipe, twice in one run, inside a multi-file run, or as a capture that grew —
 * are stored once; a different capture is never taken for another.
 *
 * @module
 */

import assert from "node:assert/strict";
import { gzip } from "../_builders.ts";
import { PCAPS_DIR } from "../_testdata.ts";
import { MAIN, PERMS, runCli } from "./_run.ts";

const SLL = PCAPS_DIR + "pcapplusplus__sll.pcap"; // 518 packets
const FLAGS = PCAPS_DIR + "tcpdump__print-flags.pcap"; // 10 packets

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function analyze(dir: string, args: string[], stdin?: Uint8Array): Promise<void> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, MAIN, "analyze", "--db", "s.duckdb", "--format", "csv", ...args],
    cwd: dir,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "null",
    stderr: "piped",
  });
  const child = cmd.spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

/** [sources, packets stored, windows] in the store. */
async function counts(dir: string): Promise<number[]> {
  const r = await runCli([
    "sql",
    "--db",
    "s.duckdb",
    "--format",
    "csv",
    "SELECT (SELECT count(*) FROM sources), (SELECT sum(packets) FROM window_totals), (SELECT count(*) FROM window_totals)",
  ], dir);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split("\n")[1]!.split(",").map(Number);
}

Deno.test("identity: gzip, stdin, a named pipe, twice in one run and in a multi-file run count once", async () => {
  await withDir(async (dir) => {
    const sll = await Deno.readFile(SLL);
    await analyze(dir, [SLL]);
    const once = await counts(dir);
    assert.equal(once[0], 1);
    assert.equal(once[1], 518);
    await Deno.writeFile(`${dir}/sll.pcap.gz`, await gzip(sll));
    await analyze(dir, ["sll.pcap.gz"]);
    assert.deepEqual(await counts(dir), once, "gzip of the same capture");
    await analyze(dir, ["-"], sll);
    assert.deepEqual(await counts(dir), once, "the same bytes through stdin");
    await analyze(dir, [SLL, SLL]);
    assert.deepEqual(await counts(dir), once, "the same capture twice in one run");
    await analyze(dir, [FLAGS, SLL]);
    const both = await counts(dir);
    assert.deepEqual(both.slice(0, 2), [2, 528], "inside a multi-file run, beside another");
    // A named pipe cannot seek; it is read like any file, and it is the same content.
    const fifo = `${dir}/pipe`;
    const mk = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.ok(mk.success);
    const writer = (async () => {
      const f = await Deno.open(fifo, { write: true });
      await f.write(sll);
      f.close();
    })();
    await analyze(dir, [fifo]);
    await writer;
    assert.deepEqual(await counts(dir), both, "through a named pipe");
  });
});

Deno.test("identity: a capture that grew replaces the analysis of its first part", async () => {
  await withDir(async (dir) => {
    const sll = await Deno.readFile(SLL);
    // The first part: the file as it was when a capture was still writing it (cut mid-record).
    const path = `${dir}/growing.pcap`;
    await Deno.writeFile(path, sll.subarray(0, 20_011));
    await analyze(dir, [path]);
    const first = await counts(dir);
    assert.equal(first[0], 1);
    assert.ok(first[1]! > 0 && first[1]! < 518, `first part: ${first[1]} packets`);
    await Deno.writeFile(path, sll);
    await analyze(dir, [path]);
    const [sources, packets] = await counts(dir);
    assert.deepEqual([sources, packets], [1, 518], "the grown capture, once");
  });
});

Deno.test("identity: a different capture with the same size and first and last MiB is another", async () => {
  await withDir(async (dir) => {
    const g = await runCli(["gen", "--packets", "12k", "--seed", "5", "-o", "a.pcap"], dir);
    assert.equal(g.code, 0, g.stderr);
    const a = await Deno.readFile(`${dir}/a.pcap`);
    assert.ok(a.length > 3 * (1 << 20), `${a.length} bytes`);
    // The last byte of a packet in the middle differs: same size, same first and last MiB.
    const b = a.slice();
    const view = new DataView(a.buffer);
    let o = 24; // pcap file header, then 16-byte record headers (little-endian gen output)
    while (o + 16 + view.getUint32(o + 8, true) < a.length >> 1) {
      o += 16 + view.getUint32(o + 8, true);
    }
    const last = o + 16 + view.getUint32(o + 8, true) - 1;
    b[last] = b[last]! ^ 0xff;
    await Deno.writeFile(`${dir}/b.pcap`, b);
    await analyze(dir, ["a.pcap"]);
    await analyze(dir, ["b.pcap"]);
    const [sources, packets] = await counts(dir);
    assert.deepEqual([sources, packets], [2, 24_000], "both captures, each once");
  });
});

Deno.test("identity: --sensor names the windows' sensor; --lateness 0s makes a straggler late", async () => {
  await withDir(async (dir) => {
    // Packets at 100.5 s and 101.5 s, then one at 99.5 s: window 99 closed at once (lateness 0).
    const frame = new Uint8Array(60);
    frame.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, 0x45, 0, 0, 46, 0, 1, 0, 0, 64, 17]);
    frame.set([0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x03, 0xe8, 0x07, 0xd0, 0, 26, 0, 0], 24);
    const recs = [100.5, 101.5, 99.5].map((t) => ({
      sec: Math.floor(t),
      frac: 500000,
      data: frame,
    }));
    const { pcapFile } = await import("../_builders.ts");
    await Deno.writeFile(`${dir}/s.pcap`, pcapFile(recs));
    await analyze(dir, ["--window", "1s", "--lateness", "0s", "--sensor", "edge-7", "s.pcap"]);
    const r = await runCli([
      "sql",
      "--db",
      "s.duckdb",
      "--format",
      "csv",
      "SELECT DISTINCT sensor_id, (SELECT sum(late_packets) FROM window_totals) AS late, (SELECT sum(packets) FROM window_totals) AS p FROM window_ids",
    ], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split("\n")[1], "edge-7,1,3");
  });
});

Deno.test("the store's own times (when a source started, ended) are UTC, whatever the local time zone", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const t0 = Date.now() / 1000;
    for (const tz of ["Asia/Tokyo", "America/New_York"]) {
      const db = `${tz.replace("/", "_")}.duckdb`;
      const env = { TZ: tz };
      let r = await runCli(
        ["analyze", PCAPS_DIR + "tcpdump__print-flags.pcap", "--db", db],
        dir,
        env,
      );
      assert.equal(r.code, 0, r.stderr);
      r = await runCli(
        [
          "sql",
          "--db",
          db,
          "--format",
          "csv",
          "SELECT epoch(started_at), epoch(finished_at) FROM sources",
        ],
        dir,
        env,
      );
      assert.equal(r.code, 0, r.stderr);
      const t1 = Date.now() / 1000;
      for (const t of r.stdout.trim().split("\n")[1]!.split(",").map(Number)) {
        assert.ok(t >= t0 - 2 && t <= t1 + 2, `${tz}: ${t} is not between ${t0} and ${t1}`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
