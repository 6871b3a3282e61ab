/**
 * In-memory analysis: capture files → decoded batches → totals and one exact flow table, with
 * no windows and no store. `netspectra analyze` does not use it (it ingests into the store and
 * reports from there, collector/ingest.ts); it stays as the library path for embedding and as
 * the independent reference the tests check the store's report against.
 *
 * @module
 */

import { BATCH_PACKETS_DEFAULT, PacketBatch } from "./batch.ts";
import { decodeBatch } from "./decode/mod.ts";
import { FLOWS_MAX_DEFAULT, FlowTable } from "./flow_table.ts";
import { FIVE_TUPLE, type KeyField } from "./key_fields.ts";
import { openCapture } from "./reader/mod.ts";
import { Totals } from "./totals.ts";

export interface AnalyzeOptions {
  files: readonly string[];
  groupBy?: readonly KeyField[];
  flowsMax?: number;
  batchPackets?: number;
  /** Called about every batch with bytes read and total of the current file. */
  onProgress?: (file: string, read: number, total: number) => void;
}

export interface FileSummary {
  name: string;
  format: string;
  linkTypes: number[];
  records: number;
  warnings: string[];
}

export interface AnalyzeResult {
  files: FileSummary[];
  groupBy: readonly KeyField[];
  totals: Totals;
  flows: FlowTable;
  warnings: string[];
}

/**
 * Runs the pipeline over every file in order. Throws PcapFormatError (one clear message) for
 * a file that is not a capture; a file cut short is read to its last whole record and
 * reported in `warnings`.
 */
export async function analyzeFiles(opts: AnalyzeOptions): Promise<AnalyzeResult> {
  if (opts.files.length === 0) throw new TypeError("No input files given");
  const groupBy = opts.groupBy ?? FIVE_TUPLE;
  const batch = new PacketBatch(opts.batchPackets ?? BATCH_PACKETS_DEFAULT);
  const totals = new Totals();
  const flows = new FlowTable(groupBy, opts.flowsMax ?? FLOWS_MAX_DEFAULT);
  const files: FileSummary[] = [];
  const warnings: string[] = [];
  for (const file of opts.files) {
    const reader = await openCapture(file);
    try {
      while (await reader.fill(batch) > 0) {
        decodeBatch(batch);
        totals.addBatch(batch);
        flows.addBatch(batch);
        opts.onProgress?.(file, reader.rawBytesRead, reader.rawBytesTotal);
      }
    } finally {
      reader.close();
    }
    files.push({
      name: file,
      format: reader.format,
      linkTypes: [...reader.linkTypes],
      records: reader.records,
      warnings: reader.warnings,
    });
    warnings.push(...reader.warnings);
  }
  return { files, groupBy, totals, flows, warnings };
}
