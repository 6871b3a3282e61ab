/**
 * The YAML configuration: tasks (exact and sketch), window, flow timeouts, store and
 * retention, checked at start with every problem reported at once.
 *
 * @module
 */

export {
  type ApiToken,
  type Config,
  ConfigError,
  loadConfig,
  LOG_LEVELS,
  type LogLevel,
  SINK_BATCH_DEFAULTS,
  type SinkConfig,
  type SinkTable,
  type SourceConfig,
} from "./config.ts";
export { BATCH_ROWS_MAX, SINK_TABLES } from "./schema.ts";
export { listenAddress, seconds as parseSeconds } from "./_config_values.ts";
