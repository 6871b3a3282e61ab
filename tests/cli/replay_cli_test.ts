/**
 * `netspectra run --replay FILE`: a capture fed through the daemon stores what `analyze` stores,
 * row for row (shared captures and a generated one), and `--speed` paces it by its time stamps.
 */

import assert from "node:assert/strict";
import { PCAPS_DIR } from "../_testdata.ts";
import { runCli } from "./_run.ts";

const TABLES = [
  "window_totals",
  "window_flows",
  "window_protocols",
  "window_decode_errors",
  "window_tasks",
  "flow_records",
];

/** Every row of the store's window tables, without the source number, in a fixed order. */
async function dump(dir: string, db: string): Promise<string[]> {
  const out: string[] = [];
  for (const t of TABLES) {
    const r = await runCli([
      "sql",
      "--db",
      db,
      "--format",
      "csv",
      "--max-rows",
      "1000000",
      `SELECT * EXCLUDE (source_no) FROM ${t} ORDER BY ALL`,
    ], dir);
    assert.equal(r.code, 0, r.stderr);
    out.push(`${t}\n${r.stdout}`);
  }
  const ids = await runCli(
    ["sql", "--db", db, "--format", "csv", "SELECT source_id FROM sources"],
    dir,
  );
  out.push(ids.stdout);
  return out;
}

Deno.test("run --replay stores what analyze stores, row for row", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netspectra-replay-" });
  try {
    const gen = await runCli([
      "gen",
      "--packets",
      "30k",
      "--flows",
      "2k",
      "--dns",
      "10",
      "--http",
      "10",
      "-o",
      "g.pcap",
    ], dir);
    assert.equal(gen.code, 0, gen.stderr);
    const files = [
      `${dir}/g.pcap`,
      PCAPS_DIR + "pcapplusplus__sll.pcap",
      PCAPS_DIR + "pcapplusplus__three_http_streams.pcap",
      PCAPS_DIR + "gopacket__le__test006.pcapng",
      PCAPS_DIR + "tcpdump__dns_tcp.pcap",
    ];
    for (const [k, f] of files.entries()) {
      const flags = ["--window", "10s", "--no-progress"];
      const a = await runCli(["analyze", "--db", `a${k}.duckdb`, ...flags, f], dir);
      assert.equal(a.code, 0, a.stderr);
      const r = await runCli(
        [
          "run",
          "--replay",
          f,
          "--speed",
          "0",
          "--window",
          "10s",
          "--db",
          `r${k}.duckdb`,
          "--listen",
          "off",
        ],
        dir,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /"replay stored"/);
      const [fromAnalyze, fromReplay] = [
        await dump(dir, `a${k}.duckdb`),
        await dump(dir, `r${k}.duckdb`),
      ];
      assert.ok(fromAnalyze[1]!.split("\n").length > 3, `${f}: flows stored`);
      assert.deepEqual(fromReplay, fromAnalyze, f);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run --replay --speed paces the capture by its time stamps", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netspectra-replay-" });
  try {
    // 6,000 packets at 2,000 a second: 3 s of packet time.
    const gen = await runCli(["gen", "--packets", "6000", "--rate", "2000", "-o", "p.pcap"], dir);
    assert.equal(gen.code, 0, gen.stderr);
    const took = async (speed: string) => {
      const t0 = performance.now();
      const r = await runCli([
        "run",
        "--replay",
        "p.pcap",
        "--speed",
        speed,
        "--db",
        `s${speed}.duckdb`,
        "--listen",
        "127.0.0.1:0",
      ], dir);
      assert.equal(r.code, 0, r.stderr);
      return (performance.now() - t0) / 1000;
    };
    const fast = await took("0");
    const paced = await took("2");
    // At twice the pace, about 1.5 s of waiting (the last batch is due at ~1 s: batches of
    // 4,096 packets are taken when their first packet is due).
    assert.ok(paced - fast > 0.8, `speed 2 took ${paced} s, speed 0 ${fast} s`);
    const bad = await runCli(["run", "--replay", "p.pcap", "--speed", "fast"], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--speed must be a number/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
