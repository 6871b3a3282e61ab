/**
 * DNS and HTTP per window in the store, against tshark's truth for every shared capture:
 * DNS messages per (flavour, name, type, query/response), HTTP requests per (host, method,
 * path) and responses per status, against the reassembled view (TCP reassembly and IP
 * defragmentation, as the app layer does), summed over the windows.
 */

import assert from "node:assert/strict";
import { Store } from "../../storage/mod.ts";
import { ingestToSummary } from "../_analyze.ts";
import { captures, PCAPS_DIR } from "../_testdata.ts";

// deno-lint-ignore no-explicit-any
type Json = any;
const usable = captures().filter((c) => c.truth.frame_count > 0);

function count(map: Map<string, number>, key: string, n = 1) {
  map.set(key, (map.get(key) ?? 0) + n);
}

for (const { path, name, truth } of usable) {
  const t = truth as Json;
  const dnsTruth = ((t.dns?.reassembled ?? []) as Json[]).filter((e) => e.carrier === "outer");
  const httpTruth = t.http?.reassembled ?? {};
  const reqTruth = ((httpTruth.requests ?? []) as Json[]).filter((e) => e.carrier === "outer");
  const resTruth = ((httpTruth.responses ?? []) as Json[]).filter((e) => e.carrier === "outer");
  if (dnsTruth.length === 0 && reqTruth.length === 0 && resTruth.length === 0) continue;
  Deno.test(`store: DNS and HTTP per window add up to tshark's reassembled view: ${name}`, async () => {
    const store = await Store.open(":memory:");
    try {
      await ingestToSummary([path], { store, windowSec: 1 });
      const want = new Map<string, number>();
      for (const e of dnsTruth) {
        for (const m of e.messages) {
          const [qname, qtype] = m.queries[0] ?? ["", 0];
          count(want, `${e.protocol}|${qname}|${qtype}|${m.response ? "r" : "q"}`);
        }
      }
      const got = new Map<string, number>();
      for (
        const r of await store.rows(
          `SELECT protocol, qname, qtype, sum(queries) AS q, sum(responses) AS r
           FROM window_dns GROUP BY ALL`,
        )
      ) {
        if (Number(r.q) > 0) count(got, `${r.protocol}|${r.qname}|${r.qtype}|q`, Number(r.q));
        if (Number(r.r) > 0) count(got, `${r.protocol}|${r.qname}|${r.qtype}|r`, Number(r.r));
      }
      assert.deepEqual(got, want, "DNS messages per flavour, name, type, direction");
      const wantRcodes = new Map<string, number>();
      for (const e of dnsTruth) {
        for (const m of e.messages) if (m.response) count(wantRcodes, `${e.protocol}|${m.rcode}`);
      }
      const gotRcodes = new Map<string, number>();
      for (
        const r of await store.rows(
          "SELECT protocol, rcode, sum(responses) AS n FROM window_dns_rcodes GROUP BY ALL",
        )
      ) count(gotRcodes, `${r.protocol}|${r.rcode}`, Number(r.n));
      assert.deepEqual(gotRcodes, wantRcodes, "DNS responses per flavour and RCODE");
      const wantReq = new Map<string, number>();
      for (const e of reqTruth) {
        count(wantReq, `${e.protocol}|${e.host}|${e.method}|${e.uri.split("?")[0]}`);
      }
      const gotReq = new Map<string, number>();
      for (const r of await store.rows("SELECT * FROM http_requests")) {
        count(gotReq, `${r.protocol}|${r.host}|${r.method}|${r.path}`, Number(r.requests));
      }
      assert.deepEqual(gotReq, wantReq, "HTTP requests per host, method, path");
      const wantRes = new Map<string, number>();
      for (const e of resTruth) count(wantRes, `${e.protocol}|${e.code}`);
      const gotRes = new Map<string, number>();
      for (
        const r of await store.rows(
          "SELECT protocol, code, sum(responses) AS n FROM window_http_status GROUP BY ALL",
        )
      ) count(gotRes, `${r.protocol}|${r.code}`, Number(r.n));
      assert.deepEqual(gotRes, wantRes, "HTTP responses per status");
    } finally {
      await store.close();
    }
  });
}

Deno.test("store: a DNS answer is timed against its query", async () => {
  const file = PCAPS_DIR + "tcpdump__dns_udp.pcap";
  const t = usable.find((c) => c.path === file)!.truth as Json;
  const col = (k: string) => t.frames_columns.indexOf(k);
  const times = t.frames.map((f: Json[]) => Number(f[col("time_epoch")]));
  const store = await Store.open(":memory:");
  try {
    await ingestToSummary([file], { store });
    const [r] = await store.rows(
      "SELECT rtt_count, rtt_sum_us, rtt_max_us, nxdomain FROM window_dns",
    );
    assert.equal(Number(r!.rtt_count), 1);
    const us = (times[1] - times[0]) * 1e6;
    assert.ok(Math.abs(Number(r!.rtt_sum_us) - us) < 1, `${r!.rtt_sum_us} µs vs ${us}`);
    assert.equal(Number(r!.rtt_max_us), Number(r!.rtt_sum_us));
  } finally {
    await store.close();
  }
});

Deno.test("store: HTTP requests per User-Agent", async () => {
  const store = await Store.open(":memory:");
  try {
    await ingestToSummary([PCAPS_DIR + "pcapplusplus__sll.pcap"], { store, windowSec: 1 });
    const rows = await store.rows("SELECT * FROM http_user_agents");
    assert.deepEqual(
      rows.map((r) => [r.protocol, r.user_agent, Number(r.requests)]),
      [["http", "Wget/1.13.4 (linux-gnu)", 2]],
    );
    const [n] = await store.rows("SELECT sum(requests) AS n FROM window_http");
    assert.equal(Number(n!.n), 2, "both requests carried one");
  } finally {
    await store.close();
  }
});
