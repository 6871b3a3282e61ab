/**
 * End-to-end benchmark: generates a synthetic capture with `netspectra gen` into a temp
 * folder, then measures packets/s of each stage on one core and compares with
 * `tcpdump -nn -r FILE -w /dev/null` in the same run.
 *
 *   deno task bench [--packets 2M] [--flows 200k] [--runs 3]
 *
 * @module
 */

import { analyzeFiles } from "../collector/analyze.ts";
import { PacketBatch } from "../collector/batch.ts";
import { decodeBatch } from "../collector/decode/mod.ts";
import { FlowTable } from "../collector/flow_table.ts";
import { GEN_DEFAULTS, generate } from "../collector/gen/gen.ts";
import { FIVE_TUPLE } from "../collector/key_fields.ts";
import { openCapture } from "../collector/reader/mod.ts";
import { toTable } from "../collector/report_table.ts";
import { summaryOf } from "../collector/summary.ts";
import { ingestFiles } from "../collector/ingest.ts";
import { Store } from "../storage/mod.ts";
import { parseArgs, parseCount } from "../cli/args.ts";

const args = parseArgs(Deno.args, { values: ["packets", "flows", "runs"], booleans: [] }, "bench");
const packets = parseCount("packets", args.values.get("packets") ?? "2M", 1000, 1e9);
const flows = parseCount("flows", args.values.get("flows") ?? "200k", 1, 1 << 24);
const runs = parseCount("runs", args.values.get("runs") ?? "3", 1, 20);

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
const file = `${dir}/bench.pcap`;
try {
  const out = await Deno.open(file, { write: true, create: true, truncate: true });
  const t0 = performance.now();
  const g = await generate(out, { ...GEN_DEFAULTS, packets, flows });
  out.close();
  const size = (await Deno.stat(file)).size;
  console.log(
    `netspectra gen: ${g.packets} packets, ${flows} flows, ${(size / 1e6).toFixed(0)} MB in ${
      ((performance.now() - t0) / 1000).toFixed(2)
    } s`,
  );
  console.log(
    `machine: ${Deno.build.os} ${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}`,
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
  const analyze = async () => {
    const res = await analyzeFiles({ files: [file] });
    toTable(res, summaryOf(res, 10));
    return res.totals.frames;
  };

  // Issue 4 work in progress: the same packets through the window engine, flow lifecycle and
  // a DuckDB file (not yet what `analyze` runs), with the store's share of the time.
  let storeMs = 0;
  let lastIngest = { windows: 0, records: 0 };
  const ingest = async () => {
    const db = `${dir}/bench.duckdb`;
    for (const f of [db, `${db}.wal`]) await Deno.remove(f).catch(() => {});
    const store = await Store.open(db);
    const timed = <A extends unknown[]>(fn: (...a: A) => Promise<void>) => async (...a: A) => {
      const t0 = performance.now();
      await fn(...a);
      storeMs += performance.now() - t0;
    };
    store.writeWindow = timed(store.writeWindow.bind(store));
    store.writeFlowRecords = timed(store.writeFlowRecords.bind(store));
    storeMs = 0;
    try {
      const run = await ingestFiles({ files: [file], store, sourceId: "bench" });
      const recs = await store.rows("SELECT count(*) AS n FROM flow_records");
      lastIngest = { windows: run.windows, records: Number(recs[0]!.n) };
      return run.packets;
    } finally {
      await store.close();
    }
  };

  const tcpdump = await ensureTcpdump();
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
  await timeStage("analyze (+ totals, table report)", analyze);
  const ingestSec = await timeStage("ingest: windows + flow lifecycle + DuckDB file", ingest);
  console.log(
    `  of which DuckDB writes (last run): ${(storeMs / 1000).toFixed(2)} s of ${
      ingestSec.toFixed(2)
    } s best ` +
      `(${lastIngest.windows} window(s), ${lastIngest.records} flow records)`,
  );
  const main = new URL("../main.ts", import.meta.url).pathname;
  await timeStage("netspectra analyze FILE (whole CLI process)", async () => {
    const { success } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", main, "analyze", "--no-progress", file],
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
} finally {
  await Deno.remove(dir, { recursive: true });
}
