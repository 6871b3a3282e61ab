/**
 * Hourly rollups never change an answer: every question asked through the rollups equals the
 * same question asked of the windows alone — on a store made by analyze, after the same
 * capture is analysed again (its source replaced), and after retention cut an hour in two.
 */

import assert from "node:assert/strict";
import { type FlowQuestion, queryFlows } from "../../query/mod.ts";
import { Store } from "../../storage/mod.ts";
import { MAIN, PERMS, runCli } from "../cli/_run.ts";

const QUESTIONS: FlowQuestion[] = [
  { from: "-100d", groupBy: ["src_ip"], metric: "bytes", limit: 50 },
  { from: "-100d", groupBy: ["proto", "dst_port"], metric: "packets", limit: 10_000 },
  { from: "-100d", groupBy: ["time", "proto"], metric: "bytes", limit: 10_000, step: "1h" },
  { from: "-100d", groupBy: [], metric: "flows", limit: 1 },
  { from: "-150m", groupBy: ["dst_ip"], metric: "packets", limit: 20, filter: "proto = tcp" },
  {
    from: "-100d",
    groupBy: ["src_ip", "dst_ip"],
    metric: "bytes",
    limit: 30,
    filter: "not port = 53",
  },
];

async function sameAnswers(db: string, label: string): Promise<void> {
  const store = await Store.open(db, { readOnly: true });
  const con = await store.readerConnection();
  try {
    const ctx = { con, timeoutMs: 30_000 };
    for (const q of QUESTIONS) {
      const rolled = await queryFlows(ctx, q);
      const raw = await queryFlows(ctx, { ...q, windowsOnly: true });
      assert.deepEqual(rolled.rows, raw.rows, `${label}: ${JSON.stringify(q)}`);
      assert.deepEqual(rolled.summary.matched, raw.summary.matched, label);
      assert.ok(raw.rows.length > 0, label);
    }
  } finally {
    con.closeSync();
    store.closeSync();
  }
}

async function rolledHours(dir: string, db: string): Promise<number> {
  const r = await runCli([
    "sql",
    "--db",
    db,
    "--format",
    "csv",
    "SELECT count(*) AS n FROM rollup_hours",
  ], dir);
  assert.equal(r.code, 0, r.stderr);
  return Number(r.stdout.split("\n")[1]);
}

Deno.test("rollups: answers through them equal answers from the windows, through replace and retention", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 20,000 packets at 2 a second: about 2.8 hours of windows.
    let r = await runCli([
      "gen",
      "--packets",
      "20000",
      "--flows",
      "500",
      "--rate",
      "2",
      "--dns",
      "5",
      "-o",
      "g.pcap",
    ], dir);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(["analyze", "g.pcap", "--db", "s.duckdb"], dir);
    assert.equal(r.code, 0, r.stderr);
    const first = await rolledHours(dir, "s.duckdb");
    assert.ok(first >= 2, `${first} hours rolled up`);
    await sameAnswers(`${dir}/s.duckdb`, "after analyze");
    // The answers do come through the rollup: spoil it in a copy and they change.
    await Deno.copyFile(`${dir}/s.duckdb`, `${dir}/c.duckdb`);
    const spoilt = await Store.open(`${dir}/c.duckdb`);
    await spoilt.rows("UPDATE rollup_flows_hour SET bytes = bytes * 2");
    await spoilt.close();
    await assert.rejects(sameAnswers(`${dir}/c.duckdb`, "spoilt"), assert.AssertionError);
    // The same capture again: its source is replaced, its hours taken away and rolled up anew.
    r = await runCli(["analyze", "g.pcap", "--db", "s.duckdb"], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await rolledHours(dir, "s.duckdb"), first);
    await sameAnswers(`${dir}/s.duckdb`, "after the source was replaced");
    // Retention that cuts an hour: that hour's rollup goes, answers stay equal.
    r = await runCli(["analyze", "g.pcap", "--db", "s.duckdb", "--retain", "100m"], dir);
    assert.equal(r.code, 0, r.stderr);
    const left = await runCli([
      "sql",
      "--db",
      "s.duckdb",
      "--format",
      "csv",
      "SELECT epoch(min(window_start))::BIGINT % 3600 AS cut FROM window_totals",
    ], dir);
    assert.notEqual(Number(left.stdout.split("\n")[1]), 0, "retention cut an hour in two");
    assert.ok(await rolledHours(dir, "s.duckdb") <= first);
    await sameAnswers(`${dir}/s.duckdb`, "after retention");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rollups: a run killed by SIGKILL leaves, once the store is opened, rollups that answer as the windows do", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Two captures over the same hours (other seeds): the killed one shares its hours.
    for (const [seed, out] of [["1", "a.pcap"], ["2", "b.pcap"]] as const) {
      const r = await runCli([
        "gen",
        "--packets",
        "60000",
        "--flows",
        "500",
        "--rate",
        "5",
        "--seed",
        seed,
        "-o",
        out,
      ], dir);
      assert.equal(r.code, 0, r.stderr);
    }
    const a = await runCli(["analyze", "a.pcap", "--db", "s.duckdb"], dir);
    assert.equal(a.code, 0, a.stderr);
    const before = await rolledHours(dir, "s.duckdb");
    assert.ok(before >= 2, `${before} hours rolled up`);
    for (const afterMs of [2000, 4000, 6000]) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", ...PERMS, MAIN, "analyze", "b.pcap", "--db", "s.duckdb", "--no-progress"],
        cwd: dir,
        stdout: "null",
        stderr: "null",
      }).spawn();
      await new Promise((ok) => setTimeout(ok, afterMs));
      child.kill("SIGKILL");
      await child.status;
      // Opened for writing, the store replays its log and drops the killed run's source
      // (and the rollups of the hours it touched), then rolls those hours up again.
      await (await Store.open(`${dir}/s.duckdb`)).close();
      assert.equal(await rolledHours(dir, "s.duckdb"), before, `killed at ${afterMs} ms`);
      await sameAnswers(`${dir}/s.duckdb`, `killed at ${afterMs} ms`);
    }
    const b = await runCli(["analyze", "b.pcap", "--db", "s.duckdb"], dir);
    assert.equal(b.code, 0, b.stderr);
    await sameAnswers(`${dir}/s.duckdb`, "after a whole run of both");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
