/**
 * The JSON API under `/api/v1`, mounted in one place: every route needs a
 * token (bearer or the login cookie) except the login itself and the OpenAPI document, which
 * is made from the same schemas that check the requests. Bodies over 1 MB are refused, errors
 * are RFC 7807 problems, no CORS headers are sent (a page of another origin cannot read us).
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { VERSION } from "../collector/version.ts";
import { apiApp, type ApiDeps, Questions } from "./_api_env.ts";
import { problem, problemOf } from "./_problem.ts";
import { requireScope, SESSION_COOKIE, SESSION_SEC } from "./auth.ts";
import { flowRoutes } from "./api_flows.ts";
import { dataRoutes } from "./api_data.ts";
import { type LiveHub, liveRoute } from "./live_route.ts";

export const API_BASE = "/api/v1";
export const API_BODY_BYTES_MAX = 1 << 20;
const PUBLIC = new Set([
  `${API_BASE}/login`,
  `${API_BASE}/logout`,
  `${API_BASE}/session`,
  `${API_BASE}/openapi.json`,
]);
const ADMIN = new Set([`${API_BASE}/sql`]);

/** The API app, its paths relative to /api/v1 (mount it there); `hub` serves /live. */
export function apiRoutes(deps: ApiDeps, secureCookie: boolean, hub: LiveHub | null = null) {
  const app = apiApp();
  app.use(
    "*",
    bodyLimit({
      maxSize: API_BODY_BYTES_MAX,
      onError: (c) => problem(c, 413, `The request body is over ${API_BODY_BYTES_MAX} bytes.`),
    }),
  );
  app.use("*", requireScope(deps.auth, (p) => ADMIN.has(p), (p) => PUBLIC.has(p)));
  app.onError((e, c) => problemOf(c, e, deps.log));
  sessionRoutes(app, deps, secureCookie);
  const questions = new Questions(deps);
  flowRoutes(app, questions);
  dataRoutes(app, questions, deps);
  if (hub !== null) liveRoute(app, hub);
  app.doc("/openapi.json", {
    openapi: "3.0.0",
    info: { title: "NetSpectra API", version: VERSION },
    servers: [{ url: API_BASE }],
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
  });
  // Last: what no route took (a mounted app's notFound is not consulted by its parent).
  app.all(
    "*",
    (c) => problem(c, 404, `There is no ${c.req.method} ${new URL(c.req.url).pathname}.`),
  );
  return app;
}

function sessionRoutes(app: ReturnType<typeof apiApp>, deps: ApiDeps, secure: boolean): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/login",
      request: {
        body: {
          content: { "application/json": { schema: z.object({ token: z.string().max(256) }) } },
          required: true,
        },
      },
      responses: {
        200: {
          description: "A session cookie (HttpOnly, SameSite=Strict) for the token's scope",
          content: {
            "application/json": { schema: z.object({ scope: z.enum(["read", "admin"]) }) },
          },
        },
      },
    }),
    (c) => {
      const session = deps.auth.login(c.req.valid("json").token);
      if (session === null) return problem(c, 401, "That token is not valid here.") as never;
      setCookie(c, SESSION_COOKIE, session.id, {
        httpOnly: true,
        sameSite: "Strict",
        secure,
        path: "/",
        maxAge: SESSION_SEC,
      });
      return c.json({ scope: session.scope }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/session",
      responses: {
        200: {
          description: "Whether the request carries valid credentials, and their scope",
          content: {
            "application/json": {
              schema: z.object({
                authenticated: z.boolean(),
                scope: z.enum(["read", "admin"]).nullable(),
              }),
            },
          },
        },
      },
    }),
    (c) => {
      const scope = deps.auth.scopeOfRequest(c);
      return c.json({ authenticated: scope !== null, scope }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: "post",
      path: "/logout",
      responses: { 204: { description: "The session is ended and its cookie cleared" } },
    }),
    (c) => {
      const id = getCookie(c, SESSION_COOKIE);
      if (id !== undefined) deps.auth.logout(id);
      deleteCookie(c, SESSION_COOKIE, { path: "/" });
      return c.body(null, 204);
    },
  );
}
