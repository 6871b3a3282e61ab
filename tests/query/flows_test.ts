import assert from "node:assert/strict";
import { queryFlows, timeSeries, topFlows } from "../../query/mod.ts";
import type { QueryContext } from "../../query/mod.ts";
import { Store } from "../../storage/mod.ts";
import { runCli } from "../cli/_run.ts";
import { parseIp } from "../../collector/packet/mod.ts";

/** A store made as a user makes one: gen, then analyze into a file (3 packets/s: many windows). */
async function genStore(dir: string): Promise<string> {
  const pcap = `${dir}/g.pcap`, db = `${dir}/g.duckdb`;
  let r = await runCli([
    "gen",
    "--packets",
    "20000",
    "--flows",
    "400",
    "--rate",
    "5",
    "--dns",
    "5",
    "-o",
    pcap,
  ], dir);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(["analyze", pcap, "--db", db, "--window", "60s"], dir);
  assert.equal(r.code, 0, r.stderr);
  return db;
}

async function withStore(fn: (ctx: QueryContext, store: Store) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const store = await Store.open(await genStore(dir), { readOnly: true });
  const con = await store.readerConnection();
  try {
    await fn({ con, timeoutMs: 10_000 }, store);
  } finally {
    con.closeSync();
    store.closeSync();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every key row of the store, from the `flows` view (the oracle), with its window start. */
async function allRows(store: Store) {
  const rows = await store.rows(
    `SELECT epoch(window_start)::BIGINT AS t, src_ip, dst_ip, proto, src_port, dst_port,
       packets::BIGINT AS packets, bytes::BIGINT AS bytes FROM flows WHERE task = 'flows'`,
  );
  return rows.map((r) => ({
    t: Number(r.t),
    src_ip: r.src_ip as string | null,
    dst_ip: r.dst_ip as string | null,
    proto: r.proto === null ? null : Number(r.proto),
    src_port: r.src_port === null ? null : Number(r.src_port),
    dst_port: r.dst_port === null ? null : Number(r.dst_port),
    packets: Number(r.packets),
    bytes: Number(r.bytes),
  }));
}

function inV4Block(ip: string | null, base: string, bits: number): boolean {
  const a = ip === null ? null : parseIp(ip);
  const b = parseIp(base)!;
  if (a === null || a[0] !== 4) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((a[1][0]! & mask) >>> 0) === ((b[1][0]! & mask) >>> 0);
}

Deno.test("queryFlows: top sources over the whole range equal the flows view's sums", async () => {
  await withStore(async (ctx, store) => {
    const rows = await allRows(store);
    const by = new Map<string, number>();
    for (const r of rows) by.set(String(r.src_ip), (by.get(String(r.src_ip)) ?? 0) + r.packets);
    const want = [...by].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const a = await queryFlows(ctx, {
      from: "-100d",
      groupBy: ["src_ip"],
      metric: "packets",
      limit: 5,
    });
    assert.deepEqual(a.columns, ["src_ip", "packets", "bytes"]);
    assert.equal(a.rows.length, 5);
    for (let i = 0; i < 5; i++) assert.equal(a.rows[i]!.packets, want[i]![1], `rank ${i + 1}`);
    const total = rows.reduce((s, r) => s + r.packets, 0);
    assert.equal(a.summary.matched.packets, total);
    assert.equal(a.summary.matched.rows, by.size);
    assert.equal(a.summary.shown, 5);
    assert.equal(a.summary.task, "flows");
    // Every stored packet is IP here (gen), so the window totals equal the key rows' sum.
    assert.equal(a.summary.totals.packets, 20000);
    assert.equal(total, 20000);
    assert.ok(a.summary.windows > 60, `windows: ${a.summary.windows}`);
    assert.equal(a.summary.losses.capture_dropped, 0);
  });
});

Deno.test("queryFlows: filters, relative ranges and time buckets agree with the rows", async () => {
  await withStore(async (ctx, store) => {
    const rows = await allRows(store);
    const last = Math.max(...rows.map((r) => r.t)) + 60;
    const cases: [string, (r: (typeof rows)[number]) => boolean][] = [
      ["proto = udp", (r) => r.proto === 17],
      ["dst_port = 53 or src_port = 53", (r) => r.dst_port === 53 || r.src_port === 53],
      [
        "port != 53 and proto = tcp",
        (r) => r.proto === 6 && r.src_port !== 53 && r.dst_port !== 53,
      ],
      ["src_ip in 10.0.0.0/8", (r) => inV4Block(r.src_ip, "10.0.0.0", 8)],
      ["not dst_ip in 10.0.0.0/9", (r) => !inV4Block(r.dst_ip, "10.0.0.0", 9)],
    ];
    for (const [filter, keep] of cases) {
      for (const back of [10 * 60, 30 * 60]) {
        const a = await queryFlows(ctx, {
          from: `-${back}s`,
          filter,
          groupBy: ["time"],
          metric: "bytes",
          limit: 10_000,
          step: "5m",
        });
        const inRange = rows.filter((r) => r.t >= last - back && keep(r));
        const all = rows.filter((r) => r.t >= last - back);
        // Each filter keeps some rows and drops others, so the comparison says something.
        assert.ok(
          inRange.length > 0 && inRange.length < all.length,
          `${filter}: ${inRange.length}`,
        );
        assert.equal(a.summary.matched.bytes, inRange.reduce((s, r) => s + r.bytes, 0), filter);
        assert.equal(a.summary.step_sec, 300);
        let sum = 0;
        for (const row of a.rows) {
          assert.equal(Number(row.time) % 300, 0);
          sum += Number(row.bytes);
        }
        assert.equal(sum, a.summary.matched.bytes);
        const times = a.rows.map((r) => Number(r.time));
        assert.deepEqual(times, [...times].sort((x, y) => x - y));
      }
    }
  });
});

Deno.test("queryFlows: flows metric counts distinct keys; mistakes are the user's", async () => {
  await withStore(async (ctx, store) => {
    const rows = await allRows(store);
    const keys = new Set(
      rows.map((r) => `${r.src_ip} ${r.dst_ip} ${r.proto} ${r.src_port} ${r.dst_port}`),
    );
    const a = await queryFlows(ctx, { from: "-100d", groupBy: [], metric: "flows", limit: 10 });
    assert.equal(a.rows.length, 1);
    assert.equal(a.rows[0]!.flows, keys.size);
    const bad: [Parameters<typeof queryFlows>[1], RegExp][] = [
      [
        { filter: "port = ", groupBy: [], metric: "packets", limit: 1 },
        /Invalid filter at character 8/,
      ],
      [{ from: "yesterday", groupBy: [], metric: "packets", limit: 1 }, /"from" must be a time/],
      [{ from: "-1h", to: "-2h", groupBy: [], metric: "packets", limit: 1 }, /must be before/],
      [{ task: "nope", groupBy: [], metric: "packets", limit: 1 }, /No exact task "nope"/],
      [{ groupBy: ["vlan"], metric: "packets", limit: 1 }, /No stored exact task keeps vlan/],
      [{ groupBy: ["src_ip"], sort: "dst_ip", metric: "packets", limit: 1 }, /"sort" must be/],
      [{ groupBy: ["time"], step: "7x", metric: "packets", limit: 1 }, /"step" must be/],
    ];
    for (const [q, re] of bad) await assert.rejects(queryFlows(ctx, q), re);
  });
});

Deno.test("topFlows: the top rows and the other row add up to what the filter matched", async () => {
  await withStore(async (ctx) => {
    const a = await topFlows(ctx, "dst_port", {
      from: "-100d",
      filter: "proto = tcp",
      metric: "bytes",
      limit: 3,
    });
    assert.equal(a.rows.length, 4);
    const other = a.rows[3]!;
    assert.equal(other.dst_port, "other");
    assert.equal(other.other, a.summary.matched.rows - 3);
    assert.equal(a.rows.reduce((s, r) => s + Number(r.bytes), 0), a.summary.matched.bytes);
    assert.equal(a.rows.reduce((s, r) => s + Number(r.packets), 0), a.summary.matched.packets);
    assert.ok(Number(a.rows[0]!.bytes) >= Number(a.rows[1]!.bytes));
    // Asked for more than there is: no other row.
    const all = await topFlows(ctx, "proto", { from: "-100d", metric: "packets", limit: 100 });
    assert.ok(all.rows.every((r) => r.proto !== "other"));
  });
});

Deno.test("timeSeries: every bucket once, series of equal length that add up to the total", async () => {
  await withStore(async (ctx) => {
    const total = await timeSeries(ctx, null, 5, { from: "-2h", metric: "packets", step: "5m" });
    // Buckets are aligned on the step: a range that starts inside one takes one more.
    const start = Date.parse(total.summary.range.from) / 1000;
    assert.equal(total.times.length, 24 + (start % 300 === 0 ? 0 : 1));
    for (let i = 1; i < total.times.length; i++) {
      assert.equal(total.times[i]! - total.times[i - 1]!, 300);
    }
    assert.equal(total.series.length, 1);
    const sum = total.series[0]!.values.reduce((s, v) => s + v, 0);
    assert.equal(sum, total.summary.matched.packets);
    assert.ok(sum > 0);
    const per = await timeSeries(ctx, "src_ip", 3, { from: "-2h", metric: "packets", step: "5m" });
    assert.deepEqual(per.times, total.times);
    assert.equal(per.series.length, 4); // 3 sources and other
    assert.equal(per.series[3]!.label, "other");
    for (let i = 0; i < per.times.length; i++) {
      const bucket = per.series.reduce((s, x) => s + x.values[i]!, 0);
      assert.equal(bucket, total.series[0]!.values[i], `bucket ${i}`);
    }
    assert.equal(typeof per.series[0]!.key!.src_ip, "string");
    const auto = await timeSeries(ctx, null, 5, { from: "-100d", metric: "bytes", points: 10 });
    assert.ok(auto.times.length <= 11 && auto.times.length >= 2, `${auto.times.length} points`);
  });
});
