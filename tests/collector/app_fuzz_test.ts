/**
 * Robustness of the DNS and HTTP decoders: real DNS/HTTP payloads from the shared captures,
 * mutated (byte flips, truncation, pointer loops, huge counts, broken lines), never make a
 * decoder throw or run away; malformed messages are counted by reason.
 */

import assert from "node:assert/strict";
import { FAMILY_NONE, PacketBatch } from "../../collector/packet/batch.ts";
import { decodeBatch } from "../../collector/decode/mod.ts";
import { decodeDns, DNS_ERROR_NAMES, dnsKind, DnsMessage } from "../../collector/decode/dns.ts";
import { decodeHttp, HttpMessage } from "../../collector/decode/http.ts";
import { rng } from "../../collector/gen/gen.ts";
import { openCapture } from "../../collector/reader/mod.ts";
import { captures } from "../_testdata.ts";

async function payloads(): Promise<{ dns: Uint8Array[]; http: Uint8Array[] }> {
  const dns: Uint8Array[] = [], http: Uint8Array[] = [];
  const b = new PacketBatch();
  const h = new HttpMessage();
  for (const { path, truth } of captures()) {
    if (truth.frame_count === 0) continue;
    const r = await openCapture(path);
    for (let n; (n = await r.fill(b)) > 0;) {
      decodeBatch(b);
      for (let i = 0; i < n; i++) {
        const len = b.payloadLen[i]!;
        if (b.family[i] === FAMILY_NONE || len === 0) continue;
        const p = b.bytes.slice(b.payloadOff[i]!, b.payloadOff[i]! + len);
        if (b.proto[i] === 17 && dnsKind(b.srcPort[i]!, b.dstPort[i]!) !== 0) dns.push(p);
        else if (b.proto[i] === 6 && decodeHttp(p, 0, p.length, h)) http.push(p);
      }
    }
    r.close();
  }
  return { dns, http };
}

const ROUNDS = 100_000;

Deno.test(`DNS and HTTP decoders survive ${ROUNDS} mutated real payloads each`, async () => {
  const { dns, http } = await payloads();
  assert.ok(dns.length > 400 && http.length > 20, `${dns.length} DNS, ${http.length} HTTP`);
  const rand = rng(2026);
  const m = new DnsMessage(), h = new HttpMessage();
  const reasons = new Map<string, number>();
  let httpSeen = 0;
  for (let k = 0; k < ROUNDS; k++) {
    for (const [pool, isDns] of [[dns, true], [http, false]] as const) {
      const src = pool[Math.floor(rand() * pool.length)]!;
      const b = src.slice(0, rand() < 0.3 ? Math.floor(rand() * (src.length + 1)) : src.length);
      for (let e = Math.floor(rand() * 4); e > 0 && b.length > 0; e--) {
        const at = Math.floor(rand() * Math.min(b.length, isDns ? 64 : 200));
        const r = rand();
        if (isDns && r < 0.2 && at + 1 < b.length) b[at] = 0xc0, b[at + 1] = at; // self pointer
        else if (isDns && r < 0.3 && b.length >= 6) b[4] = 0xff, b[5] = 0xff; // huge qdcount
        else if (!isDns && r < 0.3) b[at] = [0x0d, 0x0a, 0x20, 0x3a][Math.floor(rand() * 4)]!;
        else b[at] = Math.floor(rand() * 256);
      }
      if (isDns) {
        if (!decodeDns(b, 0, b.length, m)) continue;
        const reason = DNS_ERROR_NAMES[m.error]!;
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
        assert.ok(m.queries <= m.qdcount && m.answers <= m.ancount);
      } else if (decodeHttp(b, 0, b.length, h)) {
        httpSeen++;
        assert.ok(h.hostLen <= b.length && h.uriLen <= b.length);
      }
    }
  }
  for (const r of ["dns_truncated", "dns_pointer_loop", "dns_bad_label", "none"]) {
    assert.ok((reasons.get(r) ?? 0) > 100, `reason ${r}: ${reasons.get(r)}`);
  }
  assert.ok(httpSeen > ROUNDS / 4, `${httpSeen} mutated payloads still HTTP`);
});
