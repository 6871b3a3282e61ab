/**
 * `netspectra run` as a user runs it (root only): a separate process capturing on `lo`, traffic
 * the test sends, SIGTERM (everything stored, exit 0) and SIGKILL (committed windows intact),
 * and a device that does not exist (one line).
 */

import assert from "node:assert/strict";
import { sendUdp } from "../_udp.ts";
import { MAIN, PERMS, runCli } from "./_run.ts";

const ROOT = Deno.uid() === 0;

/** `run` on lo for the datagrams to `port`, 1 s windows, into r.duckdb. */
function loArgs(port: number): string[] {
  return ["--interface", "lo", "--filter", `udp and dst port ${port}`, "--window", "1s"]
    .concat(["--lateness", "0s", "--db", "r.duckdb", "--no-sketches", "--listen", "127.0.0.1:0"]);
}

/** Starts `run`; resolves once it logged that it captures. */
async function startRun(args: string[], cwd: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, MAIN, "run", ...args],
    cwd,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines: string[] = [];
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) lines.push(buf.slice(0, nl)), buf = buf.slice(nl + 1);
    }
  })();
  const until = Date.now() + 15000;
  while (!lines.some((l) => l.includes('"capturing"'))) {
    if (Date.now() > until) throw new Error(`run did not start: ${lines.join("\n")}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
  return { child, lines, pump };
}

/** A test as root in a temporary folder of its own, removed afterwards. */
function rootTest(name: string, fn: (dir: string) => Promise<void>): void {
  Deno.test({
    name,
    ignore: !ROOT,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "netspectra-run-" });
      try {
        await fn(dir);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

/** SIGTERM to a started run: it must store what it has and exit 0. */
async function stopRun(run: Awaited<ReturnType<typeof startRun>>): Promise<void> {
  run.child.kill("SIGTERM");
  const status = await run.child.status;
  await run.pump;
  assert.equal(status.code, 0, run.lines.join("\n"));
}

/** `count` datagrams to `port`; returns their bytes on the wire (Ethernet, IPv4, UDP). */
async function send(port: number, count: number): Promise<number> {
  const sizes = Array.from({ length: count }, (_, i) => 40 + (i % 5));
  return await sendUdp(port, sizes) + count * 42;
}

async function sqlRows(
  dir: string,
  q: string,
  db = "r.duckdb",
): Promise<Record<string, unknown>[]> {
  const r = await runCli(["sql", "--db", db, "--format", "json", q], dir);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

rootTest("run on lo: SIGTERM stores every datagram sent and every window, exit 0", async (dir) => {
  const port = 40000 + Math.floor(Math.random() * 20000);
  const run = await startRun(
    loArgs(port),
    dir,
  );
  const bytes = await send(port, 800);
  await new Promise((ok) => setTimeout(ok, 2200));
  await stopRun(run);
  const stopped = JSON.parse(run.lines.find((l) => l.includes('"capture stopped"'))!);
  assert.equal(stopped.packets, 800);
  assert.equal(stopped.dropped, 0);
  const [t] = await sqlRows(dir, "SELECT sum(packets) AS p, sum(bytes) AS b FROM windows");
  assert.deepEqual([Number(t!.p), Number(t!.b)], [800, bytes]);
  // Accounting that adds up: what the kernel passed = stored + dropped + skipped (on lo the
  // sent copy of each datagram), per window counts summed over the run, as the log says. Every
  // window has them; a late part (a datagram read after its window closed: no lateness here,
  // so a loaded machine makes some) has none, its packets are in the sums all the same.
  const [c] = await sqlRows(
    dir,
    `SELECT sum(capture_received) AS rec, sum(capture_dropped) AS drop,
              sum(capture_skipped) AS skip,
              count(*) FILTER (capture_received IS NULL AND part = 0) AS nul
       FROM window_totals`,
  );
  assert.deepEqual(
    [Number(c!.rec), Number(c!.drop), Number(c!.skip), Number(c!.nul)],
    [1600, 0, 800, 0],
  );
  assert.equal(stopped.received, 1600);
  const starts = (await sqlRows(
    dir,
    "SELECT epoch(window_start)::BIGINT AS s FROM windows ORDER BY 1",
  )).map((r) => Number(r.s));
  assert.ok(starts.length >= 3, `${starts.length} windows`);
  for (let k = 1; k < starts.length; k++) assert.equal(starts[k], starts[k - 1]! + 1);
});

/** The run's HTTP address from its "listening" log line. */
function urlOf(lines: string[]): string {
  const l = lines.find((l) => l.includes('"listening"'));
  assert.ok(l !== undefined, lines.join("\n"));
  return JSON.parse(l).url;
}

/** The samples of a Prometheus text page, checked for form: `name{labels} value` → value. */
function samples(page: string): Map<string, number> {
  const out = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of page.trimEnd().split("\n")) {
    const t = /^# TYPE (\w+) (counter|gauge|histogram)$/.exec(line);
    if (t) {
      assert.ok(!typed.has(t[1]!), `${t[1]} typed twice`);
      typed.add(t[1]!);
      continue;
    }
    if (line.startsWith("# HELP ")) continue;
    const m = /^(\w+)(\{(?:\w+="(?:[^"\\]|\\.)*",?)*\})? (\S+)$/.exec(line);
    assert.ok(m !== null, `not a sample line: ${line}`);
    const family = m[1]!.replace(/_(bucket|sum|count)$/, "");
    assert.ok(typed.has(m[1]!) || typed.has(family), `${m[1]} has no TYPE before it`);
    out.set(m[1]! + (m[2] ?? ""), Number(m[3]));
  }
  return out;
}

rootTest(
  "run on lo: /healthz, /readyz and /metrics tell what was captured and stored",
  async (dir) => {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const run = await startRun(loArgs(port), dir);
    const url = urlOf(run.lines);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    try {
      await send(port, 300);
      await new Promise((ok) => setTimeout(ok, 2300));
      const health = await fetch(url + "healthz");
      assert.deepEqual([health.status, await health.text()], [200, "ok\n"]);
      const ready = await fetch(url + "readyz");
      assert.deepEqual([ready.status, await ready.text()], [200, "ready\n"]);
      const res = await fetch(url + "metrics");
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const m = samples(await res.text());
      const lo = '{device="lo"}';
      assert.equal(m.get(`netspectra_capture_packets_received_total${lo}`), 600);
      assert.equal(m.get(`netspectra_capture_packets_read_total${lo}`), 300);
      assert.equal(m.get(`netspectra_capture_packets_skipped_total${lo}`), 300);
      assert.equal(
        m.get('netspectra_capture_packets_dropped_total{device="lo",stage="kernel"}'),
        0,
      );
      assert.equal(m.get(`netspectra_capture_up${lo}`), 1);
      // Windows of 1 s with no lateness: those of the datagrams are stored by now.
      assert.equal(m.get("netspectra_packets_total"), 300);
      const stored = m.get("netspectra_windows_stored_total")!;
      assert.ok(stored >= 2, `${stored} windows`);
      assert.equal(m.get('netspectra_window_close_duration_seconds_bucket{le="+Inf"}'), stored);
      assert.equal(m.get("netspectra_window_close_duration_seconds_count"), stored);
      const last = m.get("netspectra_window_last_closed_timestamp_seconds")!;
      assert.ok(Math.abs(last - Date.now() / 1000) < 2, `last window end ${last}`);
      assert.equal(m.get("netspectra_store_write_queue_windows"), 0);
      assert.ok(m.has(`netspectra_build_info{version="0.1.0",deno="${Deno.version.deno}"}`));
      assert.equal((await fetch(url + "nothing")).status, 404);
    } finally {
      await stopRun(run);
    }
  },
);

rootTest(
  "run on lo: sql works while the daemon writes the store (asked of it, with its token)",
  async (dir) => {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const run = await startRun(loArgs(port), dir);
    try {
      await send(port, 250);
      await new Promise((ok) => setTimeout(ok, 2300));
      const t0 = performance.now();
      const [t] = await sqlRows(dir, "SELECT sum(packets) AS p FROM windows");
      assert.equal(Number(t!.p), 250);
      assert.ok(performance.now() - t0 < 5000, "answered without waiting for the lock");
      const csv = await runCli(
        ["sql", "--db", "r.duckdb", "--format", "csv", "SELECT 1 AS a, 'x' AS b"],
        dir,
      );
      assert.deepEqual([csv.code, csv.stdout], [0, "a,b\n1,x\n"]);
      // The same guard as on the file: one reading statement, no file access.
      const refused = await runCli(["sql", "--db", "r.duckdb", "DELETE FROM sources"], dir);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^netspectra: Only read-only statements .* got DELETE\n$/);
      const file = await runCli(
        ["sql", "--db", "r.duckdb", "SELECT * FROM read_csv('/etc/passwd')"],
        dir,
      );
      assert.equal(file.code, 1);
      assert.match(file.stderr, /^netspectra: sql: .*(disabled|external access)/i);
      const typo = await runCli(["sql", "--db", "r.duckdb", "SELEC 1"], dir);
      assert.equal(typo.code, 1);
      assert.match(
        typo.stderr,
        /^netspectra: sql: .*Parser Error: syntax error at or near "SELEC"\n$/,
      );
      // The contact file is the owner's only, and the endpoint wants its token.
      const contact = JSON.parse(await Deno.readTextFile(`${dir}/r.duckdb.daemon.json`));
      assert.equal((await Deno.stat(`${dir}/r.duckdb.daemon.json`)).mode! & 0o777, 0o600);
      const anon = await fetch(contact.url + "v1/sql", {
        method: "POST",
        body: JSON.stringify({ sql: "SELECT 1" }),
      });
      assert.equal(anon.status, 401);
      await anon.body?.cancel();
    } finally {
      await stopRun(run);
    }
    // Gone with the daemon; the file is read directly again.
    await assert.rejects(Deno.stat(`${dir}/r.duckdb.daemon.json`));
    const [t] = await sqlRows(dir, "SELECT sum(packets) AS p FROM windows");
    assert.equal(Number(t!.p), 250);
  },
);

/** Waits until a log line holds `text`; returns it parsed. */
async function logged(lines: string[], text: string, ms = 8000): Promise<Record<string, unknown>> {
  const end = Date.now() + ms;
  for (;;) {
    const l = lines.find((l) => l.includes(text));
    if (l !== undefined) return JSON.parse(l);
    if (Date.now() > end) throw new Error(`no "${text}" in:\n${lines.join("\n")}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

rootTest(
  "run --config: sources from the file; SIGHUP changes the filter, refuses a bad file",
  async (dir) => {
    const p1 = 40000 + Math.floor(Math.random() * 20000), p2 = p1 + 1;
    const config = (filterPort: number, window = "1s") =>
      Deno.writeTextFile(
        `${dir}/c.yaml`,
        `window: ${window}\nlateness: 0s\nlog_level: debug\n` +
          `sources:\n  - interface: lo\n    filter: "udp and dst port ${filterPort}"\n` +
          `http:\n  listen: 127.0.0.1:0\nstore:\n  path: r.duckdb\n`,
      );
    await config(p1);
    const run = await startRun(["--config", "c.yaml", "--no-sketches"], dir);
    try {
      await send(p1, 100);
      await send(p2, 100);
      await config(p2);
      run.child.kill("SIGHUP");
      const read = await logged(run.lines, '"configuration read again"');
      assert.deepEqual(read.changed, ["filter of lo"]);
      await logged(run.lines, '"capture filter changed"');
      await send(p1, 100);
      await send(p2, 100);
      // A file that does not validate is refused; the run goes on.
      await Deno.writeTextFile(`${dir}/c.yaml`, "window: often\n");
      run.child.kill("SIGHUP");
      const refused = await logged(run.lines, '"configuration refused');
      assert.match(String(refused.error), /window: a duration/);
      // A change that needs a restart is said, not applied.
      await config(p2, "5s");
      run.child.kill("SIGHUP");
      const restart = await logged(run.lines, '"configuration changes that need a restart');
      assert.deepEqual(restart.keys, ["window"]);
      await new Promise((ok) => setTimeout(ok, 1300));
    } finally {
      await stopRun(run);
    }
    const rows = await sqlRows(
      dir,
      `SELECT dst_port, sum(packets)::BIGINT AS p FROM window_flows WHERE task_no = 0
       GROUP BY 1 ORDER BY 1`,
    );
    assert.deepEqual(rows.map((r) => [r.dst_port, r.p]), [[p1, 100], [p2, 100]]);
    const [w] = await sqlRows(dir, "SELECT DISTINCT window_sec FROM window_totals");
    assert.equal(w!.window_sec, 1);
  },
);

rootTest(
  "run --config: SIGHUP with new tasks takes them from the next window, nothing lost",
  async (dir) => {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const config = (task: string, key: string) =>
      Deno.writeTextFile(
        `${dir}/c.yaml`,
        `window: 1s\nlateness: 0s\nsources:\n  - interface: lo\n` +
          `    filter: "udp and dst port ${port}"\nhttp:\n  listen: 127.0.0.1:0\n` +
          `store:\n  path: r.duckdb\ntasks:\n  - name: ${task}\n    key: [${key}]\n`,
      );
    await config("flows", "src_ip, dst_ip, proto, src_port, dst_port");
    const run = await startRun(["--config", "c.yaml"], dir);
    let sent = 0;
    try {
      sent += 300, await send(port, 300);
      await config("services", "dst_port");
      run.child.kill("SIGHUP");
      const read = await logged(run.lines, '"configuration read again"');
      assert.deepEqual(read.changed, ["tasks (from the next window)"]);
      // Traffic across the change.
      for (let k = 0; k < 6; k++) {
        sent += 100, await send(port, 100);
        await new Promise((ok) => setTimeout(ok, 250));
      }
      const changed = await logged(run.lines, '"tasks changed"');
      assert.deepEqual(changed.tasks, ["services"]);
      sent += 200, await send(port, 200);
      await new Promise((ok) => setTimeout(ok, 1200));
    } finally {
      await stopRun(run);
    }
    // Two sources, one after the other: each window once, with one source's tasks.
    const sources = await sqlRows(
      dir,
      `SELECT s.source_no, string_agg(DISTINCT t.name, ',') AS tasks, min(w.window_start) AS first,
              max(w.window_start) AS last, sum(w.packets)::BIGINT AS packets
       FROM sources s JOIN tasks t USING (source_no) JOIN window_totals w USING (source_no)
       GROUP BY ALL ORDER BY s.source_no`,
    );
    assert.equal(sources.length, 2, JSON.stringify(sources));
    assert.deepEqual(sources.map((r) => r.tasks), ["flows", "services"]);
    assert.ok(String(sources[0]!.last) < String(sources[1]!.first), JSON.stringify(sources));
    const [dup] = await sqlRows(
      dir,
      `SELECT count(*) AS n FROM (SELECT window_start FROM window_totals
       GROUP BY window_start HAVING count(*) > 1)`,
    );
    assert.equal(Number(dup!.n), 0);
    // Nothing lost or doubled: every datagram once, in one task's rows; the capture counts of
    // both sources add up with them.
    const [t] = await sqlRows(
      dir,
      `SELECT sum(packets)::BIGINT AS p, sum(capture_received)::BIGINT AS rec,
              sum(capture_skipped)::BIGINT AS skip, sum(capture_dropped)::BIGINT AS drop
       FROM window_totals`,
    );
    assert.deepEqual([t!.p, t!.rec, t!.skip, t!.drop], [sent, 2 * sent, sent, 0]);
    const [f] = await sqlRows(dir, "SELECT sum(packets)::BIGINT AS p FROM window_flows");
    assert.equal(f!.p, sent);
  },
);

rootTest("run on a quiet lo: every window stored on time, with zero totals", async (dir) => {
  // Port 9 (discard): nothing on lo goes there.
  const run = await startRun(
    ["--interface", "lo", "--filter", "udp port 9", "--window", "1s", "--lateness", "0s"]
      .concat(["--db", "r.duckdb", "--listen", "127.0.0.1:0"]),
    dir,
  );
  const url = urlOf(run.lines);
  const late: string[] = [];
  try {
    // Every 250 ms for 4.5 s: the latest window stored ended less than 1.5 s ago (1 s
    // windows, no lateness: each is due as it ends).
    const t0 = Date.now();
    await new Promise((ok) => setTimeout(ok, 1500));
    while (Date.now() - t0 < 6000) {
      const page = await (await fetch(url + "metrics")).text();
      const end = Number(
        /^netspectra_window_last_closed_timestamp_seconds (\S+)$/m.exec(page)![1],
      );
      const now = Date.now() / 1000;
      if (!(now - end < 1.5)) late.push(`${now}: last window ended ${end}`);
      await new Promise((ok) => setTimeout(ok, 250));
    }
  } finally {
    await stopRun(run);
  }
  assert.deepEqual(late, []);
  const rows = await sqlRows(
    dir,
    "SELECT epoch(window_start)::BIGINT AS s, packets, capture_received FROM windows ORDER BY 1",
  );
  assert.ok(rows.length >= 5, JSON.stringify(rows));
  for (let k = 0; k < rows.length; k++) {
    assert.deepEqual([rows[k]!.packets, rows[k]!.capture_received], [0, 0]);
    if (k > 0) assert.equal(rows[k]!.s, Number(rows[k - 1]!.s) + 1, "no window missing");
  }
});

rootTest("run --retain: retention runs while the daemon runs, not only at its end", async (dir) => {
  const run = await startRun(
    ["--interface", "lo", "--filter", "udp port 9", "--window", "1s", "--lateness", "0s"]
      .concat(["--db", "r.duckdb", "--listen", "127.0.0.1:0", "--retain", "2s"]),
    dir,
  );
  try {
    await new Promise((ok) => setTimeout(ok, 5500));
    await logged(run.lines, '"retention dropped windows"');
    // Asked of the running daemon: what is left is within 2 s of the newest window.
    const [r] = await sqlRows(
      dir,
      `SELECT count(DISTINCT window_start) AS n,
                epoch(max(window_start) - min(window_start)) AS span FROM window_totals`,
    );
    assert.ok(Number(r!.span) <= 3, JSON.stringify(r));
    assert.ok(Number(r!.n) <= 4, JSON.stringify(r));
  } finally {
    await stopRun(run);
  }
});

/** Runs `fn` with a 2 MiB file system of its own mounted in `dir`, unmounted afterwards. */
async function withSmallDisk(dir: string, fn: (mnt: string) => Promise<void>): Promise<void> {
  const mnt = `${dir}/small`;
  await Deno.mkdir(mnt);
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt],
  }).output();
  assert.ok(mount.success, new TextDecoder().decode(mount.stderr));
  try {
    await fn(mnt);
  } finally {
    await new Deno.Command("umount", { args: [mnt] }).output();
  }
}

/**
 * `run` on lo for the datagrams to `port` into a store on `mnt`, with the default sketches (their
 * writes are what a nearly full disk refuses).
 */
function diskArgs(port: number, mnt: string): string[] {
  return ["--interface", "lo", "--filter", `udp and dst port ${port}`, "--window", "1s"]
    .concat(["--lateness", "0s", "--db", `${mnt}/r.duckdb`, "--listen", "127.0.0.1:0"]);
}

/** Fills the file system of `mnt` with one file; returns its path. */
async function fill(mnt: string): Promise<string> {
  const path = `${mnt}/filler`;
  const f = await Deno.open(path, { write: true, create: true });
  try {
    for (;;) await f.write(new Uint8Array(16 * 1024));
  } catch {
    // No space left: full.
  } finally {
    f.close();
  }
  return path;
}

/** Each window's totals equal its flow rows (windows whole) in the store at `db`. */
async function assertWhole(dir: string, db: string): Promise<Record<string, unknown>[]> {
  const rows = await sqlRows(
    dir,
    `SELECT t.window_start, t.p AS packets, coalesce(f.p, 0) AS flows
     FROM (SELECT window_start, sum(packets) AS p FROM window_totals GROUP BY 1) t
     LEFT JOIN (SELECT window_start, sum(packets) AS p FROM window_flows WHERE task_no = 0
                GROUP BY 1) f USING (window_start)
     ORDER BY 1`,
    db,
  );
  for (const r of rows) assert.equal(Number(r.packets), Number(r.flows), JSON.stringify(r));
  return rows;
}

rootTest("run on a full disk: capture waits for room, then stores everything", async (dir) => {
  await withSmallDisk(dir, async (mnt) => {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const run = await startRun(diskArgs(port, mnt), dir);
    const url = urlOf(run.lines);
    try {
      await send(port, 100);
      await new Promise((ok) => setTimeout(ok, 1500));
      const filler = await fill(mnt);
      // While the disk is full: datagrams wait in the capture ring.
      for (let k = 0; k < 4; k++) {
        await send(port, 50);
        await new Promise((ok) => setTimeout(ok, 500));
      }
      const failed = await logged(run.lines, '"store write failed, retrying"');
      assert.match(String(failed.error), /No space left on device/);
      const ready = await fetch(url + "readyz");
      assert.equal(ready.status, 503);
      assert.match(await ready.text(), /^not ready: the store cannot write: .*No space left/);
      await Deno.remove(filler);
      await logged(run.lines, '"store writes again"', 40_000);
      await send(port, 100);
      await new Promise((ok) => setTimeout(ok, 1500));
      const page = await (await fetch(url + "metrics")).text();
      assert.ok(Number(/^netspectra_store_write_failures_total (\d+)$/m.exec(page)![1]) >= 1);
    } finally {
      await stopRun(run);
    }
    // Nothing lost, nothing doubled: 400 datagrams once each, every window there and whole.
    const rows = await assertWhole(dir, `${mnt}/r.duckdb`);
    assert.equal(rows.reduce((n, r) => n + Number(r.packets), 0), 400);
    const starts = rows.map((r) => Date.parse(String(r.window_start) + "Z") / 1000);
    for (let k = 1; k < starts.length; k++) assert.equal(starts[k], starts[k - 1]! + 1);
    const [c] = await sqlRows(
      dir,
      "SELECT sum(capture_received)::BIGINT AS rec, sum(capture_dropped)::BIGINT AS drop FROM window_totals",
      `${mnt}/r.duckdb`,
    );
    assert.deepEqual([c!.rec, c!.drop], [800, 0]);
  });
});

rootTest(
  "run stopped while the disk is full: one line, exit 1, committed windows whole",
  async (dir) => {
    await withSmallDisk(dir, async (mnt) => {
      const port = 40000 + Math.floor(Math.random() * 20000);
      const run = await startRun(diskArgs(port, mnt), dir);
      await send(port, 100);
      await new Promise((ok) => setTimeout(ok, 1500));
      await fill(mnt);
      await send(port, 100);
      await logged(run.lines, '"store write failed, retrying"');
      run.child.kill("SIGTERM");
      const status = await run.child.status;
      await run.pump;
      assert.equal(status.code, 1, run.lines.join("\n"));
      assert.match(run.lines.at(-1)!, /^netspectra: cannot write: no space left on device \(/);
      assert.ok(run.lines.slice(0, -1).every((l) => l.startsWith("{")), "only log lines before it");
      await Deno.remove(`${mnt}/filler`);
      const rows = await assertWhole(dir, `${mnt}/r.duckdb`);
      assert.equal(rows.reduce((n, r) => n + Number(r.packets), 0), 100);
    });
  },
);

rootTest(
  "run on lo: after SIGKILL the store opens with every committed window whole",
  async (dir) => {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const run = await startRun(
      loArgs(port),
      dir,
    );
    await send(port, 500);
    await new Promise((ok) => setTimeout(ok, 2500));
    await send(port, 300);
    run.child.kill("SIGKILL");
    await run.child.status;
    await run.pump;
    // Whole windows: each window's totals equal its flow rows.
    const rows = await assertWhole(dir, "r.duckdb");
    assert.ok(rows.length >= 2, JSON.stringify(rows));
    // The first 500 were sent more than two windows before the kill: committed.
    assert.ok(rows.reduce((n, r) => n + Number(r.packets), 0) >= 500);
    const [s] = await sqlRows(dir, "SELECT kind, source_id FROM sources");
    assert.equal(s!.kind, "interface");
  },
);

rootTest(
  "run: a device that does not exist, and no device at all, get one line each",
  async (dir) => {
    const r = await runCli(["run", "--interface", "nosuchdev0", "--db", "r.duckdb"], dir);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'netspectra: No network device "nosuchdev0".\n');
    const none = await runCli(["run", "--db", "r.duckdb"], dir);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^netspectra: run: give at least one --interface/);
  },
);
