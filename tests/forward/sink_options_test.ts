/**
 * A sink's options against a real ClickHouse: TLS to a server whose certificate a CA of the
 * test's own signed (the CA given in the config; another CA is refused), only the tables and
 * tasks the config names, and small batches (many INSERTs) giving the same rows as one.
 */

import assert from "node:assert/strict";
import { EXPORT_COLUMNS } from "../../storage/mod.ts";
import { runCli } from "../cli/_run.ts";
import {
  centralLines,
  chProxy,
  sameTables,
  sinkConfig,
  STORE_FLOWS,
  storeLines,
  withClickHouse,
} from "./_central.ts";

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const r = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
}

/** A CA (ca.pem), a certificate it signed for 127.0.0.1 (srv.pem, srv.key), another CA (other.pem). */
async function makeCerts(dir: string): Promise<void> {
  for (const ca of ["ca", "other"]) {
    await openssl(
      dir,
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${ca}.key`,
      "-out",
      `${ca}.pem`,
      "-days",
      "1",
      "-subj",
      `/CN=netspectra test ${ca}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign",
    );
  }
  await openssl(
    dir,
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "srv.key",
    "-out",
    "srv.csr",
    "-subj",
    "/CN=127.0.0.1",
  );
  await Deno.writeTextFile(
    `${dir}/srv.ext`,
    "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "srv.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "srv.pem",
    "-days",
    "1",
    "-extfile",
    "srv.ext",
  );
}

Deno.test("a sink over TLS with its CA; only the tables and tasks it names; small batches", async () => {
  await withClickHouse(async (ch, dir) => {
    await makeCerts(dir);
    // TLS in front of ClickHouse's plain HTTP port: the sink's TLS is what is tested.
    const front = chProxy(Number(new URL(ch.url).port), {
      tls: {
        cert: await Deno.readTextFile(`${dir}/srv.pem`),
        key: await Deno.readTextFile(`${dir}/srv.key`),
      },
    });
    const count = async (sql: string) => Number((await ch.query(sql))[0]![0]);
    try {
      const only = "    tables: [flows, sketches]\n    tasks: [flows, top_sources]\n" +
        "    batch: { rows: 50, interval: 0s }\n";
      // Another CA: the server is not trusted, nothing goes.
      await Deno.writeTextFile(
        `${dir}/c.yaml`,
        sinkConfig(front.url, `    tls: { ca: other.pem }\n${only}`),
      );
      const args = ["analyze", "g.pcap", "--db", "a.duckdb", "--config", "c.yaml"];
      let r = await runCli([...args, "--forward", "central", "--forward-wait", "3s"], dir);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /window\(s\) wait in the outbox for sink central/);
      const err = await storeLines(
        dir,
        "a.duckdb",
        "SELECT DISTINCT last_error FROM export_outbox WHERE last_error IS NOT NULL",
      );
      assert.match(err.join(" "), /certificate|issuer|UnknownIssuer/i);
      assert.equal(await count("SELECT count() FROM ns.windows"), 0);
      // Its own CA: all there, once.
      await Deno.writeTextFile(
        `${dir}/c.yaml`,
        sinkConfig(front.url, `    tls: { ca: ca.pem }\n${only}`),
      );
      r = await runCli(["export", "retry", "--db", "a.duckdb", "--config", "c.yaml"], dir);
      assert.equal(r.code, 0, r.stderr);
      // The tables named (and the windows' totals, always), the tasks named.
      assert.deepEqual(await centralLines(ch), await storeLines(dir, "a.duckdb", STORE_FLOWS));
      const windows = await storeLines(dir, "a.duckdb", "SELECT count(*) FROM window_totals");
      assert.equal(await count("SELECT count() FROM ns.windows"), Number(windows[0]));
      const tasks = (await ch.query("SELECT DISTINCT task FROM ns.sketches")).map((x) => x[0]);
      assert.deepEqual(tasks, ["top_sources"]);
      const sketches = await storeLines(
        dir,
        "a.duckdb",
        "SELECT count(*) FROM window_sketches JOIN tasks USING (source_no, task_no) WHERE name = 'top_sources'",
      );
      assert.equal(await count("SELECT count() FROM ns.sketches"), Number(sketches[0]));
      for (const t of ["records", "sketch_keys", "dns", "http"]) {
        assert.equal(await count(`SELECT count() FROM ns.${t}`), 0, t);
      }
      // Batches of at most 50 rows per table: every window (hundreds of flows) went alone, an
      // INSERT per table it has rows in (windows, flows, sketches).
      const inserts = await count("SELECT value FROM system.events WHERE event = 'InsertQuery'");
      assert.equal(inserts, 3 * Number(windows[0]), "INSERTs");
      // Everything, the default, to a second database over the same TLS: every table equal.
      await Deno.writeTextFile(
        `${dir}/d.yaml`,
        sinkConfig(front.url, "    tls: { ca: ca.pem }\n").replace("database: ns", "database: ns2"),
      );
      r = await runCli([
        "analyze",
        "g.pcap",
        "--db",
        "b.duckdb",
        "--config",
        "d.yaml",
        "--forward",
        "central",
      ], dir);
      assert.equal(r.code, 0, r.stderr);
      const tables = await ch.query("SELECT name FROM system.tables WHERE database = 'ns2'");
      assert.equal(tables.length, 11, "the sink made its tables");
      // (sameTables compares database ns: ns2's tables take its place.)
      await ch.query("DROP DATABASE ns");
      await ch.query("CREATE DATABASE ns");
      await ch.query(
        `RENAME TABLE ${Object.keys(EXPORT_COLUMNS).map((t) => `ns2.${t} TO ns.${t}`).join(", ")}`,
      );
      await sameTables(ch, dir, "b.duckdb");
    } finally {
      front.close();
    }
  });
});
