/**
 * Test helper, run inside the test's network namespace beside the daemon (a namespace's
 * loopback is its own): two clients of /api/v1/live from the first window — one reads
 * everything, one (SlowTcpClient) reads nothing until the stream ends — and /metrics polled
 * meanwhile. Prints what each got as one JSON object.
 *
 *   deno run -A tests/cli/_slow_clients.ts URL TOKEN
 *
 * @module
 */

import { readEvents } from "../_sse.ts";
import { SlowTcpClient } from "../_slow_tcp.ts";

const [url, token] = Deno.args as [string, string];
const silent = await SlowTcpClient.connect(Number(new URL(url).port), 4096);
await silent.write(
  `GET /api/v1/live?last_event_id=0 HTTP/1.1\r\nhost: 127.0.0.1\r\n` +
    `authorization: Bearer ${token}\r\n\r\n`,
);
const reading = await fetch(`${url}api/v1/live?last_event_id=0`, {
  headers: { authorization: `Bearer ${token}` },
});
let resets = 0, clientsMax = 0;
let running = true;
const metrics = (async () => {
  while (running) {
    const m = await fetch(`${url}metrics`).then((r) => r.text()).catch(() => null);
    if (m === null) return; // the run has ended
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(m)?.[1] ?? 0);
    resets = Math.max(resets, gauge("netspectra_live_resets_total"));
    clientsMax = Math.max(clientsMax, gauge("netspectra_live_clients"));
    await new Promise((r) => setTimeout(r, 200));
  }
})();
const events = await readEvents(reading.body!, () => false); // until the run ends
running = false;
await metrics;
const got = new TextDecoder().decode(await silent.readAll());
silent.close();
console.log(JSON.stringify({
  windows: events.filter((e) => e.event === "window").map((e) => Number(e.id)),
  resets,
  clientsMax,
  silent: {
    windows: got.split("event: window").length - 1,
    reset: got.includes("event: reset"),
    afterReset: got.includes("event: reset")
      ? got.slice(got.indexOf("event: reset")).split("event: ").length - 2
      : 0,
  },
}));
