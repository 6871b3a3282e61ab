/**
 * `netspectra analyze FILE… [--group-by F] [--format table|csv|json] [--limit N]`
 *
 * @module
 */

import { analyzeFiles } from "../collector/analyze.ts";
import { FLOWS_MAX_DEFAULT } from "../collector/flow_table.ts";
import { FIVE_TUPLE, parseKeyFields } from "../collector/key_fields.ts";
import {
  flowRows,
  REPORT_FORMATS,
  type ReportFormat,
  toCsv,
  toJsonDoc,
} from "../collector/report.ts";
import { toTable } from "../collector/report_table.ts";
import { parseArgs, parseCount, UsageError } from "./args.ts";
import { ProgressBar } from "./progress.ts";

export const ANALYZE_USAGE = `netspectra analyze FILE... [options]
  FILE               pcap or pcapng, plain or gzip; "-" reads standard input
  --group-by FIELDS  key fields: src_ip,dst_ip,proto,src_port,dst_port,vlan (default: 5-tuple)
  --format FMT       table (default), csv or json
  --limit N          rows to show (table default 10; csv/json default: all)
  --flows-max N      distinct keys kept at most (default ${FLOWS_MAX_DEFAULT}); more are counted as overflow
  --no-progress      never draw the progress bar`;

const TABLE_LIMIT_DEFAULT = 10;

export async function analyzeCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, {
    values: ["group-by", "format", "limit", "flows-max"],
    booleans: ["no-progress"],
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
  const flowsMax = flowsMaxText === undefined
    ? FLOWS_MAX_DEFAULT
    : parseCount("flows-max", flowsMaxText, 1, 1 << 26);

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
  const res = await analyzeFiles({
    files: args.positionals,
    groupBy,
    flowsMax,
    onProgress: (file, read, total) => bar.update(file, read, total),
  });
  bar.done();
  let text: string;
  if (format === "csv") text = toCsv(flowRows(res.flows, groupBy, limit), groupBy);
  else if (format === "json") {
    text = JSON.stringify(toJsonDoc(res, flowRows(res.flows, groupBy, limit)), null, 1) + "\n";
  } else text = toTable(res, limit ?? TABLE_LIMIT_DEFAULT);
  await writeAll(Deno.stdout, new TextEncoder().encode(text));
  if (format !== "table") { for (const w of res.warnings) console.error(`warning: ${w}`); }
  return 0;
}

export async function writeAll(w: { write(p: Uint8Array): Promise<number> }, data: Uint8Array) {
  let off = 0;
  while (off < data.length) off += await w.write(data.subarray(off));
}
