/**
 * DNS and HTTP per packet against tshark's truth (`dns.per_packet`, `http.per_packet`, the
 * messages carried by the outer UDP/TCP header) for every shared capture. Differences are
 * listed below with their reason; nothing else may differ.
 */

import assert from "node:assert/strict";
import { DNS_QUERIES_MAX } from "../../collector/decode/dns.ts";
import { dnsPerPacket, dnsReassembled, httpPerPacket, httpReassembled } from "../_app.ts";
import { captures } from "../_testdata.ts";

/** Objects with sorted keys, so entries compare whatever order their fields were built in. */
// deno-lint-ignore no-explicit-any
function norm(e: any): any {
  if (Array.isArray(e)) return e.map(norm);
  if (e === null || typeof e !== "object") return e;
  return Object.fromEntries(Object.keys(e).sort().map((k) => [k, norm(e[k])]));
}

// deno-lint-ignore no-explicit-any
type Json = any;

/**
 * Known differences, by capture and frame, each with its reason and what is still checked.
 * - tcpdump__dns_fwdptr.pcap frame 1: the message claims 10,518 questions, reached through
 *   forward compression pointers; tshark lists them all, we keep the first DNS_QUERIES_MAX
 *   (a bound on per-packet work). The kept ones must equal tshark's first ones.
 */
const CAPPED_QUERIES = new Set(["tcpdump__dns_fwdptr.pcap:1"]);

const outer = (list: Json[] | undefined) =>
  (list ?? []).filter((e) => e.carrier === "outer").map(({ carrier: _c, ...e }) => norm(e));

/** Our DNS entries equal tshark's, but for the listed capped cases (checked as far as kept). */
function sameDns(name: string, got: Json[], want: Json[]): void {
  assert.deepEqual(got.map((e) => e.frame), want.map((e) => e.frame), "frames");
  want.forEach((w, k) => {
    if (CAPPED_QUERIES.has(`${name}:${w.frame}`)) {
      assert.ok(w.messages[0].queries.length > DNS_QUERIES_MAX, "the case is still capped");
      w.messages[0].queries = w.messages[0].queries.slice(0, DNS_QUERIES_MAX);
    }
    assert.deepEqual(got[k], w, `frame ${w.frame}`);
  });
}

for (const { path, name, truth } of captures()) {
  if (truth.frame_count === 0) continue;
  const t = truth as Json;
  Deno.test(`DNS per packet matches tshark: ${name}`, async () => {
    sameDns(name, (await dnsPerPacket(path)).map(norm), outer(t.dns?.per_packet));
  });
  Deno.test(`DNS reassembled matches tshark: ${name}`, async () => {
    sameDns(name, (await dnsReassembled(path)).map(norm), outer(t.dns?.reassembled));
  });
  Deno.test(`HTTP reassembled matches tshark: ${name}`, async () => {
    const got = await httpReassembled(path);
    for (const kind of ["requests", "responses"] as const) {
      if (kind === "responses") assert.equal(got.lost, 0, "no message lost to limits or gaps");
      assert.deepEqual(got[kind].map(norm), outer(t.http?.reassembled?.[kind]), kind);
    }
  });
  Deno.test(`HTTP per packet matches tshark: ${name}`, async () => {
    const got = await httpPerPacket(path);
    for (const kind of ["requests", "responses"] as const) {
      assert.deepEqual(got[kind].map(norm), outer(t.http?.per_packet?.[kind]), kind);
    }
  });
}
