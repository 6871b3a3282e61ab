/**
 * Ingest: capture files, each a source identified by its content, through the engine
 * into a store (what `analyze` runs); live devices the same way (`run`).
 *
 * @module
 */

export {
  defaultTask,
  type FileSummary,
  ingestFiles,
  type IngestRun,
  WINDOW_SEC_DEFAULT,
} from "./ingest.ts";
export {
  ingestLive,
  type LiveIngestOptions,
  type LiveSourceRun,
  RETRY_FIRST_MS,
  RETRY_MAX_MS,
} from "./live.ts";
export {
  CollectorStatus,
  type DeviceState,
  type DeviceStatus,
  FLUSH_BUCKETS_SEC,
  INSERT_BUCKETS_SEC,
  newSinkStatus,
  observe,
  type SinkStatus,
} from "./status.ts";
