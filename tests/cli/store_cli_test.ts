/**
 * `analyze --db` and `netspectra sql` as a user runs them: real processes, a real DuckDB file,
 * re-runs, refused statements, a locked file, SIGTERM and SIGKILL in the middle of a run.
 */

import assert from "node:assert/strict";
import { Store } from "../../storage/mod.ts";
import { PCAPS_DIR } from "../_testdata.ts";
import { MAIN, PERMS, runCli } from "./_run.ts";

const HOLD = new URL("./_hold_store.ts", import.meta.url).pathname;
const SLL = PCAPS_DIR + "pcapplusplus__sll.pcap";

const run = runCli;

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "netspectra-store-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function sqlJson(dir: string, db: string, q: string): Promise<Record<string, unknown>[]> {
  const r = await run(["sql", "--db", db, "--format", "json", q], dir);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

Deno.test("analyze keeps its results in ./netspectra.duckdb by default, sql reads it; --db :memory: keeps nothing", async () => {
  await withDir(async (dir) => {
    const r = await run(["analyze", SLL], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /stored in netspectra\.duckdb as source/);
    const q = await run(["sql", "--format", "csv", "SELECT sum(packets) AS p FROM windows"], dir);
    assert.equal(q.code, 0, q.stderr);
    assert.equal(q.stdout, "p\n518\n");
    await Deno.remove(`${dir}/netspectra.duckdb`);
    const m = await run(["analyze", "--db", ":memory:", SLL], dir);
    assert.equal(m.code, 0, m.stderr);
    assert.doesNotMatch(m.stdout, /stored in/);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written");
  });
});

Deno.test("a store path that cannot be opened gets one line and exit 1", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/bad.duckdb`, "not a database\n");
    const cases: [string[], RegExp][] = [
      [["analyze", "--db", `${dir}/no/such/dir/s.duckdb`, SLL], /No such file or directory/],
      [["analyze", "--db", "bad.duckdb", SLL], /not a valid DuckDB database file/],
      [["sql", "--db", "bad.duckdb", "SELECT 1"], /not a valid DuckDB database file/],
    ];
    for (const [args, pattern] of cases) {
      const r = await run(args, dir);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(r.stderr, /^netspectra: Cannot open the store /);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });
});

Deno.test("analyze --db stores windows and flow records that sql reads back; a re-run does not double", async () => {
  await withDir(async (dir) => {
    for (let k = 0; k < 2; k++) {
      const r = await run(["analyze", "--db", "s.duckdb", "--window", "10s", SLL], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /stored in s\.duckdb as source [0-9a-f]{32}/);
      assert.match(r.stdout, /in 6 window\(s\) of 10 s/);
      assert.match(r.stdout, /Flow records/);
    }
    const [w] = await sqlJson(
      dir,
      "s.duckdb",
      "SELECT count(*) AS windows, sum(packets) AS packets FROM windows",
    );
    assert.deepEqual([Number(w!.windows), Number(w!.packets)], [6, 518]);
    const [s] = await sqlJson(
      dir,
      "s.duckdb",
      "SELECT count(*) AS n FROM sources WHERE finished_at IS NOT NULL",
    );
    assert.equal(Number(s!.n), 1);
    const recs = await sqlJson(
      dir,
      "s.duckdb",
      "SELECT sum(packets_fwd + packets_rev) AS p FROM flow_records",
    );
    assert.equal(Number(recs[0]!.p), 511, "every IP packet is in a flow record");
    const csv = await run([
      "sql",
      "--db",
      "s.duckdb",
      "--format",
      "csv",
      "SELECT src_ip, dst_port FROM flows WHERE dst_port = 80",
    ], dir);
    assert.match(csv.stdout, /^src_ip,dst_port\n10\.0\.0\.8,80\n/);
  });
});

Deno.test("netspectra sql refuses writes, file access and several statements, in one line each", async () => {
  await withDir(async (dir) => {
    assert.equal((await run(["analyze", "--db", "s.duckdb", SLL], dir)).code, 0);
    const cases: [string, RegExp][] = [
      ["SELECT * FROM read_csv('/etc/passwd')", /disabled by configuration/],
      [
        "COPY window_totals TO '/tmp/netspectra-leak.csv'",
        /Only read-only statements|disabled by configuration/,
      ],
      ["DELETE FROM window_totals", /Only read-only statements.*DELETE/],
      [
        "INSERT INTO sources (source_no, source_id, inputs, window_sec, started_at) VALUES (9, 'x', 'y', 1, now())",
        /Only read-only statements/,
      ],
      ["SET enable_external_access = true", /Only read-only statements/],
      ["SELECT 1; SELECT 2", /exactly one SQL statement/],
      ["SELEKT 1", /Parser Error/],
    ];
    for (const [q, pattern] of cases) {
      const r = await run(["sql", "--db", "s.duckdb", q], dir);
      assert.equal(r.code, 1, `${q}: ${r.stdout}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    const [n] = await sqlJson(dir, "s.duckdb", "SELECT sum(packets) AS p FROM window_totals");
    assert.equal(Number(n!.p), 518, "nothing was changed");
  });
});

Deno.test("netspectra sql caps rows and stops slow queries", async () => {
  await withDir(async (dir) => {
    assert.equal((await run(["analyze", "--db", "s.duckdb", SLL], dir)).code, 0);
    const capped = await run([
      "sql",
      "--db",
      "s.duckdb",
      "--max-rows",
      "3",
      "--format",
      "csv",
      "SELECT * FROM range(100)",
    ], dir);
    assert.equal(capped.code, 0);
    assert.equal(capped.stdout.trim().split("\n").length, 4);
    assert.match(capped.stderr, /cut at 3 rows/);
    const slow = await run([
      "sql",
      "--db",
      "s.duckdb",
      "--timeout",
      "1s",
      "SELECT count(*) FROM range(1000000000000)",
    ], dir);
    assert.equal(slow.code, 1);
    assert.match(slow.stderr, /longer than 1 s/);
  });
});

Deno.test("a store held by another process gets a clear error, not a stack trace", async () => {
  await withDir(async (dir) => {
    const db = `${dir}/held.duckdb`;
    const holder = new Deno.Command(Deno.execPath(), {
      args: ["run", ...PERMS, HOLD, db],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = holder.stdout.getReader();
    await reader.read(); // "locked"
    try {
      const a = await run(["analyze", "--db", db, "--db-wait", "0s", SLL], dir);
      assert.equal(a.code, 1);
      assert.match(a.stderr, /^netspectra: The store .*held\.duckdb is in use by another process/);
      const q = await run(["sql", "--db", db, "--db-wait", "0s", "SELECT 1"], dir);
      assert.equal(q.code, 1);
      assert.match(q.stderr, /in use by another process/);
    } finally {
      await holder.stdin.close();
      reader.releaseLock();
      await holder.stdout.cancel();
      await holder.status;
    }
  });
});

/** A generated capture of `packets` packets at 50k/s (1-second windows fill quickly). */
async function bigCapture(dir: string, packets: number): Promise<string> {
  const file = `${dir}/big.pcap`;
  const g = await run([
    "gen",
    "--packets",
    String(packets),
    "--flows",
    "5000",
    "--rate",
    "50000",
    "-o",
    file,
  ], dir);
  assert.equal(g.code, 0, g.stderr);
  return file;
}

function spawnAnalyze(dir: string, db: string, file: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, MAIN, "analyze", "--db", db, "--window", "1s", "--no-progress", file],
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

/** Every stored window is whole: its totals equal the sum of its flow rows and protocols. */
async function assertWindowsWhole(db: string): Promise<number> {
  const store = await Store.open(db, { readOnly: true });
  try {
    const bad = await store.rows(`
      SELECT t.window_start, t.packets, f.p AS flow_packets, p.p AS proto_packets
      FROM (SELECT window_start, sum(packets) AS packets FROM window_totals GROUP BY ALL) t
      LEFT JOIN (SELECT window_start, sum(packets) AS p FROM window_flows GROUP BY ALL) f USING (window_start)
      LEFT JOIN (SELECT window_start, sum(packets) AS p FROM window_protocols GROUP BY ALL) p USING (window_start)
      WHERE f.p IS DISTINCT FROM t.packets OR p.p IS DISTINCT FROM t.packets`);
    assert.deepEqual(bad, [], "windows whose parts do not add up");
    const [n] = await store.rows("SELECT count(*) AS n FROM window_totals");
    return Number(n!.n);
  } finally {
    await store.close();
  }
}

Deno.test("SIGKILL in the middle of analyze --db leaves a store that opens with whole windows", async () => {
  await withDir(async (dir) => {
    const file = await bigCapture(dir, 1_500_000);
    const db = `${dir}/k.duckdb`;
    const child = spawnAnalyze(dir, db, file);
    // Wait until some windows are committed (the WAL grows), then kill without warning. A
    // window with its sketches is about half a megabyte of WAL, so at 2 MB several windows'
    // commits are complete even if the kill lands in the middle of the next one.
    for (let t = 0; t < 200; t++) {
      await new Promise((r) => setTimeout(r, 50));
      const wal = await Deno.stat(`${db}.wal`).catch(() => null);
      if (wal !== null && wal.size > 2_000_000) break;
    }
    child.kill("SIGKILL");
    const status = await child.status;
    await child.stderr.cancel();
    assert.equal(status.signal, "SIGKILL");
    const windows = await assertWindowsWhole(db);
    assert.ok(windows > 0, "some windows were committed before the kill");
    const store = await Store.open(db, { readOnly: true });
    const [s] = await store.rows("SELECT finished_at FROM sources");
    await store.close();
    assert.equal(s!.finished_at, null, "the run is marked unfinished");
    // The same capture again, in full: the killed run's partial windows go (its identity was
    // never known), so every packet is counted once — row for row, nothing lost, nothing doubled.
    const again = await run(
      ["analyze", "--db", db, "--window", "1s", "--format", "csv", file],
      dir,
    );
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /removed 1 unfinished analysis/);
    const [n] = await sqlJson(
      dir,
      db,
      "SELECT (SELECT count(*) FROM sources) AS sources, (SELECT sum(packets) FROM window_totals) AS packets, (SELECT sum(packets) FROM window_flows) AS flow_packets, (SELECT sum(packets_fwd + packets_rev) FROM flow_records) AS record_packets, (SELECT count(*) FROM (SELECT window_start, part FROM window_totals GROUP BY ALL HAVING count(*) > 1)) AS doubled",
    );
    assert.deepEqual(
      [n!.sources, n!.packets, n!.flow_packets, n!.record_packets, n!.doubled],
      [1, 1_500_000, 1_500_000, 1_500_000, 0],
    );
  });
});

Deno.test("SIGTERM stops analyze --db cleanly: open window flushed, run finished, exit 0", async () => {
  await withDir(async (dir) => {
    const file = await bigCapture(dir, 1_500_000);
    const db = `${dir}/t.duckdb`;
    const child = spawnAnalyze(dir, db, file);
    for (let t = 0; t < 200; t++) {
      await new Promise((r) => setTimeout(r, 50));
      const wal = await Deno.stat(`${db}.wal`).catch(() => null);
      if (wal !== null && wal.size > 200_000) break;
    }
    child.kill("SIGTERM");
    const status = await child.status;
    const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
    assert.equal(status.code, 0, stderr);
    await assertWindowsWhole(db);
    const store = await Store.open(db, { readOnly: true });
    const [s] = await store.rows("SELECT finished_at IS NOT NULL AS done, packets FROM sources");
    const [w] = await store.rows("SELECT sum(packets) AS p FROM window_totals");
    await store.close();
    assert.equal(s!.done, true);
    assert.equal(Number(w!.p), Number(s!.packets), "packets read == packets stored");
    if (/stopped by a signal/.test(stderr)) assert.ok(Number(s!.packets) < 1_500_000);
  });
});

Deno.test("analyze --config runs every task of the file, reports the chosen one, applies retention", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/c.yaml`,
      "window: 10s\ntasks:\n  - name: flows\n    key: [src_ip, dst_ip, proto, src_port, dst_port]\n" +
        "  - name: ports\n    key: [dst_port]\nstore:\n  path: c.duckdb\n",
    );
    const r = await run([
      "analyze",
      "--config",
      "c.yaml",
      "--task",
      "ports",
      "--format",
      "csv",
      SLL,
    ], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^dst_port,packets,bytes,/);
    assert.match(r.stdout, /\n40800,325,436971,/);
    const tasks = await sqlJson(
      dir,
      "c.duckdb",
      "SELECT task, sum(packets) AS p FROM flows GROUP BY task ORDER BY task",
    );
    assert.deepEqual(tasks.map((t) => [t.task, Number(t.p)]), [["flows", 511], ["ports", 511]]);
    const kept = await run(["analyze", "--config", "c.yaml", "--retain", "20s", SLL], dir);
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(kept.stderr, /retention dropped \d+ window/);
    const [w] = await sqlJson(dir, "c.duckdb", "SELECT count(*) AS n FROM window_totals");
    assert.ok(Number(w!.n) <= 3, `${w!.n} windows left`);
    const bad = await run(["analyze", "--config", "c.yaml", "--task", "nope", SLL], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no task "nope" \(tasks: flows, ports\)/);
    await Deno.writeTextFile(`${dir}/bad.yaml`, "window: forever\ntasks: []\n");
    const invalid = await run(["analyze", "--config", "bad.yaml", SLL], dir);
    assert.equal(invalid.code, 1);
    assert.match(
      invalid.stderr,
      /^netspectra: Invalid configuration bad\.yaml: window: .*; tasks: a list/,
    );
  });
});

Deno.test("sql: empty queries, statement kinds, 64-bit numbers, a timeout on time, results larger than a string", async () => {
  await withDir(async (dir) => {
    assert.equal((await run(["analyze", "--db", "s.duckdb", SLL], dir)).code, 0);
    const refused: [string, RegExp][] = [
      ["", /The query is empty/],
      ["-- just a comment", /The query is empty/],
      ["/* nothing */  ", /The query is empty/],
      ["CHECKPOINT", /allowed, got CHECKPOINT$/m],
      ["COPY window_totals TO 'x.csv'", /allowed, got COPY$/m],
    ];
    for (const [q, pattern] of refused) {
      const r = await run(["sql", "--db", "s.duckdb", q], dir);
      assert.equal(r.code, 1, `${q}: ${r.stdout}`);
      assert.match(r.stderr, pattern);
    }
    const [row] = await sqlJson(
      dir,
      "s.duckdb",
      "-- a comment first\nSELECT sum(packets) AS p, 9007199254740993::BIGINT AS big FROM window_totals",
    );
    assert.equal(row!.p, 518, "a 64-bit sum that fits 2^53 is a JSON number");
    assert.equal(row!.big, "9007199254740993", "one that does not stays exact, as text");
    const t0 = performance.now();
    const slow = await run(
      ["sql", "--db", "s.duckdb", "--timeout", "2s", "SELECT count(*) FROM range(100000000000)"],
      dir,
    );
    const took = (performance.now() - t0) / 1000;
    assert.equal(slow.code, 1);
    assert.match(slow.stderr, /ran longer than 2 s and was stopped/);
    assert.ok(took < 8, `stopped on time: ${took.toFixed(1)} s`);
    // 60 rows of 10 MB: more text than one JavaScript string may hold.
    const big = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...PERMS,
        MAIN,
        "sql",
        "--db",
        "s.duckdb",
        "--format",
        "csv",
        "SELECT repeat('x', 10000000) AS big FROM range(60)",
      ],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let bytes = 0;
    for await (const part of big.stdout) bytes += part.length;
    const status = await big.status;
    const err = new TextDecoder().decode(await new Response(big.stderr).arrayBuffer());
    assert.equal(status.code, 0, err);
    assert.equal(bytes, 4 + 60 * 10_000_001);
  });
});

Deno.test("analyze --no-records (or flows.records: false) stores the same windows and no flow records, and says so", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/c.yaml`, "window: 10s\nflows:\n  records: false\n");
    const runs = [
      ["analyze", "--db", "with.duckdb", "--window", "10s", SLL],
      ["analyze", "--db", "without.duckdb", "--window", "10s", "--no-records", SLL],
      ["analyze", "--db", "config.duckdb", "--config", "c.yaml", "--no-sketches", SLL],
    ];
    for (const argv of runs) {
      const r = await run(argv, dir);
      assert.equal(r.code, 0, r.stderr);
      if (argv.includes("with.duckdb")) assert.match(r.stdout, /Flow records \(bidirectional/);
      else assert.match(r.stdout, /Flow records: none kept \(--no-records\)/);
    }
    const rows =
      "SELECT window_start, ip_version, src_addr::VARCHAR AS s, dst_addr::VARCHAR AS d, " +
      "proto, src_port, dst_port, packets, bytes FROM window_flows ORDER BY ALL";
    const withRecords = await sqlJson(dir, "with.duckdb", rows);
    assert.ok(withRecords.length > 10, `${withRecords.length} rows`);
    for (const db of ["without.duckdb", "config.duckdb"]) {
      assert.deepEqual(await sqlJson(dir, db, rows), withRecords, db);
      const [n] = await sqlJson(dir, db, "SELECT count(*) AS n FROM flow_records");
      assert.equal(Number(n!.n), 0, db);
    }
    const [n] = await sqlJson(dir, "with.duckdb", "SELECT count(*) AS n FROM flow_records");
    assert.ok(Number(n!.n) > 0);
    const json = await run(
      ["analyze", "--db", ":memory:", "--no-records", "--format", "json", SLL],
      dir,
    );
    assert.equal(JSON.parse(json.stdout).flow_records, null);
    await Deno.writeTextFile(`${dir}/bad.yaml`, "flows:\n  records: maybe\n");
    const bad = await run(["analyze", "--config", "bad.yaml", SLL], dir);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /^netspectra: Invalid configuration .*flows\.records: true or false\.\n$/,
    );
  });
});
