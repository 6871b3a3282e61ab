/**
 * The API over 24 hours of history (issue 14, SPEC §9): a store of 1,440 windows of 60 s with
 * 10k+ keys each — one hour of a gen capture analysed by `analyze`, its window rows copied to
 * the 23 hours after it by SQL (the same keys each hour: what a day of a steady network looks
 * like to the tables), then rolled up as the collector rolls up hours. `netspectra serve`
 * answers GET /api/v1/top/src_ip over 24 hours, one client, one request at a time: the first
 * (which builds the range view, query/range_views.ts), then 200 with `from=-24h` each a URL of
 * its own (no answer kept: the view answers), 200 of a 24-hour range moved back one window
 * each time (the view moves: a window in, a window out, as after each new window in the
 * daemon), 200 of the same URL (the answer kept until the next window); then the question
 * computed in process without a view (20). Then capture → stream:
 * `netspectra run` on lo (needs root) with 1 s windows, a client on /api/v1/live, bursts of
 * UDP datagrams sent to the filtered port: the time until a tick counts them and until the
 * window event that holds them arrives.
 *
 *   deno run -A bench/api.ts [--requests 200] [--packets 900000]
 *
 * @module
 */

import { parseArgs, parseCount } from "../cli/args.ts";
import { cli, genHour, loRun, MAIN, quantile } from "./_common.ts";
import { Store } from "../storage/mod.ts";
import { topFlows } from "../query/mod.ts";
import { sendUdp } from "../tests/_udp.ts";

const args = parseArgs(Deno.args, { values: ["requests", "packets"], booleans: [] }, "bench");
const REQUESTS = parseCount("requests", args.values.get("requests") ?? "200", 10, 100_000);
const PACKETS = parseCount("packets", args.values.get("packets") ?? "900000", 10_000, 1e8);

/** Starts `netspectra ARGS` and returns it with the URL its log line gives. */
async function start(cwd: string, a: string[], pattern: RegExp) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...a],
    cwd,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const r = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  for (;;) {
    const { value, done } = await r.read();
    if (done) throw new Error(`${a[0]} ended: ${said}`);
    said += value;
    const m = pattern.exec(said);
    if (m) {
      (async () => {
        while (!(await r.read()).done) { /* drain */ }
      })();
      return { child, url: m[1]! };
    }
  }
}

/**
 * `n` requests one after another of `GET /api/v1/top/src_ip` with the query `query(i)`.
 */
async function timeRequests(
  url: string,
  token: string,
  n: number,
  query: (i: number) => string,
): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(`${url}api/v1/top/src_ip?${query(i)}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
    ms.push(performance.now() - t0);
  }
  return ms;
}

/** Each a URL of its own (a parameter the API ignores): no answer kept from before. */
const fresh = (i: number) => `from=-24h&fresh=${i}`;
const same = () => "from=-24h";

async function topOver24h(dir: string): Promise<void> {
  const t0 = performance.now();
  await genHour(dir, PACKETS);
  await cli(dir, "analyze", "g.pcap", "--db", "s.duckdb", "--no-progress", "--format", "csv");
  const store = await Store.open(`${dir}/s.duckdb`);
  const [k] = await store.rows(
    "SELECT (count(*) / count(DISTINCT window_start))::BIGINT AS keys, count(DISTINCT window_start)::BIGINT AS w FROM window_flows",
  );
  for (const t of ["window_flows", "window_totals", "window_tasks", "window_protocols"]) {
    await store.rows(
      `INSERT INTO ${t} SELECT ${t}.* REPLACE (window_start + to_hours(k) AS window_start)
       FROM ${t}, range(1, 24) r(k)`,
    );
  }
  const rolled = await store.rollUp();
  const [n] = await store.rows(
    "SELECT count(DISTINCT window_start)::BIGINT AS w, count(*)::BIGINT AS rows, (SELECT count(*) FROM rollup_flows_hour)::BIGINT AS rollup FROM window_flows",
  );
  const [last] = await store.rows(
    "SELECT max(epoch(window_start) + window_sec)::BIGINT AS e FROM window_totals",
  );
  await store.close();
  console.log(
    `store: ${n!.w} windows of 60 s, ${k!.keys} keys a window (first hour: ${k!.w} windows), ` +
      `${n!.rows} window rows, ${rolled} hours rolled up into ${n!.rollup} rows ` +
      `(made in ${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
  const serve = await start(
    dir,
    ["serve", "--db", "s.duckdb", "--listen", "127.0.0.1:0"],
    /serving url=(\S+)/,
  );
  const token = (await Deno.readTextFile(`${dir}/s.duckdb.token`)).trim();
  const built = await timeRequests(serve.url, token, 1, fresh); // builds the 24-hour view
  await timeRequests(serve.url, token, 4, fresh); // warm-up
  const kept = await timeRequests(serve.url, token, REQUESTS, fresh);
  // A range of 24 hours moved back one window per request: the view adds a window and takes
  // one away each time (the daemon's case after each new window), and no answer is kept.
  const end = Number(last!.e);
  const iso = (s: number) => new Date(s * 1000).toISOString();
  const moved = await timeRequests(
    serve.url,
    token,
    REQUESTS,
    (i) => `from=${iso(end - 86_400 - 60 * (i + 1))}&to=${iso(end - 60 * (i + 1))}`,
  );
  const cached = await timeRequests(serve.url, token, REQUESTS, same);
  // Another range length: its view built, the server warm by now.
  const built12h = await timeRequests(serve.url, token, 1, () => "from=-12h");
  serve.child.kill("SIGINT");
  await serve.child.status;
  const line = (ms: number[]) =>
    `median ${quantile(ms, 0.5).toFixed(1)} ms, p99 ${quantile(ms, 0.99).toFixed(1)} ms, ` +
    `max ${ms.reduce((a, b) => Math.max(a, b), 0).toFixed(1)} ms`;
  console.log(`GET /api/v1/top/src_ip over 24 hours, ${REQUESTS} requests, one client:`);
  console.log(`  the first (the 24-hour view built): ${built[0]!.toFixed(1)} ms`);
  console.log(`  from=-24h, each URL its own (the view as it was): ${line(kept)}`);
  console.log(`  24 hours moved back a window each time (the view moved): ${line(moved)}`);
  console.log(`  the same URL (the answer kept until the next window): ${line(cached)}`);
  console.log(`  from=-12h, its view built (server warm): ${built12h[0]!.toFixed(1)} ms`);
  // The same question computed by DuckDB (no view), in process: what a view saves.
  const s2 = await Store.open(`${dir}/s.duckdb`, { readOnly: true });
  const computed: number[] = [];
  for (let i = 0; i < 22; i++) {
    const con = await s2.readerConnection();
    const t0 = performance.now();
    await topFlows({ con, timeoutMs: 60_000 }, "src_ip", {
      from: "-24h",
      metric: "packets",
      limit: 10,
    });
    if (i >= 2) computed.push(performance.now() - t0);
    con.closeSync();
  }
  s2.closeSync();
  console.log(`  computed from the rollups without a view (in process, 20): ${line(computed)}`);
}

/** Capture → stream on lo: bursts of datagrams, the time until a tick and a window show them. */
async function captureToEvent(dir: string): Promise<void> {
  if (Deno.uid() !== 0) {
    console.log("capture → stream: skipped (needs root to capture on lo)");
    return;
  }
  const { port, args } = loRun("l.duckdb");
  const run = await start(
    dir,
    [...args, "--listen", "127.0.0.1:0"],
    /"msg":"listening","url":"([^"]+)"/,
  );
  const token = (await Deno.readTextFile(`${dir}/l.duckdb.token`)).trim();
  const res = await fetch(`${run.url}api/v1/live`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const events = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const ticks: number[] = [], windows: number[] = [];
  let buf = "";
  for (let round = 0; round < 5; round++) {
    await new Promise((r) => setTimeout(r, 1500)); // a quiet window between bursts
    const t0 = performance.now();
    await sendUdp(port, new Array(50).fill(64));
    let tick = NaN, win = NaN;
    while (win !== win && performance.now() - t0 < 10_000) {
      const { value, done } = await events.read();
      if (done) break;
      buf += value;
      let end;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (
          block.includes("event: tick") && tick !== tick && JSON.parse(data!).packets_per_sec > 0
        ) {
          tick = performance.now() - t0;
        }
        if (block.includes("event: window") && JSON.parse(data!).packets >= 50) {
          win = performance.now() - t0;
        }
      }
    }
    ticks.push(tick), windows.push(win);
  }
  await events.cancel();
  run.child.kill("SIGTERM");
  await run.child.status;
  console.log(
    `capture → stream on lo (1 s windows, lateness 2 s, 5 bursts of 50 datagrams): first tick ` +
      `counting them after ${
        ticks.map((t) => t.toFixed(0)).join(", ")
      } ms; the window holding them ` +
      `after ${windows.map((t) => t.toFixed(0)).join(", ")} ms`,
  );
}

const dir = await Deno.makeTempDir();
try {
  console.log(`bench/api.ts, ${new Date().toISOString()}`);
  await topOver24h(dir);
  await captureToEvent(dir);
} finally {
  await Deno.remove(dir, { recursive: true });
}
