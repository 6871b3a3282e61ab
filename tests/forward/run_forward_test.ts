/**
 * The daemon forwarding to a real ClickHouse through outages and kills: `run --replay` with a
 * sink while ClickHouse is stopped for 60 s (the windows wait in the outbox, /metrics shows the
 * backlog rise and fall, they drain in order once it is back), and `run` killed with SIGKILL at
 * random moments while it sends, then run again: ClickHouse ends with the store's rows, each
 * once (counted without FINAL, on plain MergeTree tables where a repeat would stay).
 */

import assert from "node:assert/strict";
import { REPLAY_RUN_ARGS, RUN_LISTENING, runCli, startCli } from "../cli/_run.ts";
import { centralLines, sinkConfig, STORE_FLOWS, storeLines, withClickHouse } from "./_central.ts";

/** run replaying g.pcap as fast as it reads (1 s windows, 50 packets each) with the sink. */
function replayArgs(): string[] {
  const a = [...REPLAY_RUN_ARGS, "--config", "c.yaml"];
  a[a.indexOf("--speed") + 1] = "0";
  return a;
}

async function sameRows(dir: string, central: () => Promise<string[]>): Promise<void> {
  const want = await storeLines(dir, "r.duckdb", STORE_FLOWS);
  assert.ok(want.length > 5000, `${want.length} rows`);
  const got = await central();
  assert.equal(got.length, want.length, "as many rows as the store: none lost, none twice");
  assert.deepEqual(got, want);
  const left = await storeLines(
    dir,
    "r.duckdb",
    "SELECT count(*) FILTER (WHERE state <> 'sent'), (SELECT count(*) FROM export_payloads) FROM export_outbox",
  );
  assert.equal(left[0], "0,0");
}

Deno.test("run: ClickHouse stopped for 60 s — the windows wait, then drain in order, none lost or twice", async () => {
  await withClickHouse(async (ch, dir) => {
    await Deno.writeTextFile(`${dir}/c.yaml`, sinkConfig(ch.url));
    await ch.stop();
    const t0 = Date.now();
    const { child, found: url } = await startCli(replayArgs(), dir, RUN_LISTENING);
    const backlog: number[] = [], up: number[] = [], bytes: number[] = [];
    let ended = false;
    const polling = (async () => {
      while (!ended) {
        const m = await fetch(`${url}metrics`).then((r) => r.text()).catch(() => null);
        if (m === null) break;
        const b = /^netspectra_export_backlog_windows\{sink="central"\} (\d+)/m.exec(m);
        const u = /^netspectra_export_sink_up\{sink="central"\} (\d+)/m.exec(m);
        if (b !== null) backlog.push(Number(b[1]));
        if (u !== null) up.push(Number(u[1]));
        const y = /^netspectra_export_backlog_bytes\{sink="central"\} (\d+)/m.exec(m);
        if (y !== null) bytes.push(Number(y[1]));
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    await new Promise((r) => setTimeout(r, Math.max(0, 60_000 - (Date.now() - t0))));
    await ch.start();
    const code = (await child.status).code;
    ended = true;
    await polling;
    assert.equal(code, 0);
    await sameRows(dir, () => centralLines(ch));
    // Seen on /metrics: the sink down, the backlog up to every window, then falling.
    const windows = Number(
      (await storeLines(dir, "r.duckdb", "SELECT count(*) FROM window_totals"))[0],
    );
    const peak = Math.max(...backlog);
    assert.ok(up.includes(0) && up.at(-1) === 1, `sink_up ${up.join(",")}`);
    assert.equal(peak, windows, `backlog peak ${peak} of ${windows} windows`);
    assert.ok(backlog.slice(backlog.indexOf(peak)).some((b) => b < peak / 2), "it fell");
    assert.ok(Math.max(...bytes) > 100_000, `the outbox held ${Math.max(...bytes)} bytes`);
    // In window order: each window sent no earlier than the one committed before it.
    const order = await storeLines(
      dir,
      "r.duckdb",
      `SELECT count(*) FROM (SELECT sent_at < lag(sent_at) OVER (ORDER BY commit_seq) AS back
         FROM export_outbox) WHERE back`,
    );
    assert.equal(order[0], "0");
  });
});

Deno.test("run: killed with SIGKILL while it sends, three times, then run again — none lost or twice", async () => {
  await withClickHouse(async (ch, dir) => {
    // Small batches (a few windows each, 11 tables: hundreds of INSERTs), so a kill comes
    // in the middle of them.
    const batch = "    batch: { rows: 150, interval: 0s }\n";
    await Deno.writeTextFile(`${dir}/c.yaml`, sinkConfig(ch.url, batch));
    let killedWhileSending = 0;
    for (let k = 0; k < 3; k++) {
      const { child } = await startCli(replayArgs(), dir, /"msg":"(replay stored)"/);
      // Sending ~200 windows takes seconds: a random moment in it.
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 2500));
      const before = Number((await ch.query("SELECT count() FROM ns.windows"))[0]![0]);
      let killed = true;
      try {
        child.kill("SIGKILL");
      } catch {
        killed = false; // it had sent everything and ended
      }
      await child.status;
      if (killed && before > 0) killedWhileSending++;
    }
    assert.ok(killedWhileSending >= 1, "at least one kill came while windows were being sent");
    const r = await runCli(replayArgs(), dir);
    assert.equal(r.code, 0, r.stderr);
    await sameRows(dir, () => centralLines(ch));
  }, 10000);
});
