/**
 * End-to-end benchmark: generates synthetic captures with `netspectra gen` into a temp
 * folder (one per flow count), then measures packets/s of each stage and compares with
 * `tcpdump -nn -r FILE -w /dev/null` in the same run. Every stage runs on one core except
 * "same on two threads", which is what `analyze` runs: the exact tasks and the flow lifecycle
 * on the helper thread (engine.ts HELPER_DEFAULT), the rest on the main thread.
 *
 *   deno task bench [--packets 2M] [--flows 200k,10k] [--runs 3] [--dns PCT] [--http PCT]
 *
 * 200k flows (332k distinct 5-tuples in one window) is the demanding case; 10k is gen's
 * default mix.
 *
 * The sketch micro-benchmark times the default sketch tasks alone on each decoded batch
 * while it is still in cache (as in the pipeline), over five passes of the capture (the first
 * warms the JIT; the best of the others is shown): nanoseconds per packet on one core, all
 * tasks together and each alone.
 *
 * @module
 */

import { PacketBatch } from "../collector/packet/batch.ts";
import { decodeBatch } from "../collector/decode/mod.ts";
import { FlowTable } from "../collector/engine/flow_table.ts";
import { GEN_DEFAULTS, generate } from "../collector/gen/gen.ts";
import { FIVE_TUPLE } from "../collector/packet/key_fields.ts";
import { openCapture } from "../collector/reader/mod.ts";
import { ingestFiles } from "../collector/ingest/ingest.ts";
import { HELPER_DEFAULT, HELPER_NONE } from "../collector/engine/engine.ts";
import { defaultSketches, SketchBank, type SketchSpec } from "../collector/engine/sketch_bank.ts";
import { AppLayer } from "../collector/app/app_layer.ts";
import { Store } from "../storage/mod.ts";
import { parseArgs, parseCount } from "../cli/args.ts";

const args = parseArgs(
  Deno.args,
  { values: ["packets", "flows", "runs", "dns", "http"], booleans: [] },
  "bench",
);
const packets = parseCount("packets", args.values.get("packets") ?? "2M", 1000, 1e9);
const flowCounts = (args.values.get("flows") ?? "200k,10k").split(",").map((f) =>
  parseCount("flows", f, 1, 1 << 24)
);
const runs = parseCount("runs", args.values.get("runs") ?? "3", 1, 20);
// Shares of DNS and HTTP packets in percent (gen --dns / --http); unset: gen's default mix.
const percent = (name: string) =>
  args.values.has(name) ? parseCount(name, args.values.get(name)!, 0, 100) : undefined;
const dnsPercent = percent("dns"), httpPercent = percent("http");

async function findTcpdump(): Promise<string | null> {
  for (const p of ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"]) {
    try {
      await Deno.stat(p);
      return p;
    } catch { /* not there */ }
  }
  return null;
}

async function ensureTcpdump(): Promise<string | null> {
  const found = await findTcpdump();
  if (found !== null) return found;
  console.error("tcpdump missing: installing it with apt-get (needs root)…");
  await new Deno.Command("bash", {
    args: [
      "-c",
      "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpdump",
    ],
    stdout: "null",
    stderr: "null",
  }).output();
  return await findTcpdump();
}

function best(times: number[]): number {
  return Math.min(...times);
}

async function timeStage(label: string, fn: () => Promise<number>): Promise<number> {
  const times: number[] = [];
  let n = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    n = await fn();
    times.push((performance.now() - t0) / 1000);
  }
  const s = best(times);
  console.log(
    `${label.padEnd(44)} ${(n / s / 1e6).toFixed(2).padStart(6)} M pkt/s  (${
      s.toFixed(3)
    } s best of ${runs})`,
  );
  return s;
}

const dir = await Deno.makeTempDir({ prefix: "netspectra-bench-" });
try {
  console.log(
    `machine: ${Deno.build.os} ${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}`,
  );
  const tcpdump = await ensureTcpdump();
  for (const flows of flowCounts) await benchCapture(flows, tcpdump);
} finally {
  await Deno.remove(dir, { recursive: true });
}

async function benchCapture(flows: number, tcpdump: string | null): Promise<void> {
  const file = `${dir}/bench-${flows}.pcap`;
  const out = await Deno.open(file, { write: true, create: true, truncate: true });
  const t0 = performance.now();
  const g = await generate(out, { ...GEN_DEFAULTS, packets, flows, dnsPercent, httpPercent });
  out.close();
  const size = (await Deno.stat(file)).size;
  console.log(
    `\nnetspectra gen: ${g.packets} packets, ${flows} flows${
      dnsPercent === undefined && httpPercent === undefined
        ? ""
        : `, DNS ${dnsPercent ?? "default"} %, HTTP ${httpPercent ?? "default"} %`
    }, ${(size / 1e6).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
  );

  const batch = new PacketBatch();
  const readOnly = async () => {
    const r = await openCapture(file);
    let n = 0;
    for (let k; (k = await r.fill(batch)) > 0;) n += k;
    r.close();
    return n;
  };
  const readDecode = async () => {
    const r = await openCapture(file);
    let n = 0;
    for (let k; (k = await r.fill(batch)) > 0;) {
      decodeBatch(batch);
      n += k;
    }
    r.close();
    return n;
  };
  let table: FlowTable | null = null;
  const readDecodeFlows = async () => {
    const r = await openCapture(file);
    table = new FlowTable(FIVE_TUPLE);
    let n = 0;
    for (let k; (k = await r.fill(batch)) > 0;) {
      decodeBatch(batch);
      table.addBatch(batch);
      n += k;
    }
    r.close();
    return n;
  };

  // What `analyze` runs: windows, the 5-tuple task, the flow lifecycle and the DuckDB file,
  // with the time spent in the store's calls (appends, and waits for commits left running).
  let storeMs = 0;
  let lastIngest = { windows: 0, records: 0, rows: 0 };
  const ingestWith = (sketches: SketchSpec[], app = true, helper = HELPER_NONE) => async () => {
    const db = `${dir}/bench.duckdb`;
    for (const f of [db, `${db}.wal`]) await Deno.remove(f).catch(() => {});
    const store = await Store.open(db);
    const timed = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => async (...a: A) => {
      const t0 = performance.now();
      const r = await fn(...a);
      storeMs += performance.now() - t0;
      return r;
    };
    store.beginSource = timed(store.beginSource.bind(store));
    store.writeWindow = timed(store.writeWindow.bind(store));
    store.finishSource = timed(store.finishSource.bind(store));
    storeMs = 0;
    try {
      const run = await ingestFiles({
        files: [file],
        store,
        sketches,
        app,
        helper,
      });
      const [n] = await store.rows(
        "SELECT (SELECT count(*) FROM flow_records) AS recs, (SELECT count(*) FROM window_flows) AS rows",
      );
      lastIngest = { windows: run.windows, records: Number(n!.recs), rows: Number(n!.rows) };
      return run.packets;
    } finally {
      await store.close();
    }
  };

  if (tcpdump !== null) {
    await timeStage("tcpdump -nn -r FILE -w /dev/null", async () => {
      const { success } = await new Deno.Command(tcpdump, {
        args: ["-nn", "-r", file, "-w", "/dev/null"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (!success) throw new Error("tcpdump failed");
      return packets;
    });
  } else console.log("tcpdump: could not be installed, comparison skipped");
  await timeStage("read (pcap records into batches)", readOnly);
  await timeStage("read + decode", readDecode);
  await timeStage("read + decode + exact 5-tuple flows", readDecodeFlows);
  await timeStage("pipeline: + windows, flow lifecycle, DuckDB", ingestWith([], false));
  const ingestSec = await timeStage("pipeline + DNS and HTTP per window", ingestWith([]));
  console.log(
    `  DuckDB's share (last run): ${(storeMs / 1000).toFixed(2)} s of ${ingestSec.toFixed(2)} s ` +
      `best (${lastIngest.windows} window(s), ${lastIngest.rows} window_flows rows, ` +
      `${lastIngest.records} flow records)`,
  );
  await timeStage("pipeline + DNS/HTTP + default sketch tasks", ingestWith(defaultSketches()));
  await timeStage(
    "same on two threads (what analyze runs)",
    ingestWith(defaultSketches(), true, HELPER_DEFAULT),
  );
  await sketchCost(file);
  await appCost(file);
  const main = new URL("../main.ts", import.meta.url).pathname;
  const cwd = await Deno.makeTempDir({ dir, prefix: "cli-" });
  await timeStage("netspectra analyze FILE (whole CLI process, sketches on)", async () => {
    await Deno.remove(`${cwd}/netspectra.duckdb`).catch(() => {});
    const { success } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-ffi",
        main,
        "analyze",
        "--no-progress",
        file,
      ],
      cwd,
      stdout: "null",
      stderr: "inherit",
    }).output();
    if (!success) throw new Error("netspectra analyze failed");
    return packets;
  });
  const t = table as FlowTable | null;
  if (t !== null) {
    console.log(
      `flow table: ${t.size} flows, ${(t.allocatedBytes / 1e6).toFixed(1)} MB allocated, ` +
        `${(t.allocatedBytes / t.size).toFixed(0)} B per flow`,
    );
  }
  await Deno.remove(file);
}

/**
 * ns per packet of `work` on each decoded batch of the capture, timed around `work` only:
 * best of passes 2..5 (the first warms the JIT); `reset` runs between passes.
 */
async function perPacketNs(
  file: string,
  work: (batch: PacketBatch, n: number) => void,
  reset: () => void,
): Promise<number> {
  const batch = new PacketBatch();
  let ns = Infinity;
  for (let pass = 0; pass < 5; pass++) {
    const r = await openCapture(file);
    let n = 0, ms = 0;
    for (let k; (k = await r.fill(batch)) > 0;) {
      decodeBatch(batch);
      const t0 = performance.now();
      work(batch, k);
      ms += performance.now() - t0;
      n += k;
    }
    r.close();
    reset();
    if (pass > 0) ns = Math.min(ns, (ms * 1e6) / n);
  }
  return ns;
}

function bankNs(file: string, specs: SketchSpec[]): Promise<number> {
  const bank = new SketchBank(specs, new PacketBatch().capacity);
  return perPacketNs(file, (b, k) => bank.addRange(b, 0, k), () => bank.clear());
}

function line(label: string, ns: number): string {
  return `${label.padEnd(44)} ${ns.toFixed(1).padStart(6)} ns/pkt (one core, best of passes 2-5)`;
}

/** The sketch micro-benchmark: default tasks together, then each alone. */
async function sketchCost(file: string): Promise<void> {
  const specs = defaultSketches();
  console.log(line("default sketch tasks alone (micro-benchmark)", await bankNs(file, specs)));
  for (const s of specs) {
    console.log(
      `  ${s.name.padEnd(42)} ${(await bankNs(file, [s])).toFixed(1).padStart(6)} ns/pkt`,
    );
  }
}

/** The DNS/HTTP app layer alone on each decoded batch. */
async function appCost(file: string): Promise<void> {
  const app = new AppLayer();
  const ns = await perPacketNs(file, (b, k) => app.addRange(b, 0, k), () => app.clear());
  console.log(line("DNS/HTTP app layer alone (micro-benchmark)", ns));
}
