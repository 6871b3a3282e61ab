/**
 * Errors as RFC 7807 problem objects (`application/problem+json`): a title, the status, one
 * clear sentence in `detail`, and fields of the problem's own (a filter error's position).
 * A user's mistake is a 4xx with its own words; anything else is a 500 that says it is ours.
 *
 * @module
 */

import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { HTTPException } from "hono/http-exception";
import { UserError } from "../collector/user_error.ts";
import { FilterError } from "../query/mod.ts";

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  413: "Content Too Large",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

export function problem(
  c: Context,
  status: ContentfulStatusCode,
  detail: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Response {
  const body = { type: "about:blank", title: TITLES[status] ?? "Error", status, detail, ...extra };
  return c.body(JSON.stringify(body), status, {
    ...headers,
    "content-type": "application/problem+json",
  });
}

/** An error thrown by a handler, as the problem it is; `log` hears about our own bugs. */
export function problemOf(c: Context, e: unknown, log: (e: unknown) => void): Response {
  if (e instanceof FilterError) {
    return problem(c, 400, e.message, { position: e.at + 1, reason: e.reason });
  }
  if (e instanceof UserError) return problem(c, 400, sentence(e.message));
  // Hono's own refusals (a body that is not JSON): the asker's, with Hono's status.
  if (e instanceof HTTPException && e.status < 500) {
    return problem(c, e.status as ContentfulStatusCode, sentence(e.message));
  }
  log(e);
  return problem(c, 500, "Internal error: the server failed to answer; it has been logged.");
}

/** Zod's issues as one sentence: `"limit" must be …: Too big: expected number to be <=10000.` */
export function validationProblem(
  c: Context,
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
): Response {
  const text = issues.slice(0, 5).map((i) => {
    const where = i.path.length === 0 ? "the request" : `"${i.path.map(String).join(".")}"`;
    return `${where}: ${i.message}`;
  }).join("; ");
  return problem(c, 400, sentence(`Invalid request: ${text}`));
}

function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
