/**
 * `/api/v1/sources`, `/status`, `/flows/records`, `/dns`, `/http` and the admin's `/sql`:
 * what the store holds and the rest of its tables, read over a range.
 *
 * @module
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import {
  FILTER_CHARS_MAX,
  queryDns,
  queryHttp,
  queryRecords,
  querySketches,
  querySources,
  queryStoreStatus,
  RECORDS_LIMIT_MAX,
} from "../query/mod.ts";
import type { ApiDeps, ApiEnv, Questions } from "./_api_env.ts";
import { runSql, SQL_ROWS_MAX, SQL_TIMEOUT_MS_MAX } from "./sql.ts";

const anything = z.record(z.string(), z.unknown());
const json = (description: string, schema: z.ZodType = anything) => ({
  200: { description, content: { "application/json": { schema } } },
});
const range = {
  from: z.string().max(64).optional().openapi({ example: "-1h" }),
  to: z.string().max(64).optional(),
};
const limit = (d: number, max: number) => z.coerce.number().int().min(1).max(max).default(d);

export function dataRoutes(app: OpenAPIHono<ApiEnv>, q: Questions, deps: ApiDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/sources",
      responses: json("Every source and its windows"),
    }),
    (c) => q.ask(c, async (ctx) => Response.json({ sources: await querySources(ctx) })),
  );
  app.openapi(
    createRoute({ method: "get", path: "/status", responses: json("The store and the collector") }),
    (c) =>
      q.ask(c, async (ctx) =>
        Response.json({
          store: await queryStoreStatus(ctx, deps.storePath),
          collector: collectorStatus(deps),
        })),
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/flows/records",
      request: {
        query: z.object({
          ...range,
          filter: z.string().max(FILTER_CHARS_MAX).optional().openapi({
            example: "close_reason = rst and duration > 1 and ip in 10.0.0.0/8",
          }),
          limit: limit(100, RECORDS_LIMIT_MAX),
          cursor: z.string().max(80).optional(),
        }),
      },
      responses: json("Connection records, newest first, a page at a time"),
    }),
    (c) => q.ask(c, async (ctx) => Response.json(await queryRecords(ctx, c.req.valid("query")))),
  );
  const appQuery = z.object({ ...range, limit: limit(20, 1000) });
  app.openapi(
    createRoute({
      method: "get",
      path: "/dns",
      request: { query: appQuery },
      responses: json("DNS names and response codes"),
    }),
    (c) => q.ask(c, async (ctx) => Response.json(await queryDns(ctx, c.req.valid("query")))),
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/http",
      request: { query: appQuery },
      responses: json("HTTP hosts, requests, status codes, User-Agents"),
    }),
    (c) => q.ask(c, async (ctx) => Response.json(await queryHttp(ctx, c.req.valid("query")))),
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/sketches",
      request: { query: z.object({ ...range, limit: limit(20, 1000) }) },
      responses: json(
        "Heavy hitters, distinct counts with their error, spreaders and scanners, merged over the range",
      ),
    }),
    (c) =>
      q.ask(
        c,
        async (ctx) => Response.json(await querySketches(ctx, deps.store, c.req.valid("query"))),
      ),
  );
  app.openapi(
    createRoute({
      method: "post",
      path: "/sql",
      request: {
        body: {
          content: {
            "application/json": {
              schema: z.object({
                sql: z.string().max(64 * 1024),
                max_rows: z.number().int().min(1).max(SQL_ROWS_MAX).default(10_000),
                timeout_ms: z.number().int().min(1).max(SQL_TIMEOUT_MS_MAX).default(30_000),
              }),
            },
          },
          required: true,
        },
      },
      responses: json("Read-only SQL (admin scope): one SELECT, sandboxed"),
    }),
    (c) =>
      q.ask(c, async (ctx) => {
        const b = c.req.valid("json");
        return Response.json(await runSql(ctx.con, b.sql, b.max_rows, b.timeout_ms));
      }),
  );
}

function collectorStatus(deps: ApiDeps): unknown {
  const s = deps.status;
  if (s === null) return null;
  return {
    ready: s.notReady() === null,
    not_ready: s.notReady(),
    window_sec: s.windowSec,
    uptime_sec: Math.round((Date.now() - s.startedMs) / 1000),
    windows_stored: s.windowsStored,
    packets: s.packets,
    bytes: s.bytes,
    late_packets: s.latePackets,
    store_error: s.storeError,
    queued_windows: s.queuedWindows(),
    devices: [...s.devices.values()].map((d) => ({
      device: d.device,
      source_id: d.sourceId,
      state: d.state,
      error: d.error,
      received: d.capture.received,
      dropped: d.capture.dropped,
      skipped: d.capture.skipped,
      if_dropped: d.capture.ifDropped,
      packets: d.packets,
      flows_active: d.flowsActive,
      reopens: d.reopens,
    })),
  };
}
