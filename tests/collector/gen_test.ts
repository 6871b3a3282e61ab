/** `gen`'s traffic mix: the --dns / --http packet shares are met. */

import assert from "node:assert/strict";
import { PacketBatch } from "../../collector/packet/batch.ts";
import { decodeBatch } from "../../collector/decode/mod.ts";
import { GEN_DEFAULTS, generate } from "../../collector/gen/gen.ts";
import { openCapture } from "../../collector/reader/mod.ts";

/** Shares of packets on UDP port 53 and on TCP port 80, in percent. */
async function shares(dnsPercent?: number, httpPercent?: number, flows = 10_000) {
  const file = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    const out = await Deno.open(file, { write: true });
    await generate(out, { ...GEN_DEFAULTS, packets: 300_000, flows, dnsPercent, httpPercent });
    out.close();
    const r = await openCapture(file);
    const b = new PacketBatch();
    let n = 0, dns = 0, http = 0;
    for (let k; (k = await r.fill(b)) > 0;) {
      decodeBatch(b);
      for (let i = 0; i < k; i++) {
        n++;
        const port = (p: number) => b.srcPort[i] === p || b.dstPort[i] === p;
        if (b.proto[i] === 17 && port(53)) dns++;
        if (b.proto[i] === 6 && port(80)) http++;
      }
    }
    r.close();
    return [(100 * dns) / n, (100 * http) / n];
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("gen --dns / --http: the packet shares asked for, within half a point", async () => {
  for (const [d, h, flows] of [[10, 10, 10_000], [25, 5, 1_000], [0, 30, 50_000]] as const) {
    const [dns, http] = await shares(d, h, flows);
    assert.ok(Math.abs(dns! - d) < 0.5, `DNS ${dns!.toFixed(2)} % for ${d} %`);
    assert.ok(Math.abs(http! - h) < 0.5, `HTTP ${http!.toFixed(2)} % for ${h} %`);
  }
  // Unset: the kinds come from the flows' hashes, as always (about 15 % and 12 %).
  const [dns, http] = await shares();
  assert.ok(dns! > 13 && dns! < 17 && http! > 10 && http! < 14, `${dns} / ${http}`);
});
