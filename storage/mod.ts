/**
 * The embedded store (DuckDB): schema, writes, retention, source ids. See README.md here.
 *
 * @example
 * ```ts
 * import { Store } from "./mod.ts";
 * const store = await Store.open(":memory:");
 * console.log(await store.schemaVersion()); // 1
 * await store.close();
 * ```
 *
 * @module
 */

export { type OpenOptions, Store, StoreLockedError, StoreOpenError } from "./store.ts";
export { SCHEMA_VERSION } from "./schema.ts";
export type { OutboxEntry, OutboxPayload, PayloadSize, SinkBacklog } from "./_outbox.ts";
export { EXPORT_COLUMNS, type ExportTable, IDENTITY_COLUMNS, tsvText } from "./_export_rows.ts";
export { type QueryHead } from "./query.ts";
export {
  type AppSummary,
  type FlowRow,
  type KeyedRow,
  type RunInfo,
  type SketchesSummary,
  type Summary,
} from "./report_types.ts";
export { type FlowSink, summarize, type SummaryOptions } from "./summary.ts";
export { summarizeSketches } from "./sketch_summary.ts";
export type { Column, FlowColumns, TimeKind } from "./_flow_rows.ts";
export { type QueryTarget, runReadOnlyQuery, streamReadOnlyQuery } from "./query.ts";
