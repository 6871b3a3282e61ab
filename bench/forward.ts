/**
 * Forwarding to ClickHouse (issue 15): a clickhouse-server of its own on loopback (Debian's
 * 18.16, as the tests start it), then
 *
 * 1. rows per second: a gen capture analysed into a store with the sink named (every window
 *    queued in the outbox), then the forwarder started on it and timed until the outbox is
 *    empty — the forwarder, sink and outbox code `run` uses, and nothing else running;
 * 2. lag: `netspectra run` capturing on lo (needs root) with 1 s windows and the sink, a
 *    steady stream of UDP datagrams to the filtered port for `--seconds`, ClickHouse polled
 *    every 100 ms: for each window, the time from its end (wall clock) until its row is
 *    visible in ClickHouse — the lateness (2 s) and the store's commit included; once with the
 *    sink's default batch interval (1 s) and once with none (0 s).
 *
 *   deno run -A bench/forward.ts [--packets 900000] [--seconds 30]
 *
 * @module
 */

import { parseArgs, parseCount } from "../cli/args.ts";
import { genHour, loRun, MAIN, quantile } from "./_common.ts";
import { ingestFiles } from "../collector/ingest/mod.ts";
import { SINK_BATCH_DEFAULTS } from "../collector/config/mod.ts";
import { startForwarding } from "../forward/mod.ts";
import { Store } from "../storage/mod.ts";
import { startClickHouse } from "../tests/_clickhouse.ts";
import { sendUdp } from "../tests/_udp.ts";

const args = parseArgs(Deno.args, { values: ["packets", "seconds"], booleans: [] }, "bench");
const PACKETS = parseCount("packets", args.values.get("packets") ?? "900000", 10_000, 1e8);
const SECONDS = parseCount("seconds", args.values.get("seconds") ?? "30", 5, 3600);

const ch = await startClickHouse();
const dir = await Deno.makeTempDir();
const sink = {
  name: "central",
  type: "clickhouse" as const,
  url: ch.url,
  database: "bench",
  timeoutSec: 30,
  batch: { ...SINK_BATCH_DEFAULTS },
};
try {
  console.log(`bench/forward.ts, ${new Date().toISOString()}`);
  const [version] = await ch.query("SELECT version()");
  // 1. Rows per second from a full outbox.
  await genHour(dir, PACKETS);
  const store = await Store.open(`${dir}/s.duckdb`);
  await store.nameSinks([sink.name]);
  await ingestFiles({ files: [`${dir}/g.pcap`], store, windowSec: 60 });
  const [q] = await store.rows(
    "SELECT count(*) AS windows, sum(rows) AS rows FROM export_outbox WHERE state = 'pending'",
  );
  const t0 = performance.now();
  const f = await startForwarding(store, [sink], () => {});
  if (!await f.drained(60_000)) throw new Error("the outbox did not drain");
  const sec = (performance.now() - t0) / 1000;
  await f.stop();
  await store.close();
  const [held] = await ch.query("SELECT count() FROM bench.flows");
  console.log(
    `ClickHouse ${version![0]}: ${q!.windows} windows of 60 s, ${q!.rows} rows ` +
      `(${held![0]} in bench.flows) sent in ${sec.toFixed(1)} s: ` +
      `${Math.round(Number(q!.rows) / sec)} rows/s, ${
        (Number(q!.windows) / sec).toFixed(1)
      } windows/s`,
  );
  // The reference, same run: the same rows sent by plain HTTP POSTs, one per window, in
  // TabSeparated (what the server alone takes, without outbox, checks or bookkeeping).
  const dump = await (await fetch(`${ch.url}/`, {
    method: "POST",
    body: "SELECT * FROM bench.flows ORDER BY window_start FORMAT TabSeparated",
  })).text();
  await ch.query("CREATE TABLE bench.ref AS bench.flows");
  const perWindow = new Map<string, string[]>();
  for (const line of dump.split("\n")) {
    if (line === "") continue;
    const w = line.split("\t", 3)[2]!;
    (perWindow.get(w) ?? perWindow.set(w, []).get(w)!).push(line);
  }
  const r0 = performance.now();
  for (const lines of perWindow.values()) {
    const res = await fetch(
      `${ch.url}/?query=${encodeURIComponent("INSERT INTO bench.ref FORMAT TabSeparated")}`,
      { method: "POST", body: lines.join("\n") + "\n" },
    );
    if (!res.ok) throw new Error(await res.text());
    await res.body?.cancel();
  }
  const refSec = (performance.now() - r0) / 1000;
  console.log(
    `reference: the same ${held![0]} rows POSTed one window at a time (${perWindow.size} ` +
      `INSERTs) in ${refSec.toFixed(1)} s: ${Math.round(Number(held![0]) / refSec)} rows/s`,
  );
  // 2. Lag from a window's end to its row in ClickHouse, live on lo: with the default batch
  // interval (a window waits up to 1 s for others to go with it) and with none.
  if (Deno.uid() !== 0) {
    console.log("lag: skipped (needs root to capture on lo)");
  } else {
    for (const interval of ["1s (default)", "0s"]) await lag(interval);
  }
} finally {
  await ch.remove();
  await Deno.remove(dir, { recursive: true });
}

/** `run` capturing on lo with the sink (batch interval `interval`), datagrams for SECONDS. */
async function lag(interval: string): Promise<void> {
  const db = `lag${interval.startsWith("0") ? 0 : 1}`;
  const { port, args } = loRun(`${db}.duckdb`);
  await Deno.writeTextFile(
    `${dir}/c.yaml`,
    `sinks:\n  - name: central\n    type: clickhouse\n    url: ${ch.url}\n    database: ${db}\n` +
      `    batch: { interval: ${interval.split(" ")[0]} }\n`,
  );
  const run = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args, "--config", "c.yaml", "--listen", "off"],
    cwd: dir,
    stderr: "null",
  }).spawn();
  await new Promise((r) => setTimeout(r, 3000)); // capture up
  const seen = new Map<number, number>();
  let sending = true;
  const polling = (async () => {
    while (sending || seen.size === 0) {
      const rows = await ch.query(
        `SELECT DISTINCT toUnixTimestamp(window_start) FROM ${db}.windows`,
      ).catch(() => []);
      const now = Date.now() / 1000;
      for (const [w] of rows) if (!seen.has(Number(w))) seen.set(Number(w), now);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const until = Date.now() + SECONDS * 1000;
  let sent = 0;
  while (Date.now() < until) {
    sent += await sendUdp(port, new Array(200).fill(100));
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 5000)); // the last windows: lateness and sending
  sending = false;
  await polling;
  run.kill("SIGTERM");
  await run.status;
  const lags = [...seen].map(([w, t]) => t - (w + 1)).filter((x) => x > 0);
  console.log(
    `lag on lo (${SECONDS} s of datagrams, ${Math.round(sent / SECONDS / 100)} a second, ` +
      `1 s windows, lateness 2 s, batch interval ${interval}): ${lags.length} windows; from a window's end to its row ` +
      `in ClickHouse median ${quantile(lags, 0.5).toFixed(2)} s, p99 ${
        quantile(lags, 0.99).toFixed(2)
      } s, max ${Math.max(...lags).toFixed(2)} s (the lateness is 2 s of it)`,
  );
}
