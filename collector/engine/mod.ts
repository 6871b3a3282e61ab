/**
 * The engine: event-time windows closed on a watermark, the exact tables and the flow
 * lifecycle (on a helper thread by default), the sketch tasks, window totals, and the writer
 * queue that takes closed windows to the store. Closed windows leave as exports (../export/).
 *
 * @module
 */

export {
  Engine,
  HELPER_DEFAULT,
  type HelperParts,
  LATENESS_SEC_DEFAULT,
  type TaskSpec,
  WINDOW_SEC_MAX,
} from "./engine.ts";
export { FLOWS_MAX_DEFAULT, flowsMaxFor, TABLE_MEMORY_DEFAULT } from "./flow_table.ts";
export { FLOW_TRACKER_DEFAULTS, type FlowTrackerOptions } from "./flow_tracker.ts";
export {
  defaultSketches,
  laneOfPacket,
  SKETCH_FILTERS,
  SKETCH_KINDS,
  type SketchFilter,
  type SketchSpec,
  sketchSpec,
} from "./sketch_bank.ts";
export {
  type WindowStore,
  WindowWriter,
  WRITE_RETRY_FIRST_MS,
  WRITE_RETRY_MAX_MS,
  type WriteRetry,
} from "./window_writer.ts";
