/**
 * The daemon forwarding to a real ClickHouse through outages and kills: `run --replay` with a
 * sink while ClickHouse is stopped for 60 s (the windows wait in the outbox, /metrics shows the
 * backlog rise and fall, they drain in order once it is back), and `run` killed with SIGKILL at
 * random moments while it sends — replaying a file, and capturing on lo to a slow server (each
 * kill leaves windows unsent) — then run again: ClickHouse ends with the store's rows, each
 * once (counted without FINAL, on plain MergeTree tables where a repeat would stay).
 */

import assert from "node:assert/strict";
import { REPLAY_RUN_ARGS, RUN_LISTENING, runCli, startCli } from "../cli/_run.ts";
import {
  centralLines,
  chProxy,
  sinkConfig,
  STORE_FLOWS,
  storeLines,
  withClickHouse,
} from "./_central.ts";
import { sendUdp } from "../_udp.ts";

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

Deno.test({
  name:
    "run capturing on lo: killed with SIGKILL while it sends, three times, restarted — none lost or twice",
  ignore: Deno.uid() !== 0, // capture needs root
  async fn() {
    await withClickHouse(async (ch, dir) => {
      // One window per batch (interval 0, one window's rows fill the batch), to a slow server
      // (each answer 150 ms late: a window of 1 s takes longer than 1 s to send), so windows
      // wait in the outbox and a kill comes in the middle of inserts.
      const slow = chProxy(Number(new URL(ch.url).port), { delayMs: 150 });
      try {
        const batch = "    batch: { rows: 1, interval: 0s }\n";
        await Deno.writeTextFile(`${dir}/c.yaml`, sinkConfig(slow.url, batch));
        const port = 40000 + Math.floor(Math.random() * 5000);
        const args = ["run", "--interface", "lo", "--filter", `udp and dst port ${port}`]
          .concat(["--window", "1s", "--lateness", "0s", "--db", "r.duckdb", "--listen", "off"])
          .concat(["--config", "c.yaml"]);
        let sent = 0;
        const traffic = async (ms: number) => {
          for (const until = Date.now() + ms; Date.now() < until;) {
            sent += await sendUdp(port, new Array(50).fill(64));
            await new Promise((r) => setTimeout(r, 20));
          }
        };
        const unsent: number[] = [];
        for (let k = 0; k < 3; k++) {
          const { child } = await startCli(args, dir, /"msg":"capturing"/);
          await traffic(4000 + Math.random() * 2000);
          child.kill("SIGKILL");
          await child.status;
          const [n] = await storeLines(
            dir,
            "r.duckdb",
            "SELECT count(*) FROM export_outbox WHERE state <> 'sent'",
          );
          unsent.push(Number(n));
        }
        assert.ok(unsent.every((n) => n > 0), `windows left unsent by each kill: ${unsent}`);
        const before = await ch.query("SELECT count() FROM ns.windows");
        assert.ok(Number(before[0]![0]) > 0, "windows were sent before the kills");
        // Started again: what the killed runs stored and had not sent goes now, with the new
        // run's own windows; then stopped (it gives the sink a few seconds to take the rest).
        const { child } = await startCli(args, dir, /"msg":"capturing"/);
        await traffic(2000);
        await new Promise((r) => setTimeout(r, 1500));
        child.kill("SIGTERM");
        assert.equal((await child.status).code, 0);
        assert.ok(sent > 0);
        const r = await runCli(["export", "retry", "--db", "r.duckdb", "--config", "c.yaml"], dir);
        assert.equal(r.code, 0, r.stderr);
        const sources = await storeLines(dir, "r.duckdb", "SELECT count(*) FROM sources");
        assert.equal(sources[0], "4", "four runs, four sources");
        const want = await storeLines(dir, "r.duckdb", STORE_FLOWS);
        assert.ok(want.length >= 10, `${want.length} rows`);
        assert.deepEqual(await centralLines(ch), want, "ClickHouse holds the store's rows, once");
        const windows = await storeLines(
          dir,
          "r.duckdb",
          "SELECT count(*), sum(packets) FROM window_totals",
        );
        const central = await ch.query("SELECT count(), sum(packets) FROM ns.windows");
        assert.equal(central[0]!.join(","), windows[0]);
      } finally {
        slow.close();
      }
    });
  },
});
