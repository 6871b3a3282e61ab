/**
 * The one HTTP app, every route group mounted in one place: operations (`/healthz`,
 * `/readyz`, `/metrics`) for a running collector, `/v1/sql` for `netspectra sql` while the
 * daemon holds the store, the API under `/api/v1` and the dashboard at `/`.
 *
 * @module
 */

import { Hono } from "hono";
import type { Store } from "../storage/mod.ts";
import type { CollectorStatus } from "../collector/ingest/mod.ts";
import { opsRoutes } from "./ops.ts";
import { sqlRoutes } from "./sql.ts";
import { API_BASE, apiRoutes } from "./api.ts";
import type { Auth } from "./auth.ts";
import { QUERY_TIMEOUT_MS_DEFAULT, RangeViews } from "../query/mod.ts";
import { LiveHub } from "./live.ts";
import { dashboardRoutes } from "./dashboard.ts";

export interface AppParts {
  store: Store;
  storePath: string;
  auth: Auth;
  /** A running collector's status (null: a stored analysis, `serve`). */
  status: CollectorStatus | null;
  /** The token of `netspectra sql`'s contact file (null: no /v1/sql). */
  contactToken: string | null;
  /** The server speaks HTTPS (the session cookie is then Secure). */
  tls: boolean;
  log: (e: unknown) => void;
}

/** Questions of the store at once: the rest wait for a 429's retry (2 cores, 1 writer). */
export const QUERIES_MAX = 4;

/** The app and its live hub (started: stop it when the server ends). */
export async function httpApp(p: AppParts): Promise<{ app: Hono; hub: LiveHub }> {
  const hub = new LiveHub(p.store, p.status, p.log);
  await hub.start();
  // The store's range views: kept for the server's life, shown on /metrics.
  const views = new RangeViews();
  const app = p.status === null ? new Hono() : opsRoutes(p.status, hub.counters, views.counts);
  if (p.contactToken !== null) sqlRoutes(app, p.store, p.contactToken);
  app.route(
    API_BASE,
    apiRoutes(
      {
        store: p.store,
        storePath: p.storePath,
        auth: p.auth,
        status: p.status,
        queryTimeoutMs: QUERY_TIMEOUT_MS_DEFAULT,
        queriesMax: QUERIES_MAX,
        views,
        log: p.log,
      },
      p.tls,
      hub,
    ),
  );
  app.route("/", await dashboardRoutes());
  return { app, hub };
}
