/**
 * The collector engine's figures (issue 12), each next to `tcpdump -r` on the same capture in
 * the same run (this VM's speed moves 2–3× between days):
 *
 * - the whole `analyze` process on a 2M-packet, 200k-flow capture: table report vs `--format
 *   csv` (best of --runs, alternated);
 * - memory per extra flow: peak RSS of `analyze` (table, csv, and without connection records)
 *   on two 5M-packet captures with 200k and 1.1M flows (median of --runs runs), divided by the
 *   difference in distinct 5-tuples stored;
 * - intake's stall at a window change with about a million flows per window (in process: the
 *   engine's longest close, and the longest batch from read to counted);
 * - a 24-hour capture (2M packets at 23 packets/s, ~1,450 windows): the whole process, and the
 *   store's cost per window.
 *
 *   deno task bench            (runs bench/pipeline.ts, then this)
 *   deno run -A bench/collector.ts [--runs 3] [--skip-memory]
 *
 * @module
 */

import { parseArgs, parseCount } from "../cli/args.ts";
import { ingestFiles, type IngestRun } from "../collector/ingest/ingest.ts";
import { defaultSketches } from "../collector/engine/sketch_bank.ts";
import { Store } from "../storage/mod.ts";

const args = parseArgs(Deno.args, { values: ["runs"], booleans: ["skip-memory"] }, "bench");
const runs = parseCount("runs", args.values.get("runs") ?? "3", 1, 20);
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const dir = await Deno.makeTempDir({ prefix: "netspectra-bench-" });

async function sh(cmd: string, argv: string[]): Promise<{ ok: boolean; stderr: string }> {
  const out = await new Deno.Command(cmd, { args: argv, stdout: "null", stderr: "piped" })
    .output();
  return { ok: out.success, stderr: new TextDecoder().decode(out.stderr) };
}

async function gen(name: string, argv: string[]): Promise<string> {
  const file = `${dir}/${name}.pcap`;
  const r = await sh(Deno.execPath(), ["run", "-A", MAIN, "gen", ...argv, "-o", file]);
  if (!r.ok) throw new Error(`gen failed: ${r.stderr}`);
  return file;
}

/** Wall seconds and peak RSS (MB) of one `analyze` process, through /usr/bin/time. */
async function analyzeProcess(file: string, extra: string[] = []): Promise<[number, number]> {
  const db = `${dir}/b.duckdb`;
  for (const f of [db, `${db}.wal`]) await Deno.remove(f).catch(() => {});
  const timeFile = `${dir}/time.txt`;
  const argv = ["-o", timeFile, "-f", "%e %M", Deno.execPath(), "run", "-A", MAIN, "analyze"];
  const r = await sh("/usr/bin/time", [...argv, "--no-progress", "--db", db, ...extra, file]);
  if (!r.ok) throw new Error(`analyze failed: ${r.stderr}`);
  const [sec, kb] = (await Deno.readTextFile(timeFile)).trim().split(/\s+/).map(Number);
  return [sec!, kb! / 1024];
}

async function tcpdumpSec(file: string): Promise<number | null> {
  const t0 = performance.now();
  const r = await sh("tcpdump", ["-nn", "-r", file, "-w", "/dev/null"]).catch(() => null);
  return r?.ok ? (performance.now() - t0) / 1000 : null;
}

async function distinctKeys(file: string): Promise<number> {
  const store = await Store.open(":memory:");
  try {
    await ingestFiles({ files: [file], store, app: false });
    const [r] = await store.rows(
      "SELECT sum(keys) AS k FROM window_tasks WHERE task_no = 0",
    );
    return Number(r!.k);
  } finally {
    await store.close();
  }
}

const f = (n: number, d = 2) => n.toFixed(d);
console.log(`# collector bench, ${new Date().toISOString()}`);

// 1. The whole process: table vs csv, 2M packets, 200k flows.
const b200 = await gen("b200k", ["--packets", "2M", "--flows", "200k"]);
const ref = await tcpdumpSec(b200);
const table: number[] = [], csv: number[] = [];
for (let r = 0; r < runs; r++) {
  table.push((await analyzeProcess(b200))[0]);
  csv.push((await analyzeProcess(b200, ["--format", "csv"]))[0]);
}
const bt = Math.min(...table), bc = Math.min(...csv);
console.log(
  `analyze 2M pkts / 200k flows: table ${f(bt)} s (${f(2 / bt)} M pkt/s), csv ${f(bc)} s ` +
    `(${bc > bt ? "+" : ""}${f((100 * (bc - bt)) / bt, 1)} %); tcpdump -r ${
      ref === null ? "-" : f(ref)
    } s`,
);

/** How intake (main thread) and the helper thread shared a run's work. */
function balance(run: IngestRun): string {
  const w = run.writer;
  return `intake ${f(w.intakeMs, 0)} ms to the last packet, of which waiting for the helper ` +
    `${f(w.helperWaitMs, 0)} ms; helper busy ${f(w.helperBusyMs, 0)} ms`;
}

// 1b. The same capture in process: how the two threads share the work.
{
  const store = await Store.open(`${dir}/bal.duckdb`);
  try {
    const run = await ingestFiles({ files: [b200], store, sketches: defaultSketches() });
    console.log(`balance, 2M pkts / 200k flows: ${balance(run)}`);
  } finally {
    await store.close();
  }
}

// 2. Memory per extra flow.
if (!args.booleans.has("skip-memory")) {
  const small = await gen("m200k", ["--packets", "5M", "--flows", "200k"]);
  const large = await gen("m1100k", ["--packets", "5M", "--flows", "1100k"]);
  const [ks, kl] = [await distinctKeys(small), await distinctKeys(large)];
  // Peak RSS moves by ±50 MB run to run (when the collector frees, how the threads meet):
  // the median of --runs runs of each capture, alternated.
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
  const variants: [string, string[]][] = [
    ["table", []],
    ["csv", ["--format", "csv"]],
    ["table, --no-records", ["--no-records"]],
  ];
  for (const [name, extra] of variants) {
    const rs: number[] = [], rl: number[] = [];
    for (let r = 0; r < runs; r++) {
      rs.push((await analyzeProcess(small, extra))[1]);
      rl.push((await analyzeProcess(large, extra))[1]);
    }
    const [ms, ml] = [median(rs), median(rl)];
    console.log(
      `memory ${name}: peak RSS ${f(ms, 0)} MB (${ks} keys) → ${f(ml, 0)} MB (${kl} keys): ` +
        `${f(((ml - ms) * 1048576) / (kl - ks), 0)} B per extra key (medians of ` +
        `${rs.map((x) => f(x, 0)).join(", ")} and ${rl.map((x) => f(x, 0)).join(", ")} MB)`,
    );
  }
  await Deno.remove(small), await Deno.remove(large);
}

// 3. Intake's stall at window changes, about a million flows a window (10 s windows).
const m3 = await gen("m3", ["--packets", "3M", "--flows", "3M", "--zipf", "0", "--rate", "100000"]);
{
  const store = await Store.open(`${dir}/s.duckdb`);
  try {
    const run = await ingestFiles({
      files: [m3],
      store,
      windowSec: 10,
      sketches: defaultSketches(),
    });
    const [k] = await store.rows("SELECT max(keys) AS k FROM window_tasks WHERE task_no = 0");
    const w = run.writer;
    console.log(
      `stall, ${k!.k} keys in the largest window: longest window close ${f(w.maxCloseMs, 1)} ms ` +
        `(${run.windows} windows); longest batch ${f(w.maxBatchMs, 0)} ms, mean ${
          f(w.meanBatchMs, 1)
        } ms; writer ${f(w.maxWriteMs, 0)} ms per window at most, queue wait ${f(w.waitMs, 0)} ms`,
    );
    console.log(`balance, same run: ${balance(run)}`);
  } finally {
    await store.close();
  }
  await Deno.remove(m3);
}

// 4. A day of packets: 2M at 23 packets/s.
const day = await gen("day", ["--packets", "2M", "--rate", "23"]);
{
  const [sec] = await analyzeProcess(day);
  const store = await Store.open(`${dir}/day.duckdb`);
  try {
    const run = await ingestFiles({ files: [day], store, sketches: defaultSketches() });
    console.log(
      `24 h capture: analyze ${f(sec)} s for ${run.windows} windows; the store ${
        f(run.writer.writeMs / run.writer.windows, 1)
      } ms per window (longest ${f(run.writer.maxWriteMs, 0)} ms)`,
    );
  } finally {
    await store.close();
  }
}
await Deno.remove(dir, { recursive: true });
