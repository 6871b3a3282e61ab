/**
 * The HTTP routes in process (Hono's app.request, no socket): the metrics page's form and
 * escaping, readiness, and POST /v1/sql against crafted requests (no token, a wrong one,
 * malformed JSON, wrong types, bodies over the limit, refused statements) — none may throw.
 */

import assert from "node:assert/strict";
import { CollectorStatus, FLUSH_BUCKETS_SEC } from "../../collector/ingest/mod.ts";
import {
  labelValue,
  opsRoutes,
  parseListen,
  renderMetrics,
  SQL_BODY_BYTES_MAX,
  sqlRoutes,
} from "../../routes/mod.ts";
import { Store } from "../../storage/mod.ts";
import { UserError } from "../../collector/user_error.ts";

function statusWithDevice(): CollectorStatus {
  const s = new CollectorStatus(10, 2);
  s.devices.set("eth0", {
    device: "eth0",
    replay: false,
    sourceId: "eth0@s@t",
    state: "capturing",
    error: null,
    capture: { received: 10, dropped: 1, skipped: 0, ifDropped: 2 },
    packets: 9,
    bytes: 900,
    flowsActive: 3,
    reopens: 0,
  });
  return s;
}

Deno.test("labelValue escapes backslash, double quote and newline, in that order", () => {
  const cases: [string, string][] = [
    ["plain", "plain"],
    ['a"b', 'a\\"b'],
    ["a\\b", "a\\\\b"],
    ["a\nb", "a\\nb"],
    ['\\"\n', '\\\\\\"\\n'],
  ];
  for (const [v, want] of cases) assert.equal(labelValue(v), want, JSON.stringify(v));
});

Deno.test("renderMetrics: every sample has its family's TYPE, buckets are cumulative", () => {
  const s = statusWithDevice();
  s.decodeErrors.set('weird "reason"\n', 4);
  s.flushBuckets[0] = 2, s.flushBuckets[3] = 1, s.flushBuckets[FLUSH_BUCKETS_SEC.length] = 1;
  const page = renderMetrics(s, null, { kept: 7, moved: 3, built: 1, declined: 0 });
  const typed = new Set<string>();
  const buckets: number[] = [];
  for (const line of page.trimEnd().split("\n")) {
    const t = /^# TYPE (\w+) \w+$/.exec(line);
    if (t) typed.add(t[1]!);
    if (line.startsWith("#")) continue;
    const m = /^(\w+)(\{.*\})? (\S+)$/.exec(line);
    assert.ok(m, line);
    assert.ok(typed.has(m[1]!.replace(/_(bucket|sum|count)$/, "")), line);
    if (m[1] === "netspectra_window_close_duration_seconds_bucket") buckets.push(Number(m[3]));
  }
  assert.deepEqual(buckets, [2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 4]);
  assert.ok(page.includes('netspectra_decode_errors_total{reason="weird \\"reason\\"\\n"} 4'));
  assert.ok(
    page.includes('netspectra_capture_packets_dropped_total{device="eth0",stage="interface"} 2'),
  );
  assert.ok(page.includes("netspectra_window_last_closed_timestamp_seconds NaN"));
  assert.ok(page.includes('netspectra_api_view_questions_total{result="moved"} 3'));
});

Deno.test("CollectorStatus.notReady: a device not capturing, no window for too long", () => {
  const s = statusWithDevice();
  assert.equal(s.notReady(s.startedMs + 1000), null);
  // 2 windows + lateness + 1 s of grace from the start: 23 s.
  assert.match(s.notReady(s.startedMs + 24_000)!, /^no window stored for 24 s$/);
  s.lastStoredMs = s.startedMs + 20_000;
  assert.equal(s.notReady(s.startedMs + 24_000), null);
  s.devices.get("eth0")!.state = "failed", s.devices.get("eth0")!.error = "gone";
  assert.equal(s.notReady(s.startedMs + 24_000), "eth0 is failed: gone");
});

Deno.test("opsRoutes: healthz, readyz (503 with why), metrics content type", async () => {
  const s = statusWithDevice();
  const app = opsRoutes(s);
  assert.equal(await (await app.request("/healthz")).text(), "ok\n");
  assert.equal((await app.request("/readyz")).status, 200);
  s.devices.get("eth0")!.state = "down";
  const r = await app.request("/readyz");
  assert.deepEqual([r.status, await r.text()], [503, "not ready: eth0 is down\n"]);
  const m = await app.request("/metrics");
  assert.equal(m.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
});

Deno.test("parseListen: host:port forms, and one-line errors", () => {
  assert.deepEqual(parseListen("127.0.0.1:9470"), { hostname: "127.0.0.1", port: 9470 });
  assert.deepEqual(parseListen(":0"), { hostname: "127.0.0.1", port: 0 });
  assert.deepEqual(parseListen("[::1]:80"), { hostname: "::1", port: 80 });
  assert.deepEqual(parseListen("localhost:8080"), { hostname: "localhost", port: 8080 });
  for (const bad of ["", "9470", "host:", "host:99999", "::1:80", "a b:1", "host:1:2"]) {
    assert.throws(() => parseListen(bad), UserError, bad);
  }
});

Deno.test("POST /v1/sql: the token, the body's form and size, refusals — answers, never throws", async () => {
  const store = await Store.open(":memory:");
  try {
    const app = opsRoutes(new CollectorStatus(60, 2));
    sqlRoutes(app, store, "secret");
    const ask = (body: string, auth = "Bearer secret") =>
      app.request("/v1/sql", {
        method: "POST",
        headers: { authorization: auth, "content-type": "application/json" },
        body,
      });
    const ok = await ask(JSON.stringify({ sql: "SELECT 42 AS n, 'x' AS s", max_rows: 5 }));
    assert.deepEqual(await ok.json(), {
      columns: ["n", "s"],
      numeric: [true, false],
      rows: [[42, "x"]],
      truncated: false,
    });
    const cut = await ask(JSON.stringify({ sql: "SELECT * FROM range(10)", max_rows: 3 }));
    const c = await cut.json();
    assert.deepEqual([c.rows.length, c.truncated], [3, true]);
    const cases: [string, string, number, RegExp][] = [
      [JSON.stringify({ sql: "SELECT 1" }), "", 401, /bearer token/],
      [JSON.stringify({ sql: "SELECT 1" }), "Bearer secreT", 401, /bearer token/],
      [JSON.stringify({ sql: "SELECT 1" }), "Bearer secret2", 401, /bearer token/],
      ["{not json", "Bearer secret", 400, /JSON object/],
      ["null", "Bearer secret", 400, /Give/],
      [JSON.stringify({ sql: 1 }), "Bearer secret", 400, /Give/],
      [JSON.stringify({ sql: "SELECT 1", max_rows: 0 }), "Bearer secret", 400, /Give/],
      [JSON.stringify({ sql: "SELECT 1", timeout_ms: "1" }), "Bearer secret", 400, /Give/],
      [JSON.stringify({ sql: "DROP TABLE sources" }), "Bearer secret", 400, /read-only/],
      [JSON.stringify({ sql: "SELECT 1; SELECT 2" }), "Bearer secret", 400, /exactly one/],
      [JSON.stringify({ sql: "SELEC 1" }), "Bearer secret", 400, /Parser Error/],
      [JSON.stringify({ sql: "x".repeat(SQL_BODY_BYTES_MAX) }), "Bearer secret", 413, /over/],
    ];
    for (const [body, auth, status, re] of cases) {
      const r = await ask(body, auth);
      const j = await r.json();
      assert.equal(r.status, status, `${body.slice(0, 40)}: ${JSON.stringify(j)}`);
      assert.match(j.error, re, body.slice(0, 40));
    }
    // Crafted bodies: whatever comes, an answer (2xx or 4xx), never a thrown error.
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const atoms = ['"sql"', '"SELECT 1"', "1", "-1", "1e309", "null", "[]", "{}", '"max_rows"'];
    for (let n = 0; n < 300; n++) {
      let body = "";
      for (let k = Math.floor(rand() * 8); k > 0; k--) {
        body += atoms[Math.floor(rand() * atoms.length)]! + ["", ":", ",", "{", "}"][k % 5]!;
      }
      const r = await ask(body);
      assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), `${body}: ${r.status}`);
      await r.body?.cancel();
    }
  } finally {
    await store.close();
  }
});
