/**
 * Sketch tasks as a user meets them: `gen` with attacks, `analyze` showing heavy hitters next
 * to exact counts, distinct counts, super-spreaders and port scanners, the same under
 * `--format json`, and the rows `sql` reads back.
 */

import assert from "node:assert/strict";
import { runCli } from "./_run.ts";

const run = runCli;

async function withCapture(fn: (dir: string, pcap: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "netspectra-sketch-" });
  try {
    const g = await run([
      "gen",
      "--packets",
      "300k",
      "--flows",
      "20k",
      "--scans",
      "8",
      "--syn-flood",
      "--ddos",
      "-o",
      "a.pcap",
    ], dir);
    assert.equal(g.code, 0, g.stderr);
    await fn(dir, `${dir}/a.pcap`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

interface Doc {
  windows: { count: number };
  sketches: {
    heavy_hitters: {
      task: string;
      top: { src_ip: string; bytes: number; exact_bytes: number | null }[];
    }[];
    distinct: { task: string; estimate: number; exact: number | null }[];
    spread: { task: string; threshold: number; keys: { src_ip: string; spread: number }[] }[];
  };
}

Deno.test("analyze shows the default sketch tasks over several windows, in text and JSON", async () => {
  await withCapture(async (dir, pcap) => {
    const j = await run(
      ["analyze", "--db", "s.duckdb", "--window", "1s", "--format", "json", pcap],
      dir,
    );
    assert.equal(j.code, 0, j.stderr);
    const doc = JSON.parse(j.stdout) as Doc;
    assert.ok(doc.windows.count >= 3, `${doc.windows.count} windows`);
    const [hh] = doc.sketches.heavy_hitters;
    assert.equal(hh!.task, "top_sources");
    assert.equal(hh!.top.length > 0, true);
    for (const r of hh!.top.slice(0, 5)) {
      // The top sources are in the store from early on: exact or within 1 %.
      assert.ok(r.exact_bytes !== null);
      assert.ok(Math.abs(r.bytes - r.exact_bytes) / r.exact_bytes <= 0.01, JSON.stringify(r));
    }
    for (const d of doc.sketches.distinct) {
      assert.ok(d.exact !== null && d.exact > 1000, JSON.stringify(d));
      // merged over windows: Ertl's estimator, 2^14 registers (RMSE 0.8 %)
      assert.ok(Math.abs(d.estimate - d.exact) / d.exact < 0.03, JSON.stringify(d));
    }
    const spread = new Map(doc.sketches.spread.map((s) => [s.task, s.keys]));
    const hosts = spread.get("super_spreaders")!.map((k) => k.src_ip);
    const ports = spread.get("port_scanners")!.map((k) => k.src_ip);
    assert.ok(hosts.length > 0 && hosts.every((ip) => ip.startsWith("203.0.113.")), `${hosts}`);
    assert.ok(ports.length > 0 && ports.every((ip) => ip.startsWith("192.0.2.")), `${ports}`);

    const t = await run(["analyze", "--db", "s.duckdb", "--window", "1s", pcap], dir);
    assert.equal(t.code, 0, t.stderr);
    for (
      const title of [
        /Heavy hitters \(sketch top_sources: src_ip by bytes, 256 KiB; exact from task flows\)/,
        /Distinct counts \(HyperLogLog/,
        /Spread \(sketch super_spreaders: src_ip meeting ≥ 1000 distinct dst_ip; \d+ found\)/,
        /Spread \(sketch port_scanners: src_ip meeting ≥ 100 distinct dst_port, TCP SYNs only/,
      ]
    ) assert.match(t.stdout, title);

    const q = await run([
      "sql",
      "--db",
      "s.duckdb",
      "--format",
      "json",
      `SELECT (SELECT count(*) FROM window_sketches) AS sketches,
              (SELECT count(DISTINCT window_start) FROM window_sketches) AS windows,
              (SELECT count(*) FROM sketch_keys WHERE task = 'port_scanners') AS scan_rows,
              (SELECT count(*) FROM distinct_counts) AS distinct_rows`,
    ], dir);
    assert.equal(q.code, 0, q.stderr);
    // BIGINT counts come back as JSON strings (they may exceed 2^53).
    const row: Record<string, number> = Object.fromEntries(
      Object.entries(JSON.parse(q.stdout)[0] as Record<string, string>).map((
        [k, v],
      ) => [k, Number(v)]),
    );
    assert.equal(row.sketches, row.windows! * 5, "one sketch per task per window");
    assert.equal(row.distinct_rows, row.windows! * 2);
    assert.ok(row.scan_rows! > 0);
  });
});

Deno.test("analyze --no-sketches runs the exact task only", async () => {
  await withCapture(async (dir, pcap) => {
    const r = await run(["analyze", "--db", "n.duckdb", "--no-sketches", pcap], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /Heavy hitters|Distinct counts|Spread/);
    const q = await run(
      ["sql", "--db", "n.duckdb", "--format", "csv", "SELECT kind FROM tasks"],
      dir,
    );
    assert.equal(q.stdout, "kind\nexact\n");
  });
});

Deno.test("gen attacks are deterministic and leave default captures unchanged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netspectra-gen-" });
  try {
    const sum = async (args: string[], out: string) => {
      const r = await run(["gen", "--packets", "20k", ...args, "-o", out], dir);
      assert.equal(r.code, 0, r.stderr);
      const data = await Deno.readFile(`${dir}/${out}`);
      return new Uint8Array(await crypto.subtle.digest("SHA-256", data)).join(",");
    };
    const attacked = await sum(["--scans", "4", "--syn-flood", "--ddos"], "a1.pcap");
    assert.equal(await sum(["--scans", "4", "--syn-flood", "--ddos"], "a2.pcap"), attacked);
    assert.notEqual(await sum([], "plain.pcap"), attacked);
    assert.equal(await sum(["--scans", "0"], "zero.pcap"), await sum([], "plain2.pcap"));
    const bad = await run(["gen", "--packets", "10", "--scans", "65", "-o", "x.pcap"], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--scans/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("estimate answers point queries from stored Count-Min sketches", async () => {
  await withCapture(async (dir, pcap) => {
    await Deno.writeTextFile(
      `${dir}/cm.yaml`,
      [
        "window: 1s",
        "tasks:",
        "  - { name: flows, key: [dst_ip] }",
        "  - { name: cu, kind: count_min, key: [dst_ip], memory: 16KiB }",
        "  - { name: std, kind: count_min, key: [dst_ip], memory: 16KiB, conservative: false }",
      ].join("\n"),
    );
    const a = await run(["analyze", "--config", "cm.yaml", "--db", "c.duckdb", pcap], dir);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /Count-Min sketch cu \(dst_ip by packets, 16 KiB\)/);
    const exact = await run([
      "sql",
      "--db",
      "c.duckdb",
      "--format",
      "csv",
      "SELECT sum(packets) AS p FROM flows WHERE dst_ip = '198.51.100.20'",
    ], dir);
    const truth = Number(exact.stdout.split("\n")[1]);
    assert.ok(truth > 1000, "the DDoS victim");
    const est: Record<string, number> = {};
    for (const task of ["cu", "std"]) {
      const e = await run(
        ["estimate", "--db", "c.duckdb", "--task", task, "dst_ip=198.51.100.20"],
        dir,
      );
      assert.equal(e.code, 0, e.stderr);
      est[task] = Number(/all windows\s+(\d+)/.exec(e.stdout)![1]);
      assert.ok(e.stdout.trim().split("\n").length >= 4, "one line per window");
    }
    // Never below the truth; the standard update within Count-Min's bound e/w · N (16 KiB of
    // 4 rows: w = 512; N = 300k packets); conservative update never above the standard one.
    assert.ok(est.cu! >= truth && est.std! >= truth, JSON.stringify({ est, truth }));
    assert.ok(est.std! - truth <= (Math.E / 512) * 300_000, JSON.stringify({ est, truth }));
    assert.ok(est.cu! <= est.std!, JSON.stringify({ est, truth }));
    const mistakes: [string[], RegExp][] = [
      [["--task", "flows", "dst_ip=1.2.3.4"], /is exact, not count_min/],
      [["--task", "cu", "src_ip=1.2.3.4"], /keyed by dst_ip/],
      [["--task", "cu", "dst_ip=1.2.3"], /not an IP address/],
      [["--task", "nope", "dst_ip=1.2.3.4"], /no task "nope"/],
      [["dst_ip=1.2.3.4"], /give --task NAME/],
    ];
    for (const [args, re] of mistakes) {
      const r = await run(["estimate", "--db", "c.duckdb", ...args], dir);
      assert.equal(r.code, 2, args.join(" "));
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, "no stack trace");
    }
  });
});
