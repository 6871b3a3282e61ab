/**
 * `/api/v1/query` (GET and POST), `/api/v1/top/{dimension}`, `/api/v1/timeseries` and
 * `/api/v1/filter/validate`: the flow questions (query/flows.ts), their arguments checked by
 * the schemas that also make the OpenAPI document.
 *
 * @module
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import {
  FILTER_CHARS_MAX,
  FLOW_FIELDS,
  type FlowAnswer,
  type FlowQuestion,
  GROUP_FIELDS,
  type GroupField,
  LIMIT_DEFAULT,
  LIMIT_MAX,
  METRICS,
  parseFilter,
  POINTS_MAX,
  type QueryContext,
  queryFlows,
  SERIES_DEFAULT,
  SERIES_MAX,
  type SeriesAnswer,
  timeSeries,
  topFlows,
} from "../query/mod.ts";
import type { ApiEnv, Questions } from "./_api_env.ts";
import { problemOf } from "./_problem.ts";

const KEY_DIMENSIONS = GROUP_FIELDS.filter((g) => g !== "time") as Exclude<GroupField, "time">[];
const GROUP_LIST = new RegExp(`^(${GROUP_FIELDS.join("|")})(,(${GROUP_FIELDS.join("|")}))*$`);

const range = {
  from: z.string().max(64).optional().openapi({
    description: "Start: RFC 3339, epoch seconds, now, or back from the newest data (-1h)",
    example: "-1h",
  }),
  to: z.string().max(64).optional().openapi({ description: "End (default: the newest data)" }),
  filter: z.string().max(FILTER_CHARS_MAX).optional().openapi({
    description: "Filter language, e.g. src_ip in 10.0.0.0/8 and dst_port = 443",
    example: "proto = tcp and dst_port = 443",
  }),
  metric: z.enum(METRICS).default("bytes"),
  task: z.string().max(64).optional().openapi({
    description: "Exact task (default: the first that keeps the fields)",
  }),
};
const limit = (d: number) => z.coerce.number().int().min(1).max(LIMIT_MAX).default(d);

const format = z.enum(["json", "csv", "ndjson"]).default("json").openapi({
  description: "json; or csv / ndjson, the summary then in the x-netspectra-summary header",
});

const QueryArgs = z.object({
  ...range,
  group_by: z.string().regex(GROUP_LIST, `a comma-separated list of ${GROUP_FIELDS.join(", ")}`)
    .optional().openapi({ example: "src_ip,dst_port" }),
  sort: z.string().max(32).optional(),
  order: z.enum(["asc", "desc"]).optional(),
  limit: limit(LIMIT_DEFAULT),
  step: z.string().max(16).optional().openapi({ description: "auto, or 1m, 5m, 1h …" }),
  points: z.coerce.number().int().min(1).max(POINTS_MAX).optional(),
  format,
});
type QueryArgs = z.infer<typeof QueryArgs>;

const Answer = z.object({
  summary: z.record(z.string(), z.unknown()),
  columns: z.array(z.string()).optional(),
  rows: z.array(z.record(z.string(), z.unknown())).optional(),
}).openapi("FlowAnswer");
const json = (schema: z.ZodType, description: string) => ({
  200: { description, content: { "application/json": { schema } } },
});

function question(a: QueryArgs): FlowQuestion {
  return {
    from: a.from,
    to: a.to,
    filter: a.filter,
    groupBy: (a.group_by?.split(",") ?? []) as GroupField[],
    metric: a.metric,
    sort: a.sort,
    order: a.order,
    limit: a.limit,
    task: a.task,
    step: a.step,
    points: a.points,
  };
}

/** A /query answer (GET or POST: the same arguments) in the format asked. */
async function answerQuery(ctx: QueryContext, a: QueryArgs): Promise<Response> {
  return formatted(await queryFlows(ctx, question(a)), a.format);
}

/** An answer in the format asked; csv and ndjson carry the summary in a header. */
function formatted(a: FlowAnswer, format: QueryArgs["format"]): Response {
  if (format === "json") return Response.json(a);
  const headers = { "x-netspectra-summary": JSON.stringify(a.summary) };
  if (format === "ndjson") {
    const body = a.rows.map((r) => JSON.stringify(r)).join("\n") + (a.rows.length ? "\n" : "");
    return new Response(body, { headers: { ...headers, "content-type": "application/x-ndjson" } });
  }
  const lines = [a.columns.join(",")];
  for (const r of a.rows) lines.push(a.columns.map((c) => csvCell(r[c])).join(","));
  return new Response(lines.join("\n") + "\n", {
    headers: { ...headers, "content-type": "text/csv; charset=utf-8" },
  });
}

/** A series answer as one row per time: `time`, then a column per series (csv, ndjson). */
function seriesFormatted(a: SeriesAnswer, format: QueryArgs["format"]): Response {
  if (format === "json") return Response.json(a);
  const columns = ["time", ...a.series.map((s) => s.label)];
  const rows = a.times.map((t, i) => [t, ...a.series.map((s) => s.values[i]!)]);
  return formatted({
    summary: a.summary,
    columns,
    rows: rows.map((r) => Object.fromEntries(columns.map((c, k) => [c, r[k]]))),
  }, format);
}

/** RFC 4180: quoted when it holds a comma, a quote or a line break. */
function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function flowRoutes(app: OpenAPIHono<ApiEnv>, q: Questions): void {
  const description = "Packets, bytes or flows over a range, filtered, grouped, sorted";
  app.openapi(
    createRoute({
      method: "get",
      path: "/query",
      request: { query: QueryArgs },
      responses: json(Answer, description),
    }),
    (c) => q.ask(c, (ctx) => answerQuery(ctx, c.req.valid("query"))),
  );
  app.openapi(
    createRoute({
      method: "post",
      path: "/query",
      request: { body: { content: { "application/json": { schema: QueryArgs } }, required: true } },
      responses: json(Answer, description),
    }),
    (c) => q.ask(c, (ctx) => answerQuery(ctx, c.req.valid("json"))),
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/top/{dimension}",
      request: {
        params: z.object({ dimension: z.enum(KEY_DIMENSIONS) }),
        query: z.object({ ...range, limit: limit(10), format }),
      },
      responses: json(Answer, "The top values of one key field, then an other row"),
    }),
    (c) =>
      q.ask(c, async (ctx) => {
        const { dimension } = c.req.valid("param");
        const a = c.req.valid("query");
        return formatted(await topFlows(ctx, dimension, a), a.format);
      }),
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/timeseries",
      request: {
        query: z.object({
          ...range,
          group_by: z.enum(KEY_DIMENSIONS).optional().openapi({
            description: "One series per top value",
          }),
          series: z.coerce.number().int().min(1).max(SERIES_MAX).default(SERIES_DEFAULT),
          step: z.string().max(16).optional(),
          points: z.coerce.number().int().min(1).max(POINTS_MAX).optional(),
          format,
        }),
      },
      responses: json(
        z.object({
          summary: z.record(z.string(), z.unknown()),
          times: z.array(z.number()),
          series: z.array(z.unknown()),
        })
          .openapi("SeriesAnswer"),
        "Times once, then one array of values per series",
      ),
    }),
    (c) =>
      q.ask(c, async (ctx) => {
        const a = c.req.valid("query");
        return seriesFormatted(await timeSeries(ctx, a.group_by ?? null, a.series, a), a.format);
      }),
  );
  app.openapi(
    createRoute({
      method: "post",
      path: "/filter/validate",
      request: {
        body: {
          content: {
            "application/json": { schema: z.object({ filter: z.string().max(FILTER_CHARS_MAX) }) },
          },
          required: true,
        },
      },
      responses: json(
        z.object({ valid: z.boolean() }),
        "The filter is valid (else a 400 with its position)",
      ),
    }),
    (c) => {
      try {
        parseFilter(c.req.valid("json").filter, FLOW_FIELDS);
        return c.json({ valid: true }, 200);
      } catch (e) {
        return problemOf(c, e, () => {}) as never;
      }
    },
  );
}
