/**
 * Ingest: capture files, each a source identified by its content, through the engine
 * into a store (what `analyze` runs).
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
