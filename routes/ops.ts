/**
 * Operations over HTTP: `/healthz` (the process answers), `/readyz` (every device
 * captures and windows are being stored), `/metrics` (Prometheus text). The data API of the
 * next issue joins this same app.
 *
 * @module
 */

import { Hono } from "hono";
import type { CollectorStatus } from "../collector/ingest/mod.ts";
import { renderMetrics } from "./metrics.ts";
import type { LiveCounters } from "./live.ts";
import type { ViewCounts } from "../query/mod.ts";

export function opsRoutes(
  status: CollectorStatus,
  live: LiveCounters | null = null,
  views: ViewCounts | null = null,
): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.text("ok\n"));
  app.get("/readyz", (c) => {
    const why = status.notReady();
    return why === null ? c.text("ready\n") : c.text(`not ready: ${why}\n`, 503);
  });
  app.get("/metrics", (c) =>
    c.body(renderMetrics(status, live, views), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    }));
  return app;
}
