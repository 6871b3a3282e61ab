/**
 * The live stream from the real daemon: `run --replay` at its original pace with 1 s windows,
 * a client reading /api/v1/live over a socket, leaving half-way and coming back with
 * Last-Event-ID: every window the store holds arrives once, in commit order, none missed.
 */

import assert from "node:assert/strict";
import { REPLAY_RUN_ARGS, RUN_LISTENING, runCli, startCli } from "./_run.ts";
import { readEvents, type SseEvent } from "../_sse.ts";
import { sh } from "../collector/live/_netns.ts";

const SLOW_CLIENTS = new URL("./_slow_clients.ts", import.meta.url).pathname;

Deno.test("live stream over HTTP: a client that reconnects with Last-Event-ID misses nothing and gets nothing twice", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 400 packets at 40 a second: a 10 s replay, about ten 1 s windows.
    const g = await runCli([
      "gen",
      "--packets",
      "400",
      "--flows",
      "40",
      "--rate",
      "40",
      "-o",
      "g.pcap",
    ], dir);
    assert.equal(g.code, 0, g.stderr);
    const { child, found: url } = await startCli(
      REPLAY_RUN_ARGS,
      dir,
      RUN_LISTENING,
    );
    const token = (await Deno.readTextFile(`${dir}/r.duckdb.token`)).trim();
    const auth = { authorization: `Bearer ${token}` };
    // Meanwhile the same question, again and again: what answers keep (the answer, the
    // store's facts, the range's totals) must follow the windows committed.
    let replaying = true;
    const asked = (async () => {
      const seen: { to: string; windows: number; packets: number; matched: number }[] = [];
      while (replaying) {
        const res = await fetch(`${url}api/v1/query?from=-1h&metric=packets`, { headers: auth })
          .catch(() => null);
        if (res?.status !== 200) break; // the run has ended
        const s = (await res.json()).summary;
        seen.push({
          to: s.range.to,
          windows: s.windows,
          packets: s.totals.packets,
          matched: s.matched.packets,
        });
        await new Promise((r) => setTimeout(r, 250));
      }
      return seen;
    })();
    // First visit: from the first window (last_event_id 0), for about four windows.
    const first = await fetch(`${url}api/v1/live?last_event_id=0`, { headers: auth });
    assert.equal(first.status, 200);
    const part1 = await readEvents(
      first.body!,
      (ev) => ev.filter((e) => e.event === "window").length >= 4,
    );
    const ids1 = part1.filter((e) => e.event === "window").map((e) => Number(e.id));
    // Gone a while: windows are committed meanwhile.
    await new Promise((r) => setTimeout(r, 2500));
    const again = await fetch(`${url}api/v1/live`, {
      headers: { ...auth, "last-event-id": String(ids1[ids1.length - 1]) },
    });
    const part2: SseEvent[] = await readEvents(again.body!, () => false); // until the run ends
    assert.equal((await child.status).code, 0);
    replaying = false;
    // Before the first window the range counts back from the wall clock: left out.
    const seen = (await asked).filter((s) => s.windows > 0);
    assert.ok(new Set(seen.map((s) => s.to)).size >= 5, JSON.stringify(seen));
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1]!, seen[i]!];
      assert.ok(b.to >= a.to && b.windows >= a.windows && b.packets >= a.packets, `${i}`);
      // Newer data, newer totals: an answer never pairs a later range with earlier figures.
      if (b.to > a.to) assert.ok(b.windows > a.windows && b.packets > a.packets, `${i}`);
      assert.equal(b.matched, b.packets); // gen's packets are all IP: the query holds them all
    }
    const ids2 = part2.filter((e) => e.event === "window").map((e) => Number(e.id));
    const stored = await runCli([
      "sql",
      "--db",
      "r.duckdb",
      "--format",
      "csv",
      "SELECT commit_seq FROM window_totals ORDER BY commit_seq",
    ], dir);
    assert.equal(stored.code, 0, stored.stderr);
    const want = stored.stdout.trim().split("\n").slice(1).map(Number);
    assert.ok(want.length >= 8, `${want.length} windows`);
    assert.deepEqual([...ids1, ...ids2], want);
    assert.ok(ids2.length >= 2, "some windows came after the reconnect");
    assert.ok(part2.some((e) => e.event === "hello"));
    // A replay is a device of the daemon too: its ticks carry the rates it is read at
    // (40 packets a second here), counting up to the capture's 400 packets.
    const ticks = [...part1, ...part2].filter((e) => e.event === "tick").map((e) =>
      JSON.parse(e.data)
    );
    assert.ok(ticks.some((t) => t.packets_per_sec >= 10), JSON.stringify(ticks));
    assert.ok(ticks.every((t) => t.packets <= 400 && t.dropped === 0));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run: SIGHUP replaces the configured API tokens at once (a revoked one stops working)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const g = await runCli(["gen", "--packets", "300", "--rate", "20", "-o", "g.pcap"], dir);
    assert.equal(g.code, 0, g.stderr);
    const token = async () => (await runCli(["token", "--scope", "read"], dir)).stdout;
    const [a, b] = [await token(), await token()];
    const entry = (out: string) => out.slice(out.indexOf("    - name")).replace(/^ {2}/gm, "");
    const config = (out: string) =>
      Deno.writeTextFile(
        `${dir}/c.yaml`,
        `sources:\n  - replay: g.pcap\n    speed: 1\nhttp:\n  listen: 127.0.0.1:0\n  tokens:\n${
          entry(out)
        }\n`,
      );
    await config(a);
    const { child, found: url } = await startCli(
      ["run", "--config", "c.yaml", "--window", "1s", "--db", "r.duckdb"],
      dir,
      RUN_LISTENING,
    );
    const status = async (out: string) => {
      const res = await fetch(`${url}api/v1/sources`, {
        headers: { authorization: `Bearer ${out.split("\n")[0]}` },
      });
      await res.body?.cancel();
      return res.status;
    };
    assert.equal(await status(a), 200);
    assert.equal(await status(b), 401);
    await config(b);
    child.kill("SIGHUP");
    let swapped = false;
    for (let i = 0; i < 50 && !swapped; i++) {
      await new Promise((r) => setTimeout(r, 100));
      swapped = await status(b) === 200;
    }
    assert.ok(swapped, "the new token works after SIGHUP");
    assert.equal(await status(a), 401, "the old one no longer does");
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "live stream over HTTP: a client that stops reading its socket is reset and let go, while capture and a reading client go on",
  // The daemon runs in a network namespace of the test's own, whose TCP send buffers are
  // capped at 64 KiB (tcp_wmem is per namespace): with the host's 4 MiB, thousands of
  // window events would sit in the kernel before the client's queue saw any.
  ignore: Deno.uid() !== 0,
}, async () => {
  const dir = await Deno.makeTempDir();
  const ns = `nsslow${Deno.pid}`;
  try {
    // 1,500 packets about one a second, replayed as fast as it goes: ~900 windows of 1 s,
    // events far beyond what a client's queue and its socket hold.
    const g = await runCli(
      ["gen", "--packets", "1500", "--flows", "300", "--rate", "1", "-o", "g.pcap"],
      dir,
    );
    assert.equal(g.code, 0, g.stderr);
    await sh(["ip", "netns", "add", ns]);
    const inNs = ["ip", "netns", "exec", ns];
    await sh([...inNs, "ip", "link", "set", "lo", "up"]);
    await sh([...inNs, "sysctl", "-q", "-w", "net.ipv4.tcp_wmem=4096 16384 65536"]);
    const args = [...REPLAY_RUN_ARGS];
    args[args.indexOf("--speed") + 1] = "0";
    const { child, found: url } = await startCli(args, dir, RUN_LISTENING, inNs);
    const token = (await Deno.readTextFile(`${dir}/r.duckdb.token`)).trim();
    const clients = new Deno.Command(inNs[0]!, {
      args: [...inNs.slice(1), Deno.execPath(), "run", "-A", SLOW_CLIENTS, url, token],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.equal((await child.status).code, 0);
    const out = await clients;
    assert.ok(out.success, "the clients' helper failed");
    const got = JSON.parse(new TextDecoder().decode(out.stdout));
    const stored = await runCli(
      ["sql", "--db", "r.duckdb", "--format", "csv", "SELECT count(*) AS n FROM window_totals"],
      dir,
    );
    const n = Number(stored.stdout.trim().split("\n")[1]);
    assert.ok(n >= 800, `${n} windows stored`);
    // The reading client got every window once, in order: the silent one held nothing up.
    assert.deepEqual(got.windows, Array.from({ length: n }, (_, i) => i + 1));
    assert.equal(got.clientsMax, 2);
    assert.equal(got.resets, 1, "the silent client was reset, and only it");
    // The silent client's socket: fewer windows than stored, and nothing after the reset.
    assert.ok(got.silent.windows < n, `${got.silent.windows} of ${n}`);
    assert.ok(got.silent.reset, "the silent client was told it was reset");
    assert.equal(got.silent.afterReset, 0);
  } finally {
    await sh(["ip", "netns", "del", ns]).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
