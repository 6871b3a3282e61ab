/**
 * The reports of `netspectra analyze`: the table for a person, CSV and JSON for programs —
 * presentation only, over the summary the store reads back (storage/summary.ts).
 *
 * @module
 */

export {
  csvHeader,
  csvLine,
  protoName,
  REPORT_FORMATS,
  type ReportFormat,
  toJsonDoc,
} from "./report.ts";
export { toTable } from "./table.ts";
export { CsvWriter } from "./csv_writer.ts";
export { alignRows } from "./print_table.ts";
export { BufferedStdout, writeAll } from "./stdout.ts";
