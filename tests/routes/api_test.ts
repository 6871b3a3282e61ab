/**
 * The API in process (Hono's app.request, no socket) over a store made as a user makes one
 * (gen, then analyze): every route, filters and group-bys against the store's own views,
 * formats, errors as problems, auth (401, 403, tokens in URLs), the body limit, the login
 * cookie and the OpenAPI document's coverage.
 */

import assert from "node:assert/strict";
import { Hono } from "hono";
import { API_BASE, API_BODY_BYTES_MAX, apiRoutes, Auth, sha256Hex } from "../../routes/mod.ts";
import { Store } from "../../storage/mod.ts";
import { runCli } from "../cli/_run.ts";

const READ = "r".repeat(64), ADMIN = "a".repeat(64);

interface Fixture {
  app: Hono;
  store: Store;
  dir: string;
  /** Errors the API logged as its own (500s): none may happen. */
  errors: unknown[];
}

async function fixture(): Promise<Fixture> {
  const dir = await Deno.makeTempDir();
  const pcap = `${dir}/g.pcap`, db = `${dir}/g.duckdb`;
  let r = await runCli([
    "gen",
    "--packets",
    "20000",
    "--flows",
    "300",
    "--rate",
    "5",
    "--dns",
    "5",
    "--http",
    "5",
    "-o",
    pcap,
  ], dir);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(["analyze", pcap, "--db", db], dir);
  assert.equal(r.code, 0, r.stderr);
  const store = await Store.open(db, { readOnly: true });
  const auth = new Auth([
    { name: "r", scope: "read", sha256: sha256Hex(READ) },
    { name: "a", scope: "admin", sha256: sha256Hex(ADMIN) },
  ]);
  const errors: unknown[] = [];
  const api = apiRoutes({
    store,
    storePath: db,
    auth,
    status: null,
    queryTimeoutMs: 10_000,
    queriesMax: 4,
    log: (e) => errors.push(e),
  }, false);
  const app = new Hono();
  app.route(API_BASE, api);
  return { app, store, dir, errors };
}

async function withApi(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const f = await fixture();
  try {
    await fn(f);
    assert.deepEqual(f.errors, [], "no internal error");
  } finally {
    f.store.closeSync();
    await Deno.remove(f.dir, { recursive: true });
  }
}

function get(
  f: Fixture,
  path: string,
  token: string | null = READ,
  headers: Record<string, string> = {},
) {
  return f.app.request(`${API_BASE}${path}`, {
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...headers },
  });
}

function post(f: Fixture, path: string, body: unknown, token: string | null = READ) {
  return f.app.request(`${API_BASE}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function problemOf(res: Response, status: number): Promise<Record<string, unknown>> {
  assert.equal(res.status, status, await res.clone().text());
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const p = await res.json();
  assert.equal(p.status, status);
  assert.equal(typeof p.title, "string");
  assert.match(p.detail, /\.$/);
  return p;
}

/** The oracle: the flows view, summed over every window, by SQL of our own. */
async function viewSum(store: Store, where: string): Promise<number> {
  const [r] = await store.rows(
    `SELECT coalesce(sum(packets), 0)::BIGINT AS n FROM flows WHERE task = 'flows' AND ${where}`,
  );
  return Number(r!.n);
}

Deno.test("API: filters and group-bys answer what the store's views hold", async () => {
  await withApi(async (f) => {
    const cases: [string, string][] = [
      ["", "true"],
      ["proto = udp", "proto = 17"],
      ["proto = tcp and dst_port = 80", "proto = 6 AND dst_port = 80"],
      ["port = 53", "(src_port = 53 OR dst_port = 53)"],
      ["src_ip in 10.0.0.0/8", "src_ip LIKE '10.%'"],
      [
        "not ip in 10.0.0.0/8 or proto = icmp",
        "(NOT (src_ip LIKE '10.%' OR dst_ip LIKE '10.%') OR proto = 1)",
      ],
    ];
    for (const [filter, where] of cases) {
      const res = await get(
        f,
        `/query?from=-100d&metric=packets&filter=${encodeURIComponent(filter)}`,
      );
      assert.equal(res.status, 200, await res.clone().text());
      const a = await res.json();
      assert.equal(a.summary.matched.packets, await viewSum(f.store, where), filter);
    }
    // A single address, from the data itself.
    const top = await (await get(f, "/top/dst_ip?from=-100d&metric=packets&limit=1")).json();
    const ip = top.rows[0].dst_ip as string;
    const one = await (await get(
      f,
      `/query?from=-100d&metric=packets&filter=${encodeURIComponent(`dst_ip = ${ip}`)}`,
    )).json();
    assert.equal(one.summary.matched.packets, top.rows[0].packets);
    assert.equal(top.rows[1].dst_ip, "other");
    // Group-bys: every row's sums add up to the matched total.
    for (
      const g of ["src_ip", "dst_port", "proto,dst_port", "src_ip,dst_ip", "time", "time,proto"]
    ) {
      const a = await (await get(f, `/query?from=-100d&group_by=${g}&limit=10000&metric=bytes`))
        .json();
      assert.deepEqual(a.columns.slice(0, -2), g.split(","));
      assert.equal(
        a.rows.reduce((s: number, r: { bytes: number }) => s + r.bytes, 0),
        a.summary.matched.bytes,
        g,
      );
      assert.equal(a.summary.shown, a.rows.length);
    }
    // A GET's answer is kept while the store has no new window: the second is a cache hit.
    const first = await get(f, "/top/proto?from=-100d");
    const again = await get(f, "/top/proto?from=-100d");
    assert.equal(first.headers.get("x-netspectra-cache"), "miss");
    assert.equal(again.headers.get("x-netspectra-cache"), "hit");
    assert.equal(await again.text(), await first.text());
    // POST takes the same arguments.
    const p =
      await (await post(f, "/query", { from: "-100d", group_by: "proto", metric: "packets" }))
        .json();
    assert.equal(p.summary.matched.packets, 20000);
  });
});

Deno.test("API: relative ranges, formats and the other routes", async () => {
  await withApi(async (f) => {
    const h1 = await (await get(f, "/query?from=-1h&metric=packets")).json();
    const all = await (await get(f, "/query?from=-100d&metric=packets")).json();
    assert.ok(h1.summary.windows === 60, `windows in the last hour: ${h1.summary.windows}`);
    assert.ok(h1.summary.matched.packets < all.summary.matched.packets);
    assert.equal(Date.parse(h1.summary.range.to) - Date.parse(h1.summary.range.from), 3600_000);
    const csv = await get(f, "/query?from=-100d&group_by=proto&format=csv");
    assert.match(csv.headers.get("content-type")!, /^text\/csv/);
    const lines = (await csv.text()).trimEnd().split("\n");
    assert.equal(lines[0], "proto,packets,bytes");
    assert.ok(lines.length >= 3);
    const summary = JSON.parse(csv.headers.get("x-netspectra-summary")!);
    assert.equal(summary.shown, lines.length - 1);
    const topCsv = (await (await get(f, "/top/dst_port?from=-100d&limit=3&format=csv")).text())
      .trimEnd().split("\n");
    assert.equal(topCsv[0], "dst_port,packets,bytes");
    assert.equal(topCsv.length, 5); // header, three ports, other
    assert.match(topCsv[4]!, /^other,\d+,\d+$/);
    const tsCsv = await get(f, "/timeseries?from=-3h&step=1h&group_by=proto&series=2&format=csv");
    const tsLines = (await tsCsv.text()).trimEnd().split("\n");
    assert.match(tsLines[0]!, /^time,\d+,\d+,other$/);
    const tsJson = await (await get(f, "/timeseries?from=-3h&step=1h&group_by=proto&series=2"))
      .json();
    assert.equal(tsLines.length, 1 + tsJson.times.length);
    assert.equal(
      tsLines[1],
      [tsJson.times[0], ...tsJson.series.map((x: { values: number[] }) => x.values[0])].join(","),
    );
    const nd = await (await get(f, "/query?from=-100d&group_by=proto&format=ndjson")).text();
    assert.equal(nd.trimEnd().split("\n").length, lines.length - 1);
    assert.ok(nd.split("\n").filter((l) => l).every((l) => "proto" in JSON.parse(l)));
    const ts = await (await get(f, "/timeseries?from=-3h&step=1h&group_by=proto&series=2")).json();
    // Hour buckets: a range that starts inside an hour takes one more.
    const buckets = Date.parse(ts.summary.range.from) % 3600_000 === 0 ? 3 : 4;
    assert.equal(ts.times.length, buckets);
    for (const s of ts.series) assert.equal(s.values.length, buckets);
    const sources = await (await get(f, "/sources")).json();
    assert.equal(sources.sources.length, 1);
    assert.equal(sources.sources[0].packets, 20000);
    const status = await (await get(f, "/status")).json();
    assert.equal(status.store.packets, 20000);
    assert.ok(status.store.bytes > 0);
    assert.equal(status.collector, null);
    const dns = await (await get(f, "/dns?from=-100d&limit=5")).json();
    assert.ok(dns.names.length > 0 && dns.names.length <= 5);
    const http = await (await get(f, "/http?from=-100d")).json();
    assert.ok(http.hosts.length > 0, JSON.stringify(http).slice(0, 300));
    // Sketches merged over the range: distinct counts near the exact ones, within their error.
    const sk = await (await get(f, "/sketches?from=-100d&limit=5")).json();
    assert.ok(sk.heavy_hitters[0].rows.length > 0 && sk.heavy_hitters[0].rows.length <= 5);
    // Every heavy hitter's shortfall against the exact count is within its error bound (all
    // rows: the lower ones are missing from some windows' top lists, so their bounds are > 0).
    const allKeys = await (await get(f, "/sketches?from=-100d&limit=1000")).json();
    const hh = allKeys.heavy_hitters[0].rows as {
      packets: number;
      exact_packets: number;
      error_bound: number;
    }[];
    for (const r of hh) {
      const short = r.exact_packets - r.packets;
      assert.ok(short >= 0 && short <= r.error_bound, JSON.stringify(r));
    }
    assert.ok(hh.some((r) => r.error_bound > 0), "some keys were out of some windows' lists");
    for (const d of sk.distinct) {
      assert.ok(d.exact > 0, JSON.stringify(d));
      assert.ok(Math.abs(d.estimate - d.exact) / d.exact < 4 * d.standard_error, JSON.stringify(d));
    }
    assert.ok(sk.spread.length >= 1);
    const half = await (await get(f, "/sketches?from=-30m&limit=5")).json();
    assert.ok(half.distinct[0].exact < sk.distinct[0].exact, "a shorter range has fewer sources");
    // Records, paged: every record once over the pages.
    const [count] = await f.store.rows("SELECT count(*)::INT AS n FROM flow_records");
    const n = Number(count!.n);
    const seen = new Set<string>();
    let cursor: string | null = null, pages = 0;
    do {
      const page: { rows: Record<string, unknown>[]; next_cursor: string | null } =
        await (await get(
          f,
          `/flows/records?from=-100d&limit=700${cursor === null ? "" : `&cursor=${cursor}`}`,
        )).json();
      for (const r of page.rows) seen.add(JSON.stringify(r));
      cursor = page.next_cursor;
      pages++;
    } while (cursor !== null && pages < 100);
    assert.equal(seen.size, n);
    assert.ok(pages > 1);
    const rst = await (await get(
      f,
      `/flows/records?from=-100d&filter=${encodeURIComponent("proto = tcp and duration >= 0")}`,
    )).json();
    assert.ok(rst.rows.every((r: { proto: number }) => r.proto === 6));
  });
});

Deno.test("API: mistakes are problems that say where; auth and limits hold", async () => {
  await withApi(async (f) => {
    const bad = await problemOf(
      await get(f, `/query?filter=${encodeURIComponent("dst_port = 443 and src_ip = 10.0.0")}`),
      400,
    );
    assert.equal(bad.position, 29);
    assert.match(String(bad.detail), /character 29: "10.0.0" is not an IP address/);
    await problemOf(await get(f, "/query?limit=0"), 400);
    await problemOf(await get(f, "/query?limit=10001"), 400);
    await problemOf(await get(f, "/query?group_by=mac"), 400);
    await problemOf(await get(f, "/query?from=yesterday"), 400);
    await problemOf(await get(f, "/top/mac"), 400);
    await problemOf(await get(f, "/flows/records?cursor=abc"), 400);
    await problemOf(await post(f, "/query", "{not json"), 400);
    await problemOf(await get(f, "/nothing"), 404);
    const v = await post(f, "/filter/validate", { filter: "proto = tcp or (port = 1" });
    assert.equal((await problemOf(v, 400)).position, 25);
    assert.deepEqual(
      await (await post(f, "/filter/validate", { filter: "ip in fe80::/10" })).json(),
      { valid: true },
    );
    // Auth.
    await problemOf(await get(f, "/query", null), 401);
    await problemOf(await get(f, "/query", "x".repeat(64)), 401);
    await problemOf(await get(f, `/query?token=${READ}`, null), 400);
    await problemOf(await get(f, `/status?access_token=${READ}`), 400);
    await problemOf(await post(f, "/sql", { sql: "SELECT 1" }), 403);
    const sql = await post(f, "/sql", { sql: "SELECT count(*) AS n FROM window_totals" }, ADMIN);
    assert.equal(sql.status, 200);
    assert.ok((await sql.json()).rows[0][0] > 0);
    await problemOf(await post(f, "/sql", { sql: "DELETE FROM window_totals" }, ADMIN), 400);
    await problemOf(await post(f, "/sql", { sql: "SELEC 1" }, ADMIN), 400);
    // The body limit.
    const big = await post(f, "/query", { filter: "x".repeat(API_BODY_BYTES_MAX) });
    await problemOf(big, 413);
    // A login gives a cookie that works instead of the header.
    await problemOf(await post(f, "/login", { token: "nope" }, null), 401);
    const login = await post(f, "/login", { token: READ }, null);
    assert.equal(login.status, 200);
    const cookie = login.headers.get("set-cookie")!;
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const session = cookie.split(";")[0]!;
    const withCookie = await get(f, "/status", null, { cookie: session });
    assert.equal(withCookie.status, 200);
    const logout = await f.app.request(`${API_BASE}/logout`, {
      method: "POST",
      headers: { cookie: session },
    });
    assert.equal(logout.status, 204);
    await problemOf(await get(f, "/status", null, { cookie: session }), 401);
  });
});

Deno.test("Auth: tokens by hash, a session per login, new tokens end the old ones", () => {
  const auth = new Auth([{ name: "r", scope: "read", sha256: sha256Hex(READ) }]);
  assert.equal(auth.scopeOf(READ), "read");
  assert.equal(auth.scopeOf(ADMIN), null);
  assert.equal(auth.scopeOf(""), null);
  const s = auth.login(READ)!;
  assert.equal(auth.sessionScope(s.id), "read");
  assert.equal(auth.login(ADMIN), null);
  auth.setTokens([{ name: "a", scope: "admin", sha256: sha256Hex(ADMIN) }]);
  assert.equal(auth.scopeOf(READ), null);
  assert.equal(auth.scopeOf(ADMIN), "admin");
  assert.equal(auth.sessionScope(s.id), null, "a session of a token gone is gone");
});

Deno.test("API: the OpenAPI document lists every route", async () => {
  await withApi(async (f) => {
    const res = await get(f, "/openapi.json", null);
    assert.equal(res.status, 200);
    const doc = await res.json();
    const documented = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths as Record<string, object>)) {
      for (const m of Object.keys(ops)) documented.add(`${m.toUpperCase()} ${path}`);
    }
    const routes = f.app.routes
      .filter((r) => r.method !== "ALL")
      .map((r) => `${r.method} ${r.path.slice(API_BASE.length).replace(/:(\w+)/g, "{$1}")}`)
      .filter((r) => !r.endsWith("/openapi.json"));
    assert.ok(routes.length >= 12, routes.join(", "));
    for (const r of routes) assert.ok(documented.has(r), `${r} is not in the OpenAPI document`);
  });
});
