/**
 * The program's version (deno.json's), one place for the CLI and the metrics' build info.
 *
 * @module
 */

export const VERSION = "0.1.0";
