/**
 * The DuckDB store: per-window rows add up to tshark's truth, re-ingesting a source never
 * doubles it, splitting or shuffling the same packets gives the same window tables, schema
 * versioning, retention, flow records.
 */

import assert from "node:assert/strict";
import { analyzeFiles } from "../_memory.ts";
import { PacketBatch } from "../../collector/packet/batch.ts";
import { summaryOf } from "../_memory.ts";
import { rng } from "../../collector/gen/gen.ts";
import { ipv4Text, ipv6Text } from "../../collector/packet/ip_text.ts";
import { openCapture } from "../../collector/reader/mod.ts";
import { SCHEMA_VERSION, Store } from "../../storage/mod.ts";
import { MIGRATIONS } from "../../storage/schema.ts";
import { pcapFile, type PcapRecord, tempFile } from "../_builders.ts";
import { defaultSketches } from "../../collector/engine/mod.ts";
import { ingestToSummary } from "../_analyze.ts";
import { PCAPS_DIR, usableCaptures } from "../_testdata.ts";

const usable = usableCaptures();

Deno.test("store: per-window rows (1 s windows) sum to the whole-file truth, every capture", async () => {
  for (const { path, name, truth } of usable) {
    const { run, summary } = await ingestToSummary([path], { windowSec: 1 });
    assert.equal(summary.totals.frames, truth.frame_count, `${name} frames`);
    assert.equal(summary.totals.bytes, truth.bytes.frame_len_sum, `${name} bytes`);
    assert.equal(summary.totals.nonIpFrames, truth.non_ip_frames, `${name} non-IP`);
    assert.equal(run.packets, truth.frame_count, `${name} packets in == packets stored`);
    const ours = new Map(
      summary.flows.map((
        f,
      ) => [`${f.src_ip}|${f.dst_ip}|${f.proto}|${f.src_port ?? ""}|${f.dst_port ?? ""}`, [
        f.packets,
        f.bytes,
      ]]),
    );
    const theirs = new Map(
      truth.flows.map((
        f,
      ) => [`${f.src}|${f.dst}|${f.proto}|${f.sport ?? ""}|${f.dport ?? ""}`, [
        f.packets,
        f.bytes,
      ]]),
    );
    assert.deepEqual(ours, theirs, name);
  }
});

async function records(path: string): Promise<PcapRecord[]> {
  const reader = await openCapture(path);
  const batch = new PacketBatch();
  const out: PcapRecord[] = [];
  while (await reader.fill(batch) > 0) {
    for (let i = 0; i < batch.length; i++) {
      const o = batch.dataOff[i]!;
      out.push({
        sec: batch.tsSec[i]!,
        frac: batch.tsNsec[i]! / 1000,
        data: batch.bytes.slice(o, o + batch.capLen[i]!),
        wireLen: batch.wireLen[i]!,
      });
    }
  }
  reader.close();
  return out;
}

async function windowTable(store: Store): Promise<string> {
  const rows = await store.rows(
    `SELECT task, epoch(window_start) AS w, src_ip, dst_ip, proto, src_port, dst_port, packets, bytes, first_ns, last_ns, tcp_flags
     FROM flows ORDER BY ALL`,
  );
  const totals = await store.rows(
    "SELECT epoch(window_start) AS w, packets, bytes FROM windows ORDER BY ALL",
  );
  return JSON.stringify([rows, totals], (_, v) => typeof v === "bigint" ? v.toString() : v);
}

Deno.test("store: one file, two halves in two runs, and shuffled files give identical window tables", async () => {
  const recs = await records(PCAPS_DIR + "pcapplusplus__sll.pcap");
  const half = Math.floor(recs.length / 2);
  const rand = rng(9);
  const byWindow = [...recs].sort((a, b) =>
    Math.floor(a.sec / 10) - Math.floor(b.sec / 10) || rand() - 0.5
  );
  const shuffledA = byWindow.filter((_, k) => k % 2 === 0),
    shuffledB = byWindow.filter((_, k) => k % 2 === 1);
  const files = await Promise.all(
    [recs, recs.slice(0, half), recs.slice(half), shuffledA, shuffledB].map((r) =>
      tempFile(pcapFile(r, { linkType: 113 }))
    ),
  );
  try {
    const tables: string[] = [];
    for (const plan of [[[files[0]!]], [[files[1]!], [files[2]!]], [[files[3]!, files[4]!]]]) {
      const store = await Store.open(":memory:");
      for (const inputs of plan) {
        await ingestToSummary(inputs, { store, windowSec: 10 });
      }
      tables.push(await windowTable(store));
      await store.close();
    }
    assert.ok(tables[0]!.length > 1000, tables[0]!.slice(0, 300));
    assert.equal(tables[1], tables[0], "two halves in two runs");
    assert.equal(tables[2], tables[0], "shuffled within windows across two files");
  } finally {
    for (const f of files) await Deno.remove(f);
  }
});

Deno.test("store: ingesting the same source again replaces it instead of doubling", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = `${dir}/s.duckdb`;
    const path = PCAPS_DIR + "pcapplusplus__three_http_streams.pcap";
    for (let k = 0; k < 2; k++) {
      const store = await Store.open(db);
      await ingestToSummary([path], { store });
      await store.close();
    }
    const store = await Store.open(db, { readOnly: true });
    const [r] = await store.rows("SELECT sum(packets) AS p FROM window_totals");
    const [s] = await store.rows("SELECT count(*) AS n, max(packets) AS p FROM sources");
    await store.close();
    assert.equal(Number(r!.p), 28);
    assert.deepEqual([Number(s!.n), Number(s!.p)], [1, 28]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store: schema version is recorded and a reopened file keeps its data", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = `${dir}/v.duckdb`;
    let store = await Store.open(db);
    assert.equal(await store.schemaVersion(), SCHEMA_VERSION);
    await ingestToSummary([PCAPS_DIR + "tcpdump__print-flags.pcap"], { store });
    await store.close();
    store = await Store.open(db);
    assert.equal(await store.schemaVersion(), SCHEMA_VERSION);
    const v = await store.rows("SELECT count(*) AS n FROM schema_version");
    assert.equal(Number(v[0]!.n), SCHEMA_VERSION, "migrations ran once");
    const recs = await store.rows(
      "SELECT close_reason, packets_fwd, packets_rev, src_port FROM connections",
    );
    assert.deepEqual(
      recs.map((r) => [r.close_reason, Number(r.packets_fwd), Number(r.packets_rev), r.src_port]),
      [["fin", 6, 4, 55920]],
    );
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store: retention by age keeps only recent windows", async () => {
  const store = await Store.open(":memory:");
  try {
    await ingestToSummary([PCAPS_DIR + "pcapplusplus__sll.pcap"], {
      store,
      windowSec: 10,
    });
    const before = await store.rows(
      "SELECT count(*) AS n, min(window_start) AS lo, max(window_start) AS hi FROM window_totals",
    );
    assert.ok(Number(before[0]!.n) >= 5);
    const dropped = await store.applyRetention({ maxAgeSec: 20 });
    const after = await store.rows("SELECT count(*) AS n FROM window_totals");
    assert.equal(Number(after[0]!.n), Number(before[0]!.n) - dropped);
    assert.ok(dropped > 0 && Number(after[0]!.n) <= 3);
    const stale = await store.rows(
      "SELECT count(*) AS n FROM window_flows WHERE window_start < (SELECT min(window_start) FROM window_totals)",
    );
    assert.equal(Number(stale[0]!.n), 0);
  } finally {
    await store.close();
  }
});

Deno.test("store: retention drops what was sent of its windows and keeps what waits, with its rows", async () => {
  const store = await Store.open(":memory:");
  try {
    await store.nameSinks(["central"]);
    await ingestToSummary([PCAPS_DIR + "pcapplusplus__sll.pcap"], { store, windowSec: 10 });
    const all = await store.nextExports("central", 1000);
    assert.ok(all.length >= 5, `${all.length} windows queued`);
    assert.ok(all.every((e) => e.state === "pending" && e.sizes.length > 0));
    // The oldest two sent, one of them in a batch being sent; the rest wait.
    await store.markSending(all.slice(0, 3));
    await store.markSent(all.slice(0, 2));
    const payloads = await store.exportPayloads(all.map((e) => e.commitSeq));
    assert.equal(payloads.get(all[0]!.commitSeq)!.length, 0, "a sent window's rows are gone");
    assert.ok(payloads.get(all[2]!.commitSeq)!.length > 0);
    const dropped = await store.applyRetention({ maxAgeSec: 0 });
    assert.equal(dropped, all.length - 1, "every window but the newest");
    const left = await store.nextExports("central", 1000);
    assert.deepEqual(
      left.map((e) => [e.commitSeq, e.state]),
      all.slice(2).map((e, k) => [e.commitSeq, k === 0 ? "sending" : "pending"]),
      "what waits is kept, in order",
    );
    const kept = await store.exportPayloads(left.map((e) => e.commitSeq));
    for (const e of left) {
      const rows = kept.get(e.commitSeq)!.reduce((n, p) => n + p.rows, 0);
      assert.equal(rows, e.rows, `window ${e.commitSeq}: its rows to send are all kept`);
    }
    const [b] = await store.exportBacklog();
    assert.deepEqual([b!.sink, b!.pending, b!.sent], ["central", all.length - 2, 0]);
  } finally {
    await store.close();
  }
});

Deno.test("store: rows read back equal the in-memory analysis (times, flags, ports), every capture", async () => {
  for (const { path, name } of usable) {
    const { summary } = await ingestToSummary([path], { windowSec: 7 });
    const mem = summaryOf(await analyzeFiles({ files: [path] }));
    // Ties in packets and bytes are ordered differently (SQL by text, memory by key words).
    const canon = (rows: typeof mem.flows) => rows.map((r) => JSON.stringify(r)).sort();
    assert.deepEqual(canon(summary.flows), canon(mem.flows), name);
    // The in-memory analysis has no windows, so nothing is late there; the store counts the
    // packets that came after their window closed (pcapng-example has a far-future timestamp)
    // and still aggregates every one of them.
    assert.deepEqual({ ...summary.totals, latePackets: 0 }, mem.totals, name);
    assert.ok(summary.totals.latePackets <= summary.totals.frames, name);
    assert.deepEqual(summary.protocols, mem.protocols, name);
    assert.deepEqual(summary.decodeErrors, mem.decodeErrors, name);
  }
});

Deno.test("store: the ip_text SQL macro writes addresses exactly as the report does (RFC 5952)", async () => {
  const store = await Store.open(":memory:");
  try {
    const rand = rng(5);
    const word = () => (rand() * 4294967296) >>> 0;
    // Zero runs of every length and place, mapped and compatible IPv4, then random ones.
    const cases: number[][] = [
      [0, 0, 0, 0],
      [0, 0, 0, 1],
      [0x20010db8, 0, 0, 1],
      [0x20010db8, 0, 1, 0],
      [0x20010db8, 0x10000, 0, 1],
      [0x20010000, 0, 0, 0],
      [0, 0, 0xffff, 0x0a000001],
      [0, 0, 0xffff, 0],
      [0, 0, 0, 0x0a000001],
      [0, 0, 0x10000, 0],
      [0xfe800000, 0, 0x0, 0xffff],
      [1, 0, 1, 0],
      [0, 1, 0, 1],
    ];
    for (let k = 0; k < 400; k++) {
      // Random words with many zero halves, so runs of zero groups are common.
      cases.push(
        [0, 1, 2, 3].map(() => rand() < 0.5 ? 0 : rand() < 0.5 ? word() & 0xffff : word()),
      );
    }
    const lit = (w: number[]) =>
      w.reduce((acc, x) => (acc << 32n) | BigInt(x >>> 0), 0n).toString();
    const sql = cases.map((w, k) =>
      `SELECT ${k} AS k, ip_text(${lit(w)}::UHUGEINT, 6) AS t, ip_text(${
        w[3]! >>> 0
      }::UHUGEINT, 4) AS t4`
    ).join(" UNION ALL ");
    const rows = await store.rows(`${sql} ORDER BY k`);
    for (const r of rows) {
      const w = cases[Number(r.k)]!;
      assert.equal(r.t, ipv6Text(w), `ip6 ${w.map((x) => x.toString(16)).join(" ")}`);
      assert.equal(r.t4, ipv4Text(w[3]!), `ip4 ${w[3]}`);
    }
  } finally {
    await store.close();
  }
});

Deno.test("store: a version 1 file (before sketches) is migrated in place and keeps its rows", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = `${dir}/v1.duckdb`;
    // A store as the previous release wrote it: migration 1 only.
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const inst = await DuckDBInstance.create(db);
    const con = await inst.connect();
    await con.run(
      "CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)",
    );
    await con.run(MIGRATIONS[0]!);
    await con.run("INSERT INTO schema_version VALUES (1, now()::TIMESTAMP)");
    await con.run("INSERT INTO tasks VALUES (1, 0, 'flows', 'exact', 'src_ip')");
    con.closeSync();
    inst.closeSync();
    const store = await Store.open(db);
    try {
      assert.equal(await store.schemaVersion(), SCHEMA_VERSION);
      const t = await store.rows("SELECT name, params FROM tasks");
      assert.deepEqual(t.map((r) => [r.name, r.params]), [["flows", null]]);
      const n = await store.rows("SELECT count(*) AS n FROM window_sketches");
      assert.equal(Number(n[0]!.n), 0);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store: a sketch seed drawn at random per store, kept by the file, in every sketch", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await Store.open(`${dir}/a.duckdb`), b = await Store.open(`${dir}/b.duckdb`);
    const seeds = [a.sketchSeed, b.sketchSeed];
    await ingestToSummary([PCAPS_DIR + "pcapplusplus__sll.pcap"], {
      store: a,
      sketches: defaultSketches(),
    });
    const [blob] = await a.rows("SELECT sketch FROM window_sketches LIMIT 1");
    const bytes = blob!.sketch as { bytes: Uint8Array };
    await a.close(), await b.close();
    assert.notEqual(seeds[0], seeds[1], "two stores, two seeds (a clash has probability 2^-32)");
    const again = await Store.open(`${dir}/a.duckdb`);
    assert.equal(again.sketchSeed, seeds[0], "the file keeps its seed");
    await again.close();
    const view = new DataView(bytes.bytes.buffer, bytes.bytes.byteOffset);
    assert.equal(bytes.bytes[3]! & 0x80, 0x80, "the sketch says a seed follows");
    assert.equal(view.getUint32(4, true), seeds[0], "the sketch's seed is the store's");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
