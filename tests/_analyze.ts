/**
 * Test helper for the store path: ingest into an in-memory store, then read the summary.
 *
 * @module
 */

import {
  defaultTask,
  ingestFiles,
  type IngestOptions,
  type IngestRun,
} from "../collector/ingest/ingest.ts";
import { FIVE_TUPLE, type KeyField } from "../collector/packet/key_fields.ts";
import { Store } from "../storage/mod.ts";
import type { Summary } from "../storage/report_types.ts";
import { summarize } from "../storage/summary.ts";

/** ingest → store (":memory:" unless given) → summary. */
export async function ingestToSummary(
  files: string[],
  opts: Partial<Omit<IngestOptions, "store">> & {
    store?: Store;
    groupBy?: readonly KeyField[];
    limit?: number;
  } = {},
): Promise<{ run: IngestRun; summary: Summary }> {
  const store = opts.store ?? await Store.open(":memory:");
  try {
    const key = opts.groupBy ?? FIVE_TUPLE;
    const run = await ingestFiles({
      tasks: [defaultTask(key)],
      ...opts,
      files,
      store,
    });
    const summary = await summarize(store, run.sourceIds, "flows", key, { limit: opts.limit });
    return { run, summary };
  } finally {
    if (opts.store === undefined) await store.close();
  }
}
