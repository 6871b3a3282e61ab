/**
 * Live sources through the engine into a real store (root only, on `lo`): windows close on
 * the wall clock, a quiet link stores every window with zero totals, and what was sent is what
 * is stored.
 */

import assert from "node:assert/strict";
import { sendUdp } from "../../_udp.ts";
import { ingestLive } from "../../../collector/ingest/mod.ts";
import { Store } from "../../../storage/mod.ts";
import type { WindowExport } from "../../../collector/export/mod.ts";

const ROOT = Deno.uid() === 0;

Deno.test({
  name: "live: a quiet link stores every window, on time, with zero totals",
  ignore: !ROOT,
  async fn() {
    const store = await Store.open(":memory:");
    const written: { start: number; packets: number; at: number }[] = [];
    const write = store.writeWindow.bind(store);
    store.writeWindow = (n: number, w: WindowExport) => {
      written.push({ start: w.id.startSec, packets: w.totals.packets, at: Date.now() / 1000 });
      return write(n, w);
    };
    try {
      const until = Date.now() + 4300;
      const runs = await ingestLive({
        // Port 9 (discard): nothing on lo goes there.
        devices: [{ device: "lo", filter: "udp port 9" }],
        store,
        windowSec: 1,
        latenessSec: 0,
        stopRequested: () => Date.now() > until,
      });
      assert.equal(runs.length, 1);
      assert.equal(runs[0]!.packets, 0);
      assert.ok(written.length >= 4, JSON.stringify(written));
      for (let k = 1; k < written.length; k++) {
        assert.equal(written[k]!.start, written[k - 1]!.start + 1, "no window missing");
      }
      assert.ok(written.every((w) => w.packets === 0));
      // Closed on time: stored within 0.5 s of the window's end (all but the last, which the
      // stop closes early).
      for (const w of written.slice(0, -1)) {
        assert.ok(w.at - (w.start + 1) < 0.5, `window ${w.start} stored at ${w.at}`);
      }
      const [r] = await store.rows(
        "SELECT count(*) AS n, sum(packets) AS p FROM window_totals WHERE coalesce(part, 0) = 0",
      );
      assert.deepEqual([Number(r!.n), Number(r!.p)], [written.length, 0]);
      const [s] = await store.rows("SELECT kind, source_id FROM sources");
      assert.equal(s!.kind, "interface");
      assert.match(String(s!.source_id), /^lo@/);
    } finally {
      await store.close();
    }
  },
});

Deno.test({
  name: "live: datagrams sent on lo are stored per 5-tuple, every one, in their windows",
  ignore: !ROOT,
  async fn() {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const store = await Store.open(":memory:");
    try {
      let sent = 0, bytes = 0, stop = false;
      const sender = (async () => {
        // Let capture start first.
        await new Promise((ok) => setTimeout(ok, 300));
        const sizes = Array.from({ length: 2000 }, (_, i) => 30 + (i % 7));
        bytes = (await sendUdp(port, sizes, { every: 200, ms: 100 })) + 2000 * 42;
        sent = sizes.length;
        await new Promise((ok) => setTimeout(ok, 500));
        stop = true;
      })();
      const runs = await ingestLive({
        devices: [{ device: "lo", filter: `udp and dst port ${port}` }],
        store,
        windowSec: 1,
        latenessSec: 1,
        stopRequested: () => stop,
      });
      await sender;
      assert.equal(runs[0]!.packets, 2000);
      assert.equal(runs[0]!.capture.dropped, 0);
      const [t] = await store.rows(
        "SELECT sum(packets) AS p, sum(bytes) AS b, count(*) AS windows FROM window_totals",
      );
      assert.deepEqual([Number(t!.p), Number(t!.b)], [sent, bytes]);
      assert.ok(Number(t!.windows) >= 2, `${t!.windows} windows`);
      const [f] = await store.rows(
        `SELECT count(DISTINCT src_port) AS keys, sum(packets) AS p, sum(bytes) AS b
         FROM window_flows WHERE dst_port = ${port} AND proto = 17`,
      );
      assert.deepEqual([Number(f!.keys), Number(f!.p), Number(f!.b)], [1, sent, bytes]);
    } finally {
      await store.close();
    }
  },
});
