/**
 * The window export: the one contract between the engine and everything downstream (the
 * store, later the live stream and the forwarders). See window_export.ts.
 *
 * @module
 */

export {
  addCounts,
  type AppExport,
  type CaptureCounts,
  KEY,
  type KeyColumns,
  type KeyMask,
  NO_CAPTURE,
  RECORD_ROW,
  type RecordRows,
  releaseExport,
  type SketchExport,
  TABLE_ROW,
  type TableRows,
  type TextRows,
  type WindowExport,
} from "./window_export.ts";
export {
  type TaskExport,
  type TotalsExport,
  type WindowId,
  type WindowOutput,
} from "./window_export.ts";
