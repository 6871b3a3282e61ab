/**
 * Live sources through the engine into a real store (root only, on `lo`): windows close on
 * the wall clock, a quiet link stores every window with zero totals, and what was sent is what
 * is stored.
 */

import assert from "node:assert/strict";
import { sendUdp } from "../../_udp.ts";
import { CollectorStatus, ingestLive } from "../../../collector/ingest/mod.ts";
import { makeVeth, sh } from "./_netns.ts";
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
        assert.ok(
          w.at - (w.start + 1) < 0.5,
          `window ${w.start} stored at ${w.at}: ${JSON.stringify(written)}`,
        );
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

Deno.test({
  name: "live: a device that goes away is reported, opened again with back-off, same source",
  ignore: !ROOT,
  async fn() {
    const veth = await makeVeth(`${(Deno.pid + 1) % 10000}`);
    const store = await Store.open(":memory:");
    const status = new CollectorStatus(1, 0);
    const events: { level: string; msg: string }[] = [];
    const frame = "eth(da=02:00:00:00:00:01, sa=02:00:00:00:00:02), " +
      "ipv4(saddr=10.78.0.2, daddr=10.78.0.1), udp(sp=4000, dp=5009), fill(0x41, 60)";
    let stop = false;
    const until = async (what: string, ok: () => boolean, ms = 8000) => {
      const end = Date.now() + ms;
      while (!ok()) {
        if (Date.now() > end) throw new Error(`${what}: ${JSON.stringify(events)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      const running = ingestLive({
        devices: [{ device: veth.host, filter: "udp port 5009" }],
        store,
        windowSec: 1,
        latenessSec: 0,
        status,
        stopRequested: () => stop,
        onEvent: (level, msg) => void events.push({ level, msg }),
      });
      const dev = () => status.devices.get(veth.host);
      await until("started", () => dev() !== undefined);
      await veth.trafgen(frame, 200);
      await until("first 200", () => dev()!.packets === 200);
      await sh(["ip", "link", "del", veth.host]);
      await until("gone", () => events.some((e) => e.msg === "capture device gone"));
      assert.equal(dev()!.state, "failed");
      assert.match(status.notReady()!, /is failed/);
      await veth.link();
      await until("back", () => events.some((e) => e.msg === "capture device back"));
      assert.equal(dev()!.state, "capturing");
      await veth.trafgen(frame, 300);
      await until("next 300", () => dev()!.packets === 500);
      stop = true;
      const [run] = await running;
      assert.equal(run!.packets, 500);
      assert.equal(dev()!.reopens, 1);
      // Both rings' counts, in one source.
      assert.equal(run!.capture.received, 500);
      const [r] = await store.rows(
        `SELECT count(DISTINCT source_no) AS sources, sum(packets) AS p,
                sum(capture_received) AS rec FROM window_totals`,
      );
      assert.deepEqual([Number(r!.sources), Number(r!.p), Number(r!.rec)], [1, 500, 500]);
      // Per 5-tuple, what was sent: 500 frames of 102 bytes (14 + 20 + 8 + 60).
      const flows = await store.rows(
        `SELECT ip_text(src_addr, ip_version) AS src, ip_text(dst_addr, ip_version) AS dst, proto,
                src_port, dst_port, sum(packets)::BIGINT AS p, sum(bytes)::BIGINT AS b
         FROM window_flows WHERE task_no = 0 GROUP BY ALL`,
      );
      assert.deepEqual(
        flows.map((f) => [f.src, f.dst, f.proto, f.src_port, f.dst_port, Number(f.p), Number(f.b)]),
        [["10.78.0.2", "10.78.0.1", 17, 4000, 5009, 500, 500 * 102]],
      );
    } finally {
      stop = true;
      await store.close();
      await veth.remove();
    }
  },
});

Deno.test({
  name: "live: two devices at once, a busy one and a quiet one, each its own source",
  ignore: !ROOT,
  async fn() {
    const veth = await makeVeth(`${(Deno.pid + 2) % 10000}`);
    const store = await Store.open(":memory:");
    const status = new CollectorStatus(1, 0);
    let stop = false;
    try {
      const running = ingestLive({
        devices: [{ device: "lo", filter: "udp port 9" }, { device: veth.host, filter: "udp" }],
        store,
        windowSec: 1,
        latenessSec: 0,
        status,
        stopRequested: () => stop,
      });
      while (status.devices.size < 2) await new Promise((r) => setTimeout(r, 50));
      await veth.trafgen(
        "eth(da=02:00:00:00:00:01, sa=02:00:00:00:00:02), " +
          "ipv4(saddr=10.78.0.2, daddr=10.78.0.1), udp(sp=dinc(4000, 4009), dp=5010), fill(0, 40)",
        3000,
      );
      const end = Date.now() + 8000;
      while (status.devices.get(veth.host)!.packets < 3000 && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 1200));
      stop = true;
      const runs = await running;
      assert.deepEqual(runs.map((r) => [r.device, r.packets]), [["lo", 0], [veth.host, 3000]]);
      const rows = await store.rows(
        `SELECT s.inputs AS device, count(*) AS windows, sum(w.packets) AS p
         FROM window_totals w JOIN sources s USING (source_no) GROUP BY 1 ORDER BY 1`,
      );
      const byDevice = new Map(rows.map((r) => [String(r.device), r]));
      assert.equal(Number(byDevice.get(veth.host)!.p), 3000);
      assert.equal(Number(byDevice.get("lo")!.p), 0);
      // Both kept their windows on the clock: the quiet one as many as the busy one.
      assert.equal(Number(byDevice.get("lo")!.windows), Number(byDevice.get(veth.host)!.windows));
      const [f] = await store.rows(
        "SELECT count(*) AS flows FROM window_flows w JOIN sources s USING (source_no) " +
          `WHERE s.inputs = '${veth.host}' AND task_no = 0 GROUP BY window_start ORDER BY 1 DESC LIMIT 1`,
      );
      assert.equal(Number(f!.flows), 10);
    } finally {
      stop = true;
      await store.close();
      await veth.remove();
    }
  },
});
