/**
 * `GET /api/v1/live` (the stream itself is live.ts): `Last-Event-ID` — the header a browser's
 * EventSource sends when it reconnects, or `last_event_id` for clients that cannot set it —
 * resumes after that window.
 *
 * @module
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ApiEnv } from "./_api_env.ts";
import { LIVE_CLIENTS_MAX, type LiveHub } from "./live.ts";
import { problem } from "./_problem.ts";

export type { LiveHub };

export function liveRoute(app: OpenAPIHono<ApiEnv>, hub: LiveHub): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/live",
      request: {
        query: z.object({
          last_event_id: z.string().regex(/^\d{1,15}$/).optional().openapi({
            description: "Resume after this window (as the Last-Event-ID header does)",
          }),
        }),
        headers: z.object({ "last-event-id": z.string().regex(/^\d{1,15}$/).optional() }),
      },
      responses: {
        200: {
          description: "Server-Sent Events: hello, window, tick, status, reset",
          content: { "text/event-stream": { schema: z.string() } },
        },
      },
    }),
    (c) => {
      if (hub.full) {
        return problem(
          c,
          429,
          `${LIVE_CLIENTS_MAX} clients are reading the stream already.`,
        ) as never;
      }
      const last = c.req.valid("header")["last-event-id"] ?? c.req.valid("query").last_event_id;
      const stream = hub.connect(last === undefined ? null : Number(last));
      return new Response(stream, {
        headers: {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-store",
          "x-accel-buffering": "no",
        },
      }) as never;
    },
  );
}
