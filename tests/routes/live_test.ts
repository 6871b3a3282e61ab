/**
 * The live stream in process: windows committed while clients listen reach every reading
 * client once, in commit order, as the store holds them; a client that reads nothing is reset
 * and dropped without holding anything up; a client that resumes with Last-Event-ID gets what
 * it missed from the store, and one whose windows retention removed gets reset.
 */

import assert from "node:assert/strict";
import { Hono } from "hono";
import { API_BASE, apiRoutes, Auth, sha256Hex } from "../../routes/mod.ts";
import { CLIENT_QUEUE_MAX, LiveHub } from "../../routes/live.ts";
import { Store } from "../../storage/mod.ts";
import { defaultTask, ingestFiles } from "../../collector/ingest/mod.ts";
import { runCli } from "../cli/_run.ts";
import { readEvents } from "../_sse.ts";

const TOKEN = "t".repeat(64);

Deno.test("live stream: every committed window once, in order; a silent client is reset", async () => {
  const dir = await Deno.makeTempDir();
  const pcap = `${dir}/g.pcap`;
  // 1,500 packets at 5 a second over 1 s windows: about 300 windows, more than a queue holds.
  const r = await runCli(
    ["gen", "--packets", "1500", "--flows", "50", "--rate", "5", "-o", pcap],
    dir,
  );
  assert.equal(r.code, 0, r.stderr);
  const store = await Store.open(`${dir}/s.duckdb`);
  const errors: unknown[] = [];
  const hub = new LiveHub(store, null, (e) => errors.push(e));
  await hub.start();
  const appWith = (hub: LiveHub) =>
    new Hono().route(
      API_BASE,
      apiRoutes(
        {
          store,
          storePath: "s",
          auth: new Auth([{ name: "t", scope: "read", sha256: sha256Hex(TOKEN) }]),
          status: null,
          queryTimeoutMs: 10_000,
          queriesMax: 4,
          log: (e) => errors.push(e),
        },
        false,
        hub,
      ),
    );
  const app = appWith(hub);
  const open = async (headers: Record<string, string> = {}) => {
    const res = await app.request(`${API_BASE}/live`, {
      headers: { authorization: `Bearer ${TOKEN}`, ...headers },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
    return res.body!;
  };
  try {
    const reading = open();
    const silent = await open(); // never read
    const readAll = readEvents(await reading, (ev) => ev.some((e) => e.event === "done"));
    const ask = () =>
      app.request(`${API_BASE}/query?from=-100d`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
    const before = await ask();
    assert.equal((await ask()).headers.get("x-netspectra-cache"), "hit");
    const t0 = performance.now();
    await ingestFiles({ store, files: [pcap], windowSec: 1, tasks: [defaultTask()] });
    const ingestMs = performance.now() - t0;
    // Windows were committed: the kept answer is gone, the new one counts them.
    const after = await ask();
    assert.equal(after.headers.get("x-netspectra-cache"), "miss");
    assert.equal((await before.json()).summary.matched.packets, 0);
    assert.equal((await after.json()).summary.matched.packets, 1500);
    await hub.stop();
    const events = await readAll;
    const windows = events.filter((e) => e.event === "window");
    const rows = await store.rows(
      "SELECT commit_seq::INT AS s, packets::INT AS p FROM window_totals ORDER BY commit_seq",
    );
    assert.ok(rows.length > CLIENT_QUEUE_MAX, `${rows.length} windows`);
    assert.deepEqual(windows.map((e) => Number(e.id)), rows.map((r) => r.s));
    assert.deepEqual(windows.map((e) => JSON.parse(e.data).packets), rows.map((r) => r.p));
    assert.equal(events[0]!.event, "hello");
    const w = JSON.parse(windows[10]!.data);
    assert.equal(w.window_sec, 1);
    assert.ok(w.top_sources.length > 0 && w.top_sources.length <= 5);
    assert.ok(Array.isArray(w.protocols));
    // The silent client was told to reset and let go; nothing waited for it.
    const silentEvents = await readEvents(silent, () => false);
    assert.deepEqual(silentEvents.map((e) => e.event), ["reset"]);
    assert.equal(hub.counters.resets, 1);
    assert.equal(hub.counters.clients, 0);
    assert.ok(ingestMs < 60_000);
    // Resume: after window 100, everything after it from the store, once.
    const hub2 = new LiveHub(store, null, (e) => errors.push(e));
    await hub2.start();
    const app2 = appWith(hub2);
    const resumed = await app2.request(`${API_BASE}/live`, {
      headers: { authorization: `Bearer ${TOKEN}`, "last-event-id": "100" },
    });
    const last = rows[rows.length - 1]!.s as number;
    const got = await readEvents(resumed.body!, (ev) => ev.some((e) => Number(e.id) === last));
    assert.deepEqual(
      got.filter((e) => e.event === "window").map((e) => Number(e.id)),
      rows.map((r) => r.s as number).filter((s) => s > 100),
    );
    // Windows after the one given were removed (retention): reset.
    await store.rows("DELETE FROM window_totals WHERE commit_seq < 150");
    const gone = await app2.request(`${API_BASE}/live?last_event_id=20`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const g = await readEvents(gone.body!, (ev) => ev.length >= 2);
    assert.deepEqual(g.map((e) => e.event), ["hello", "reset"]);
    await hub2.stop();
    assert.deepEqual(errors, []);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
