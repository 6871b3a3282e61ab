/**
 * Time ranges of API questions: RFC 3339 times, epoch seconds, `now`, and times relative to
 * the newest stored window's end (`-1h`, `-24h`, `-30m`). Relative times count back from the
 * data, not the wall clock: for a running collector that is about now, and for a stored
 * analysis of last year's capture `-1h` is its last hour, not an empty answer.
 *
 * @module
 */

import { parseSeconds } from "../collector/config/mod.ts";
import { UserError } from "../collector/user_error.ts";

/** A range of window starts, in epoch seconds: from ≤ window_start < to. */
export interface TimeRange {
  fromSec: number;
  toSec: number;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$/;
const DAY_ONLY = /^\d{4}-\d{2}-\d{2}$/;
/** No range reaches further than this either side (well past any capture's clock). */
const EPOCH_SEC_MAX = 2 ** 40;

/** A time point: `now`, `-DURATION` back from `anchorSec`, RFC 3339, or epoch seconds. */
export function parseTimePoint(name: string, text: string, anchorSec: number): number {
  const t = text.trim();
  if (t === "now") return anchorSec;
  if (t.startsWith("-")) {
    const back = parseSeconds(t.slice(1));
    if (back !== null) return anchorSec - back;
  } else if (/^\d{1,13}(\.\d+)?$/.test(t) && Number(t) < EPOCH_SEC_MAX) {
    return Number(t);
  } else if (RFC3339.test(t) || DAY_ONLY.test(t)) {
    const ms = Date.parse(DAY_ONLY.test(t) ? `${t}T00:00:00Z` : t.replace(" ", "T"));
    if (Number.isFinite(ms)) return ms / 1000;
  }
  throw new UserError(
    `"${name}" must be a time: RFC 3339 (2026-12-04T09:00:00Z), epoch seconds, now, ` +
      `or back from the newest data (-30m, -1h, -24h), got "${text}"`,
  );
}

/** The range asked: `from` defaults to 24 hours before `to`, `to` to the newest data's end. */
export function resolveRange(
  from: string | undefined,
  to: string | undefined,
  anchorSec: number,
): TimeRange {
  const toSec = to === undefined ? anchorSec : parseTimePoint("to", to, anchorSec);
  const fromSec = from === undefined ? toSec - 86_400 : parseTimePoint("from", from, anchorSec);
  if (fromSec >= toSec) {
    throw new UserError(`"from" must be before "to" (${iso(fromSec)} is not before ${iso(toSec)})`);
  }
  return { fromSec, toSec };
}

export function iso(sec: number): string {
  return new Date(Math.round(sec * 1000)).toISOString().replace(".000Z", "Z");
}
