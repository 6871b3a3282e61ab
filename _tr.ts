import { openCapture } from "/work/main/collector/reader/mod.ts";
import { PacketBatch } from "/work/main/collector/batch.ts";
import { decodeBatch } from "/work/main/collector/decode/mod.ts";
import { FlowRecords, FlowTracker } from "/work/main/collector/flow_tracker.ts";
const batch = new PacketBatch(4096);
for (let run = 0; run < 4; run++) {
  const r = await openCapture(Deno.env.get("F") ?? "/tmp/x/b.pcap");
  const recs = new FlowRecords(1024);
  const tr = new FlowTracker(recs);
  let t = 0;
  for (let k; (k = await r.fill(batch)) > 0;) {
    decodeBatch(batch);
    const t0 = performance.now();
    tr.addBatch(batch);
    if (recs.length > 65536) recs.clear();
    t += performance.now() - t0;
  }
  r.close();
  console.log("tracker", t.toFixed(0), "ms");
}
