/**
 * The dashboard at `/`: one page and its scripts, served from this program's own files
 * (routes/dashboard/, uPlot vendored there), read once at start. No CDN, no inline script:
 * the Content-Security-Policy allows this origin only, so the page cannot be made to load or
 * send anything elsewhere, nor be framed.
 *
 * @module
 */

import { Hono } from "hono";

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

export const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
};

const FILES: Record<string, [string, string]> = {
  "app.js": ["dashboard/app.js", "text/javascript; charset=utf-8"],
  "style.css": ["dashboard/style.css", "text/css; charset=utf-8"],
  "uPlot.iife.min.js": [
    "dashboard/vendor/uplot/uPlot.iife.min.js",
    "text/javascript; charset=utf-8",
  ],
  "uPlot.min.css": ["dashboard/vendor/uplot/uPlot.min.css", "text/css; charset=utf-8"],
};

async function read(path: string): Promise<Uint8Array> {
  return await Deno.readFile(new URL(path, import.meta.url));
}

/** The page and its assets (read now: a file missing is known at start, not at first view). */
export async function dashboardRoutes(): Promise<Hono> {
  const page = await read("dashboard/index.html");
  const assets = new Map<string, [Uint8Array, string]>();
  for (const [name, [path, type]] of Object.entries(FILES)) {
    assets.set(name, [await read(path), type]);
  }
  const app = new Hono();
  app.use("*", async (c, next) => {
    await next();
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(k, v);
  });
  app.get("/", (c) =>
    c.body(page as Uint8Array<ArrayBuffer>, 200, {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-cache",
    }));
  app.get("/assets/:name", (c) => {
    const a = assets.get(c.req.param("name"));
    if (a === undefined) return c.text("not found\n", 404);
    return c.body(a[0] as Uint8Array<ArrayBuffer>, 200, {
      "content-type": a[1],
      "cache-control": "no-cache",
    });
  });
  return app;
}
