/**
 * `netspectra analyze FILE… [--group-by F] [--format table|csv|json] [--limit N] [--db FILE]`
 *
 * One path: the packets go through the engine into the store (`./netspectra.duckdb` unless
 * told otherwise) and the report is read back from it.
 *
 * @module
 */

import { type Config, loadConfig, type SinkConfig } from "../collector/config/mod.ts";
import type { TaskSpec } from "../collector/engine/mod.ts";
import { defaultTask, WINDOW_SEC_DEFAULT } from "../collector/ingest/mod.ts";
import { flowsMaxFor, TABLE_MEMORY_DEFAULT } from "../collector/engine/mod.ts";
import { FIVE_TUPLE, parseKeyFields } from "../collector/packet/mod.ts";
import { CsvWriter, REPORT_FORMATS, type ReportFormat, toJsonDoc } from "./report/mod.ts";
import type { IngestRun } from "../collector/ingest/mod.ts";
import type { FlowSink } from "../storage/mod.ts";
import { BufferedStdout, toTable } from "./report/mod.ts";
import { defaultSketches } from "../collector/engine/mod.ts";
import { parseArgs, parseCount, parseDuration, UsageError } from "./args.ts";
import {
  DB_DEFAULT,
  DB_WAIT_SEC_DEFAULT,
  retentionOf,
  STORE_FLAGS,
  storeFlags,
} from "./store_flags.ts";
import { ProgressBar } from "./progress.ts";

export { DB_DEFAULT, DB_WAIT_SEC_DEFAULT } from "./store_flags.ts";

export const ANALYZE_USAGE = `netspectra analyze FILE... [options]
  FILE               pcap or pcapng, plain or gzip; "-" reads standard input
  --group-by FIELDS  key fields: src_ip,dst_ip,proto,src_port,dst_port,vlan (default: 5-tuple)
  --format FMT       table (default), csv or json
  --limit N          rows to show (table default 10; csv/json default: all)
  --memory BYTES     memory the exact tables may grow to (default 1G): sets the keys kept per window
  --flows-max N      distinct keys kept per window at most (default: what --memory holds, ${
  flowsMaxFor(TABLE_MEMORY_DEFAULT, 1)
} for one task); packets of keys beyond are counted in an "other" row
  --no-progress      never draw the progress bar
  --db FILE          the DuckDB store the results go to (default ./${DB_DEFAULT}; ":memory:" keeps
                     nothing): windows of packet time, bidirectional flow records; query it with netspectra sql
  --window DUR       window length, e.g. 10s, 5m (default ${WINDOW_SEC_DEFAULT}s)
  --lateness DUR     how long after its end a window still takes packets (default 2s, at most
                     7 windows); later ones are stored as late parts of their window
  --sensor NAME      the sensor id every stored window carries (default: the host name)
  --db-wait DUR      wait this long for another process to release the store (default ${DB_WAIT_SEC_DEFAULT}s)
  --config FILE      YAML configuration (configs/netspectra.yaml): tasks, window, flow timeouts, store,
                     retention; flags win
  --task NAME        with several tasks: the one the report shows (default: the first)
  --retain DUR       after the run drop windows older than this before the newest (e.g. 7d)
  --retain-bytes N   after the run drop the oldest windows until the store's used space fits N bytes
  --no-records       no bidirectional connection records (flow_records): the exact tables alone,
                     about half the memory per key
  --no-sketches      skip the sketch tasks (default: heavy hitters, distinct counts, super-spreaders,
                     port scanners; the config's tasks list replaces them)
  --serve            then serve the store: the API and the dashboard, as netspectra serve does,
                     until Ctrl-C (--listen ADDR, default 127.0.0.1:9470)
  --forward NAME     forward the windows to the config's sink NAME (several: a,b), exactly once,
                     and wait until they are there; exit 1 if a sink takes nothing for
                     --forward-wait (default 30s): the rest waits in the store's outbox
                     (netspectra export retry sends it)`;

const TABLE_LIMIT_DEFAULT = 10;

export async function analyzeCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, {
    values: [
      ...STORE_FLAGS,
      "group-by",
      "format",
      "limit",
      "flows-max",
      "memory",
      "config",
      "task",
      "retain",
      "retain-bytes",
      "listen",
      "forward",
      "forward-wait",
    ],
    booleans: ["no-progress", "no-sketches", "no-records", "serve"],
  }, "analyze");
  if (args.positionals.length === 0) throw new UsageError("analyze: no input files given");
  const format = (args.values.get("format") ?? "table") as ReportFormat;
  if (!REPORT_FORMATS.includes(format)) {
    throw new UsageError(`analyze: --format must be one of ${REPORT_FORMATS.join(", ")}`);
  }
  const groupByText = args.values.get("group-by");
  const groupBy = groupByText === undefined ? FIVE_TUPLE : parseKeyFields(groupByText);
  const limitText = args.values.get("limit");
  const limit = limitText === undefined ? undefined : parseCount("limit", limitText, 0, 1e9);
  const flowsMaxText = args.values.get("flows-max");
  const memoryText = args.values.get("memory");
  const memoryBytes = memoryText === undefined
    ? TABLE_MEMORY_DEFAULT
    : parseCount("memory", memoryText, 1 << 20, 2 ** 40);

  const configPath = args.values.get("config");
  const cfg = configPath === undefined ? null : await loadConfig(configPath);
  const { dbPath, windowSec, latenessSec, sensor, waitSec } = storeFlags(args, cfg, "analyze");
  const tasks: TaskSpec[] = cfg === null
    ? [{ ...defaultTask(groupBy), flowsMax: flowsMaxFor(memoryBytes, 1) }]
    : cfg.tasks.map((t, k) => k === 0 && groupByText !== undefined ? { ...t, key: groupBy } : t);
  const sketches = args.booleans.has("no-sketches")
    ? []
    : cfg === null
    ? defaultSketches()
    : cfg.sketches;
  // An explicit --flows-max wins; else the config's per-task limit; else the memory budget.
  if (flowsMaxText !== undefined) {
    const n = parseCount("flows-max", flowsMaxText, 1, 1 << 26);
    for (const t of tasks) t.flowsMax = n;
  } else if (memoryText !== undefined || cfg === null) {
    const n = flowsMaxFor(memoryBytes, tasks.length);
    for (const t of tasks) t.flowsMax = n;
  }
  const taskName = args.values.get("task") ?? tasks[0]!.name;
  const reportTask = tasks.find((t) => t.name === taskName);
  if (reportTask === undefined) {
    throw new UsageError(
      `analyze: no task "${taskName}" (tasks: ${tasks.map((t) => t.name).join(", ")})`,
    );
  }
  const retention = retentionOf(args, cfg);
  const forward = forwardSinks(args.values.get("forward"), cfg);
  const serveAfter = args.booleans.has("serve");
  if (serveAfter && dbPath === ":memory:") {
    throw new UsageError("analyze: --serve needs a store file (--db FILE), not :memory:");
  }
  if (!serveAfter && args.values.has("listen")) {
    throw new UsageError("analyze: --listen goes with --serve");
  }

  let totalBytes = 0;
  for (const f of args.positionals) {
    if (f === "-") continue;
    try {
      totalBytes += (await Deno.stat(f)).size;
    } catch {
      // reported properly when the file is opened
    }
  }
  const bar = args.booleans.has("no-progress")
    ? new ProgressBar(false)
    : ProgressBar.forStderr(totalBytes);
  const onProgress = (file: string, read: number, total: number) => bar.update(file, read, total);
  const reportLimit = format === "table" ? limit ?? TABLE_LIMIT_DEFAULT : limit;
  // Loaded here, not at start: other commands (gen, help) do without DuckDB's native module.
  const { analyzeIntoStore } = await import("./analyze_store.ts");
  const out = new StreamedReport(format);
  const { run, summary, forwarded } = await analyzeIntoStore(
    args.positionals,
    dbPath,
    waitSec,
    {
      windowSec,
      latenessSec,
      sensor,
      tasks,
      sketches,
      reportTask,
      // Connection records cost the flow lifecycle's memory per key; --no-records spares it.
      flows: args.booleans.has("no-records") || cfg?.records === false ? false : cfg?.flows,
      retention,
      onProgress,
      forward,
      forwardWaitSec: parseDuration(
        "forward-wait",
        args.values.get("forward-wait") ?? "30s",
        1,
        86400,
      ),
    },
    {
      limit: reportLimit,
      sinkFor: format === "table" ? undefined : (run) => out.sink(run, () => bar.done()),
      // Each part is a query over every key: only what the format shows.
      talkers: format === "table",
      flowCount: format !== "csv",
      details: format !== "csv",
    },
  );
  bar.done();
  if (format === "table") await out.write(toTable(run, summary));
  await out.end();
  if (format !== "table") { for (const w of run.warnings) console.error(`warning: ${w}`); }
  if (!forwarded) return 1;
  if (serveAfter) {
    const { serveStore } = await import("./serve_cmd.ts");
    return await serveStore({ dbPath, listenText: args.values.get("listen"), cfg, waitSec });
  }
  return 0;
}

/** `--forward NAME[,NAME…]`: sinks of the config, by name. */
function forwardSinks(text: string | undefined, cfg: Config | null): SinkConfig[] | undefined {
  if (text === undefined) return undefined;
  const have = cfg?.sinks ?? [];
  return text.split(",").map((name) => {
    const s = have.find((x) => x.name === name.trim());
    if (s === undefined) {
      throw new UsageError(
        `analyze: --forward ${name}: no such sink in the config (${
          have.length === 0 ? "give --config with sinks:" : have.map((x) => x.name).join(", ")
        })`,
      );
    }
    return s;
  });
}

/** Marks where the flows go in the JSON document while the rest is written around them. */
const FLOWS_MARK = "__netspectra_flows__";

/**
 * The csv and json reports, written as the store gives the flow rows: never the whole report
 * as one string (a million keys would make a string too long for JavaScript). csv goes out as
 * bytes made cell by cell (csv_writer.ts).
 */
class StreamedReport extends BufferedStdout {
  private first = true;
  private tail = "";
  private csv: CsvWriter | null = null;
  constructor(private readonly format: ReportFormat) {
    super();
  }

  sink(run: IngestRun, beforeFirst: () => void): FlowSink {
    return {
      begin: async (s) => {
        beforeFirst();
        if (this.format === "csv") {
          this.csv = new CsvWriter(Deno.stdout, s.groupBy);
          return;
        }
        const doc = toJsonDoc(run, s);
        doc.flows = FLOWS_MARK;
        const text = JSON.stringify(doc, null, 1);
        const at = text.indexOf(`"${FLOWS_MARK}"`);
        await this.write(text.slice(0, at) + "[");
        this.tail = text.slice(at + FLOWS_MARK.length + 2) + "\n";
      },
      rows: async (rows) => {
        if (this.csv !== null) return await this.csv.rows(rows);
        // One piece per chunk of rows (about 2,048), not one write call per row.
        let text = "";
        for (const r of rows.rows()) {
          text += (this.first ? "\n  " : ",\n  ") + JSON.stringify(r);
          this.first = false;
        }
        await this.write(text);
      },
    };
  }

  async end(): Promise<void> {
    if (this.format === "json") await this.write((this.first ? "]" : "\n ]") + this.tail);
    await this.csv?.flush();
    await this.flush();
  }
}
