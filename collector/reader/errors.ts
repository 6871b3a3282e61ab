/**
 * Errors about capture files as a whole (not about packets, which are never thrown about).
 *
 * @module
 */

import { UserError } from "../user_error.ts";

/** The file is not a capture we can read, or its header is damaged. Carries the offset. */
export class PcapFormatError extends UserError {
  constructor(message: string, readonly byteOffset: number) {
    super(message);
    this.name = "PcapFormatError";
  }
}
