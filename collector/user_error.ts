/**
 * Errors that are the user's mistake — a bad flag, file, configuration or query — and not a
 * bug. The CLI prints their message as one line and exits 1 (2 for a usage error); anything
 * else is an internal error, reported with its stack and exit code 70.
 *
 * @module
 */

/** A mistake of the user's: its message is one complete sentence, shown as is. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

/** A wrong command line (flag, value, command): exit code 2. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
