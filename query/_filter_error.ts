/**
 * A filter that cannot be read or used: the user's mistake, with where in the text it is.
 *
 * @module
 */

import { UserError } from "../collector/user_error.ts";

export class FilterError extends UserError {
  /** The offset in the filter text where it goes wrong (0-based). */
  readonly at: number;
  /** The message without the position, for an API that gives the position on its own. */
  readonly reason: string;

  constructor(reason: string, at: number) {
    super(`Invalid filter at character ${at + 1}: ${reason}.`);
    this.name = "FilterError";
    this.at = at;
    this.reason = reason;
  }
}
