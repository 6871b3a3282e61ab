/**
 * `netspectra serve`, `analyze --serve` and `netspectra token` as a user runs them: closed by
 * default (an admin token made once beside the store, mode 0600, said once), refused on a
 * non-loopback address without configured tokens, configured tokens with their scopes, TLS
 * from certificate files, and a clean exit on SIGINT.
 */

import assert from "node:assert/strict";
import { runCli, startCli } from "./_run.ts";

interface Served {
  child: Deno.ChildProcess;
  url: string;
  /** stderr up to the serving line. */
  said: string;
}

/** Starts `netspectra ARGS` and waits for its "serving url=…" line. */
async function start(args: string[], cwd: string): Promise<Served> {
  const s = await startCli(args, cwd, /serving url=(\S+)/);
  return { child: s.child, url: s.found, said: s.said };
}

async function stop(s: Served): Promise<number> {
  s.child.kill("SIGINT");
  return (await s.child.status).code;
}

async function genStore(dir: string): Promise<void> {
  let r = await runCli(["gen", "--packets", "3000", "--rate", "20", "-o", "g.pcap"], dir);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(["analyze", "g.pcap", "--db", "g.duckdb"], dir);
  assert.equal(r.code, 0, r.stderr);
}

Deno.test("serve: closed by default, with an admin token made once beside the store", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await genStore(dir);
    const first = await start(["serve", "--db", "g.duckdb", "--listen", "127.0.0.1:0"], dir);
    assert.match(first.said, /admin token for the API was written .* file=g\.duckdb\.token/);
    const st = await Deno.stat(`${dir}/g.duckdb.token`);
    assert.equal(st.mode! & 0o777, 0o600);
    const token = (await Deno.readTextFile(`${dir}/g.duckdb.token`)).trim();
    const none = await fetch(`${first.url}api/v1/status`);
    assert.equal(none.status, 401);
    await none.body?.cancel();
    const ok = await fetch(`${first.url}api/v1/status`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).store.packets, 3000);
    assert.equal(await stop(first), 0);
    // The second start uses the same token and says nothing of it.
    const again = await start(["serve", "--db", "g.duckdb", "--listen", "127.0.0.1:0"], dir);
    assert.doesNotMatch(again.said, /token/);
    const ok2 = await fetch(`${again.url}api/v1/sources`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(ok2.status, 200);
    await ok2.body?.cancel();
    assert.equal(await stop(again), 0);
    // No configured token and an address others reach: refused with one line.
    const open = await runCli(["serve", "--db", "g.duckdb", "--listen", "0.0.0.0:0"], dir);
    assert.equal(open.code, 1);
    assert.equal(open.stderr.trim().split("\n").length, 1, open.stderr);
    assert.match(open.stderr, /needs API tokens in the configuration \(http\.tokens/);
    // A token file others may read is refused, not used.
    await Deno.chmod(`${dir}/g.duckdb.token`, 0o644);
    const leaky = await runCli(["serve", "--db", "g.duckdb", "--listen", "127.0.0.1:0"], dir);
    assert.equal(leaky.code, 1);
    assert.match(leaky.stderr, /can be read by others \(mode 644\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve: configured tokens keep their scopes, over TLS from certificate files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await genStore(dir);
    const made = await runCli(["token", "--scope", "read", "--name", "grafana"], dir);
    assert.equal(made.code, 0, made.stderr);
    const token = made.stdout.split("\n")[0]!;
    assert.match(token, /^[0-9a-f]{64}$/);
    const entry = made.stdout.slice(made.stdout.indexOf("    - name"));
    const gen = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
      ],
      cwd: dir,
      stdout: "null",
      stderr: "null",
    }).output();
    assert.ok(gen.success);
    await Deno.writeTextFile(
      `${dir}/c.yaml`,
      `http:\n  tls:\n    cert: ${dir}/cert.pem\n    key: ${dir}/key.pem\n  tokens:\n${
        entry.replace(/^ {2}/gm, "")
      }\n`,
    );
    const s = await start([
      "serve",
      "--db",
      "g.duckdb",
      "--listen",
      "127.0.0.1:0",
      "--config",
      "c.yaml",
    ], dir);
    assert.match(s.url, /^https:/);
    assert.doesNotMatch(s.said, /token/);
    await assert.rejects(Deno.stat(`${dir}/g.duckdb.token`)); // configured tokens: none made
    const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(`${dir}/cert.pem`)] });
    try {
      const auth = { authorization: `Bearer ${token}` };
      const q = await fetch(`${s.url}api/v1/query?from=-1d&group_by=proto`, {
        headers: auth,
        client,
      });
      assert.equal(q.status, 200);
      assert.equal((await q.json()).summary.matched.packets, 3000);
      const sql = await fetch(`${s.url}api/v1/sql`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ sql: "SELECT 1" }),
        client,
      });
      assert.equal(sql.status, 403);
      await sql.body?.cancel();
      const login = await fetch(`${s.url}api/v1/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token }),
        client,
      });
      assert.match(login.headers.get("set-cookie")!, /Secure/);
      await login.body?.cancel();
    } finally {
      client.close();
    }
    assert.equal(await stop(s), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze --serve serves the store it wrote; flag mistakes are one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runCli(["gen", "--packets", "2000", "-o", "g.pcap"], dir);
    assert.equal(r.code, 0, r.stderr);
    const s = await start([
      "analyze",
      "g.pcap",
      "--db",
      "a.duckdb",
      "--serve",
      "--listen",
      "127.0.0.1:0",
    ], dir);
    const token = (await Deno.readTextFile(`${dir}/a.duckdb.token`)).trim();
    const res = await fetch(`${s.url}api/v1/status`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal((await res.json()).store.packets, 2000);
    assert.equal(await stop(s), 0);
    const mem = await runCli(["analyze", "g.pcap", "--db", ":memory:", "--serve"], dir);
    assert.equal(mem.code, 2);
    assert.match(mem.stderr, /--serve needs a store file/);
    const missing = await runCli(["serve", "--db", "nothing.duckdb"], dir);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no store at nothing\.duckdb/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
