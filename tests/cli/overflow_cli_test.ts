/**
 * When the exact table overflows, the report says so at the top with the share of packets not
 * counted per key, never calls the truncated counts exact, and an "other" row per window keeps
 * the stored sums whole.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runCli } from "./_run.ts";

Deno.test("analyze with a full flow table: warned at the top, an other row, no 'exact' beside sketches", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const g = await runCli(["gen", "--packets", "30k", "--flows", "5000", "-o", "g.pcap"], dir);
    assert.equal(g.code, 0, g.stderr);
    const args = ["analyze", "--db", "o.duckdb", "--flows-max", "300", "g.pcap"];
    const r = await runCli(args, dir);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    const warn = lines.findIndex((l) => l.startsWith("WARNING: the exact table"));
    assert.ok(warn >= 0 && warn < lines.indexOf("Summary"), "the warning comes before the summary");
    assert.match(
      lines[warn]!,
      /: \d+ packets \(\d+\.\d% of IP packets\) are counted in an "other" row/,
    );
    assert.match(
      r.stdout,
      /Top talkers \(sources by bytes, \d+ shown; incomplete: the table was full\)/,
    );
    assert.ok(!/\((packets|bytes) \(exact\)|\bexact\s+error/.test(r.stdout), "no 'exact' column");
    assert.match(r.stdout, /table \(incomplete\)/);
    const q = await runCli([
      "sql",
      "--db",
      "o.duckdb",
      "--format",
      "csv",
      "SELECT (SELECT sum(packets) FROM window_flows), (SELECT sum(ipv4_packets + ipv6_packets) FROM window_totals), (SELECT sum(packets) FROM window_flows WHERE ip_version = 0), (SELECT sum(overflow_packets) FROM window_tasks)",
    ], dir);
    assert.equal(q.code, 0, q.stderr);
    const [rows, ip, other, overflow] = q.stdout.trim().split("\n")[1]!.split(",").map(Number);
    assert.equal(rows, ip, "the rows, other row included, add up to the IP packets");
    assert.ok(other! > 0);
    assert.equal(other, overflow);
    const j = await runCli([...args.slice(0, -1), "--format", "json", "g.pcap"], dir);
    assert.equal(JSON.parse(j.stdout).flows_complete, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
