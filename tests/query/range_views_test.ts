/**
 * Range views never change an answer: every question a view answers — kept as it was, moved
 * by a few windows, or built anew — equals the same question computed from the store, row for
 * row with the same summary; on a store made by analyze, as its range moves both ways, after
 * another source is added over the same hours, after the capture is analysed again (its
 * windows written anew) and after retention removed windows the views held.
 */

import assert from "node:assert/strict";
import { type FlowQuestion, queryFlows, RangeViews } from "../../query/mod.ts";
import { addressParts, compareKeys, viewKeySql } from "../../query/range_views.ts";
import { Store } from "../../storage/mod.ts";
import { runCli } from "../cli/_run.ts";

const FIELDS = ["src_ip", "dst_ip", "proto", "src_port", "dst_port", "vlan"] as const;

/** Questions a view answers, over relative ranges. */
function relative(): FlowQuestion[] {
  return FIELDS.flatMap((f): FlowQuestion[] => [
    { from: "-100d", groupBy: [f], metric: "bytes", limit: 10_000 },
    { from: "-1h", groupBy: [f], metric: "packets", limit: 5 },
    { from: "-90m", groupBy: [f], metric: "packets", sort: "bytes", order: "asc", limit: 7 },
  ]);
}

/** A one-hour range ending `back` seconds before `end`, as absolute times. */
function hourBefore(end: number, back: number, field: (typeof FIELDS)[number]): FlowQuestion {
  const iso = (s: number) => new Date(s * 1000).toISOString();
  return {
    from: iso(end - back - 3600),
    to: iso(end - back),
    groupBy: [field],
    metric: "packets",
    limit: 12,
  };
}

/** The newest window's end (what relative times count back from). */
async function anchor(db: string): Promise<number> {
  const store = await Store.open(db, { readOnly: true });
  try {
    const [r] = await store.rows(
      "SELECT max(epoch(window_start) + window_sec)::BIGINT AS a FROM window_totals",
    );
    return Number(r!.a);
  } finally {
    store.closeSync();
  }
}

/** Every key field, so that each has its view. */
const KEY = ["--group-by", FIELDS.join(",")];

/** Asks each question with the views and without (computed), and compares the answers. */
async function sameAnswers(
  db: string,
  views: RangeViews,
  questions: FlowQuestion[],
  label: string,
): Promise<void> {
  const store = await Store.open(db, { readOnly: true });
  try {
    for (const q of questions) {
      // A connection per question, as the API has.
      const con = await store.readerConnection();
      try {
        const viewed = await queryFlows({ con, timeoutMs: 30_000, views }, q);
        const computed = await queryFlows({ con, timeoutMs: 30_000 }, q);
        const what = `${label}: ${JSON.stringify(q)}`;
        assert.deepEqual(viewed.rows, computed.rows, what);
        assert.deepEqual(
          { ...viewed.summary, took_ms: 0 },
          { ...computed.summary, took_ms: 0 },
          what,
        );
      } finally {
        con.closeSync();
      }
    }
  } finally {
    store.closeSync();
  }
}

async function cli(dir: string, ...args: string[]): Promise<void> {
  const r = await runCli(args, dir);
  assert.equal(r.code, 0, r.stderr);
}

Deno.test("range views: answers equal the computed ones as the range moves, and through new sources, replace and retention", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const gen = (seed: string, out: string) =>
      cli(
        dir,
        "gen",
        "--packets",
        "20000",
        "--flows",
        "500",
        "--rate",
        "2",
        "--dns",
        "5",
        "--seed",
        seed,
        "-o",
        out,
      );
    await gen("1", "a.pcap"); // about 2.8 hours of 60 s windows, IPv4 and IPv6
    await gen("2", "b.pcap");
    await cli(dir, "analyze", "a.pcap", "--db", "s.duckdb", "--no-progress", ...KEY);
    const db = `${dir}/s.duckdb`;
    const views = new RangeViews();
    await sameAnswers(db, views, relative(), "first");
    await sameAnswers(db, views, relative(), "again (kept)");
    // The range moves: back a window at a time, then several windows, then forward again,
    // then further than a view moves (built anew).
    const end = await anchor(db);
    const moving: FlowQuestion[] = [];
    for (const back of [0, 60, 120, 180, 600, 1020, 420, 60, 0, 6000, 5940]) {
      moving.push(hourBefore(end, back, "src_ip"), hourBefore(end, back, "dst_port"));
    }
    await sameAnswers(db, views, moving, "moving");
    assert.ok(views.counts.kept > 0 && views.counts.moved > 0 && views.counts.built > 0);
    assert.equal(views.counts.declined, 0);
    const moved = views.counts.moved, built = views.counts.built;

    // Another source over the same hours: its windows enter the views.
    await cli(dir, "analyze", "b.pcap", "--db", "s.duckdb", "--no-progress", ...KEY);
    await sameAnswers(db, views, [...relative(), ...moving], "a second source");
    // The first capture again: its windows are written anew (other commit numbers).
    await cli(dir, "analyze", "a.pcap", "--db", "s.duckdb", "--no-progress", ...KEY);
    await sameAnswers(db, views, [...relative(), ...moving], "a source replaced");
    // Retention removes windows the views held.
    await cli(
      dir,
      "analyze",
      "a.pcap",
      "--db",
      "s.duckdb",
      "--no-progress",
      ...KEY,
      "--retain",
      "100m",
    );
    await sameAnswers(db, views, [...relative(), ...moving], "after retention");
    assert.ok(views.counts.moved > moved && views.counts.built > built);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("range views: only questions a view holds go to one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await cli(dir, "gen", "--packets", "3000", "--rate", "5", "-o", "g.pcap");
    await cli(dir, "analyze", "g.pcap", "--db", "s.duckdb", "--no-progress");
    const views = new RangeViews();
    const computedOnly: FlowQuestion[] = [
      { from: "-1h", groupBy: ["src_ip"], metric: "flows", limit: 5 },
      { from: "-1h", groupBy: ["src_ip"], metric: "packets", limit: 5, filter: "proto = tcp" },
      { from: "-1h", groupBy: ["src_ip", "dst_ip"], metric: "packets", limit: 5 },
      { from: "-1h", groupBy: ["time"], metric: "bytes", limit: 5 },
      { from: "-1h", groupBy: ["dst_port"], metric: "packets", sort: "dst_port", limit: 5 },
    ];
    await sameAnswers(`${dir}/s.duckdb`, views, computedOnly, "not for views");
    assert.deepEqual(views.counts, { kept: 0, moved: 0, built: 0, declined: 0 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("range views: within their limits — too many groups are computed, the least recently used view goes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await cli(dir, "gen", "--packets", "3000", "--rate", "5", "--flows", "300", "-o", "g.pcap");
    await cli(dir, "analyze", "g.pcap", "--db", "s.duckdb", "--no-progress");
    const db = `${dir}/s.duckdb`;
    const q = (field: "src_ip" | "proto"): FlowQuestion => ({
      from: "-1h",
      groupBy: [field],
      metric: "packets",
      limit: 5,
    });
    // Far more sources than 20: declined, computed, and not tried again for a while.
    const small = new RangeViews({ groups: 20 });
    await sameAnswers(db, small, [q("src_ip"), q("src_ip")], "declined");
    assert.deepEqual(small.counts, { kept: 0, moved: 0, built: 0, declined: 2 });
    // Room for the protocols' view (a handful of groups), not for it and the sources' too.
    const sources = await groupsOf(db, "src_ip");
    const two = new RangeViews({ groups: sources + 1 });
    await sameAnswers(db, two, [q("proto"), q("src_ip"), q("proto"), q("src_ip")], "evicted");
    // Each view pushes the other out, so every question builds its view anew.
    assert.deepEqual(two.counts, { kept: 0, moved: 0, built: 4, declined: 0 });
    const roomy = new RangeViews({ groups: sources + 100 });
    await sameAnswers(db, roomy, [q("proto"), q("src_ip"), q("proto"), q("src_ip")], "roomy");
    assert.deepEqual(roomy.counts, { kept: 2, moved: 0, built: 2, declined: 0 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** How many groups `field` has over the last hour (the computed answer's rows matched). */
async function groupsOf(db: string, field: "src_ip"): Promise<number> {
  const store = await Store.open(db, { readOnly: true });
  const con = await store.readerConnection();
  try {
    const a = await queryFlows({ con, timeoutMs: 30_000 }, {
      from: "-1h",
      groupBy: [field],
      metric: "packets",
      limit: 1,
    });
    return a.summary.matched.rows;
  } finally {
    con.closeSync();
    store.closeSync();
  }
}

Deno.test("range views: group keys and their order", () => {
  // [a, b, sign of compareKeys(a, b)]: the store's ORDER BY version, address NULLS LAST.
  const cases: [number | string, number | string, number][] = [
    [1, 2, -1],
    [167772161, 167772161, 0],
    [4294967295, "6|0:1", -1], // IPv4 before IPv6
    ["6|0:1", "6|0:2", -1],
    ["6|1:0", "6|0:18446744073709551615", 1],
    ["6|0:1", "|", -1], // NULL last
    [80, "|", -1],
    ["|", "|", 0],
    ["0|0:5", 3, -1], // a version below 4 first
  ];
  for (const [a, b, sign] of cases) {
    assert.equal(Math.sign(compareKeys(a, b)), sign, `${a} vs ${b}`);
    assert.equal(Math.sign(compareKeys(b, a)), -sign || 0, `${b} vs ${a}`);
  }
  assert.deepEqual(addressParts(167772161), [4, 167772161n]);
  assert.deepEqual(addressParts("6|1:2"), [6, (1n << 64n) | 2n]);
  assert.deepEqual(addressParts("|"), [null, null]);
  assert.equal(viewKeySql("time", "f"), null);
  assert.equal(viewKeySql("src_ip", "f")!.group.join(), "f.ip_version,f.src_addr");
});
