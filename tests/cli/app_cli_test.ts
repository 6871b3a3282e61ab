/**
 * DNS and HTTP as a user meets them: the report's sections, the JSON document and the rows
 * `sql` reads back, on a real capture.
 */

import assert from "node:assert/strict";
import { runCli as run } from "./_run.ts";

Deno.test("analyze shows DNS and HTTP sections, in text and JSON", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netspectra-app-" });
  try {
    const sll = new URL("../../../shared/testdata/pcaps/pcapplusplus__sll.pcap", import.meta.url)
      .pathname;
    const t = await run(["analyze", "--db", "a.duckdb", sll], dir);
    assert.equal(t.code, 0, t.stderr);
    assert.match(
      t.stdout,
      /DNS \(12 queries, 10 responses: 0 NXDOMAIN, 0 other errors; 0 malformed\)/,
    );
    assert.match(t.stdout, /daisy\.ubuntu\.com\s+A\s+6\s+6\s+0\s+\d+\.\d/);
    assert.match(t.stdout, /HTTP \(2 requests, 2 responses\)/);
    assert.match(t.stdout, /www\.ynet\.co\.il\s+GET\s+\/home\/0,7340,L-8,00\.html\s+1/);
    assert.match(t.stdout, /status: 200 × 1, 301 × 1|status: 301 × 1, 200 × 1/);
    assert.match(t.stdout, /user agent\s+requests\n\s+Wget\/1\.13\.4 \(linux-gnu\)\s+2/);
    const j = await run(["analyze", "--db", "a.duckdb", "--format", "json", sll], dir);
    const doc = JSON.parse(j.stdout);
    assert.equal(doc.dns.queries, 12);
    assert.equal(doc.dns.responses, 10);
    assert.deepEqual(doc.dns.malformed, {});
    assert.equal(doc.http.requests, 2);
    assert.deepEqual(doc.http.user_agents, [
      { protocol: "http", user_agent: "Wget/1.13.4 (linux-gnu)", requests: 2 },
    ]);
    assert.deepEqual(
      doc.http.status.map((s: { code: number }) => s.code).sort(),
      [200, 301],
    );
    const q = await run([
      "sql",
      "--db",
      "a.duckdb",
      "--format",
      "csv",
      "SELECT qname, queries, responses FROM dns_names WHERE qname = 'daisy.ubuntu.com'",
    ], dir);
    assert.equal(q.stdout, "qname,queries,responses\ndaisy.ubuntu.com,6,6\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
