/**
 * The YAML configuration: tasks (exact and sketch), window, flow timeouts, store and
 * retention, checked at start with every problem reported at once.
 *
 * @module
 */

export { type Config, loadConfig } from "./config.ts";
export { seconds as parseSeconds } from "./_config_values.ts";
