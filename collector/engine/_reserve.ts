/**
 * Record arrays reserved at their limits (tables, tracker, ended flows): allocated once,
 * zeroed by the kernel, which gives the pages as records are first written.
 *
 * @module
 */

import { UserError } from "../user_error.ts";

/**
 * A zeroed Int32Array of `words` words. A reservation the system refuses comes from the
 * limits the user set (or their defaults on a small machine), so it is said in one line.
 */
export function reserveWords(words: number, what: string): Int32Array<ArrayBuffer> {
  try {
    return new Int32Array(words);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    const mib = Math.ceil((words * 4) / 1048576);
    throw new UserError(
      `Cannot reserve ${mib} MiB for ${what}: lower --memory or --flows-max (tasks' flows_max, flows.max in a configuration)`,
    );
  }
}
