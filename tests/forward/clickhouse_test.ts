/**
 * Forwarding to a real ClickHouse (Debian's clickhouse-server 18.16, started by the test on
 * loopback): `analyze --forward` puts every window's rows there once — the same rows as the
 * store, counted without FINAL — a second run and a second store of the same capture add
 * nothing, and an insert whose answer is lost after the server committed it (a proxy cuts the
 * connection) is not sent twice.
 */

import assert from "node:assert/strict";
import { runCli } from "../cli/_run.ts";
import {
  centralLines,
  chProxy,
  sameTables,
  sinkConfig,
  STORE_FLOWS,
  storeLines,
  withClickHouse,
} from "./_central.ts";

Deno.test("analyze --forward: ClickHouse holds the store's rows, each once; runs again add nothing", async () => {
  await withClickHouse(async (ch, dir) => {
    await Deno.writeTextFile(`${dir}/c.yaml`, sinkConfig(ch.url));
    const args = ["analyze", "g.pcap", "--config", "c.yaml", "--forward", "central"];
    let r = await runCli([...args, "--db", "a.duckdb"], dir);
    assert.equal(r.code, 0, r.stderr);
    const want = await storeLines(dir, "a.duckdb", STORE_FLOWS);
    assert.ok(want.length > 1000, `${want.length} rows`);
    const got = () => centralLines(ch);
    assert.deepEqual(await got(), want);
    const windows = async () => (await ch.query("SELECT count(), sum(packets) FROM ns.windows"))[0];
    const storeWindows = await storeLines(
      dir,
      "a.duckdb",
      "SELECT count(*), sum(packets) FROM window_totals",
    );
    assert.deepEqual((await windows())!.join(","), storeWindows[0]);
    await sameTables(ch, dir, "a.duckdb");
    // The same capture again, into the same store and into another: nothing is added.
    r = await runCli([...args, "--db", "a.duckdb"], dir);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli([...args, "--db", "b.duckdb"], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await got(), want);
    assert.deepEqual((await windows())!.join(","), storeWindows[0]);
    await sameTables(ch, dir, "a.duckdb");
    // The Grafana dashboard's ClickHouse queries run on these tables (macros filled in).
    const dash = JSON.parse(
      await Deno.readTextFile(new URL("../../deploy/grafana/netspectra.json", import.meta.url)),
    );
    let asked = 0;
    for (const p of dash.panels) {
      for (const t of p.targets ?? []) {
        if (t.rawSql === undefined) continue;
        const sql = String(t.rawSql)
          .replaceAll("$timeSeries", "toStartOfMinute(window_start)")
          .replaceAll("$timeFilter", "window_start >= toDateTime(0)")
          .replaceAll("$from", "0").replaceAll("$to", "4000000000")
          .replaceAll("netspectra.", "ns.");
        const rows = await ch.query(sql);
        assert.ok(rows.length > 0, `${p.title}: no rows`);
        asked++;
      }
    }
    assert.equal(asked, 4);
    // Every window of the store is marked sent, and no payload is left behind.
    const left = await storeLines(
      dir,
      "a.duckdb",
      "SELECT (SELECT count(*) FROM export_outbox WHERE state <> 'sent'), (SELECT count(*) FROM export_payloads)",
    );
    assert.equal(left[0], "0,0");
  });
});

Deno.test("forwarding: an insert committed whose answer was lost is not sent again", async () => {
  await withClickHouse(async (ch, dir) => {
    const proxy = chProxy(Number(new URL(ch.url).port), { cuts: 3 });
    try {
      await Deno.writeTextFile(`${dir}/c.yaml`, sinkConfig(proxy.url));
      const r = await runCli(
        ["analyze", "g.pcap", "--db", "a.duckdb", "--config", "c.yaml", "--forward", "central"],
        dir,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(proxy.cutsLeft(), 0, "three inserts lost their answers");
      const want = await storeLines(dir, "a.duckdb", STORE_FLOWS);
      const got = await centralLines(ch);
      assert.deepEqual(got, want);
      // The attempts show: the three windows cut were tried again (and found there).
      const tried = await storeLines(
        dir,
        "a.duckdb",
        "SELECT count(*) FROM export_outbox WHERE attempts > 1",
      );
      assert.ok(Number(tried[0]) >= 1, `windows tried again: ${tried[0]}`);
    } finally {
      proxy.close();
    }
  });
});

Deno.test("analyze --forward with ClickHouse down: the windows wait in the outbox; export retry sends them once", async () => {
  await withClickHouse(async (ch, dir) => {
    await Deno.writeTextFile(`${dir}/c.yaml`, sinkConfig(ch.url));
    await ch.stop();
    const args = ["analyze", "g.pcap", "--db", "a.duckdb", "--config", "c.yaml"];
    let r = await runCli([...args, "--forward", "central", "--forward-wait", "3s"], dir);
    assert.equal(r.code, 1, "the sink stayed down");
    assert.match(r.stderr, /window\(s\) wait in the outbox for sink central/);
    assert.match(r.stderr, /export retry/);
    const status = async () => {
      const s = await runCli(["export", "status", "--db", "a.duckdb", "--format", "csv"], dir);
      assert.equal(s.code, 0, s.stderr);
      return s.stdout.trim().split("\n")[1]!.split(",");
    };
    const windows = Number(
      (await storeLines(dir, "a.duckdb", "SELECT count(*) FROM window_totals"))[0],
    );
    const [sink, waiting, sent] = await status();
    assert.deepEqual([sink, Number(waiting), Number(sent)], ["central", windows, 0]);
    // Still down: retry says so and keeps them.
    r = await runCli(
      ["export", "retry", "--db", "a.duckdb", "--config", "c.yaml", "--wait", "3s"],
      dir,
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`0 window\\(s\\) sent, 0 found there already, ${windows} waiting`),
    );
    await ch.start();
    r = await runCli(["export", "retry", "--db", "a.duckdb", "--config", "c.yaml"], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`${windows} window\\(s\\) sent`));
    assert.deepEqual((await status()).slice(0, 3), ["central", "0", String(windows)]);
    assert.deepEqual(await centralLines(ch), await storeLines(dir, "a.duckdb", STORE_FLOWS));
    // Mistakes are one line each.
    r = await runCli(
      ["export", "retry", "--db", "a.duckdb", "--config", "c.yaml", "--sink", "x"],
      dir,
    );
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^netspectra: export retry: no sink "x" in c\.yaml \(sinks: central\)\n$/,
    );
    r = await runCli([...args, "--forward", "nope"], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--forward nope: no such sink in the config \(central\)/);
  });
});
