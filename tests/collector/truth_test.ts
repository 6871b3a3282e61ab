/**
 * `analyze` against tshark's truth for every shared capture: frames, bytes, non-IP frames
 * and every unidirectional flow (5-tuple, packets, bytes) — all equal, no tolerance. Through
 * the path the CLI runs: ingest into a store (windows, late parts, the default sketches),
 * then the report read back from it, as `analyze --format json` prints it.
 */

import assert from "node:assert/strict";
import { analyzeIntoStore } from "../../cli/analyze_store.ts";
import { defaultTask, WINDOW_SEC_DEFAULT } from "../../collector/ingest/ingest.ts";
import { PcapFormatError } from "../../collector/reader/mod.ts";
import { toJsonDoc } from "../../cli/report/mod.ts";
import { defaultSketches } from "../../collector/engine/sketch_bank.ts";
import { captures, type TruthFlow } from "../_testdata.ts";

function flowKey(
  f: { src: string; dst: string; proto: number; sport: number | null; dport: number | null },
) {
  return `${f.src}|${f.dst}|${f.proto}|${f.sport ?? ""}|${f.dport ?? ""}`;
}

/** What `netspectra analyze --db :memory: --format json FILE` runs, with its defaults. */
function analyze(path: string) {
  const task = defaultTask();
  return analyzeIntoStore([path], ":memory:", 0, {
    windowSec: WINDOW_SEC_DEFAULT,
    tasks: [task],
    sketches: defaultSketches(),
    reportTask: task,
    retention: {},
    onProgress: () => {},
  }, { talkers: false });
}

for (const { path, name, truth } of captures()) {
  Deno.test(`analyze matches tshark truth: ${name}`, async () => {
    const refused = truth.frame_count === 0 && truth.tshark_error !== null;
    if (refused) {
      // tshark refuses the file: we must too, with one clear error, never a crash.
      await assert.rejects(analyze(path), PcapFormatError);
      return;
    }
    const { run, summary } = await analyze(path);
    const doc = toJsonDoc(run, summary) as {
      totals: { frames: number; bytes: number; cap_bytes: number; non_ip_frames: number };
      flows: {
        src_ip: string;
        dst_ip: string;
        proto: number;
        src_port: number | null;
        dst_port: number | null;
        packets: number;
        bytes: number;
      }[];
    };
    assert.equal(doc.totals.frames, truth.frame_count, "frames");
    assert.equal(doc.totals.bytes, truth.bytes.frame_len_sum, "Σ frame length");
    assert.equal(doc.totals.cap_bytes, truth.bytes.cap_len_sum, "Σ captured length");
    assert.equal(doc.totals.non_ip_frames, truth.non_ip_frames, "non-IP frames");
    const ours = new Map(doc.flows.map((f) => [
      flowKey({
        src: f.src_ip,
        dst: f.dst_ip,
        proto: f.proto,
        sport: f.src_port,
        dport: f.dst_port,
      }),
      [f.packets, f.bytes],
    ]));
    const theirs = new Map(truth.flows.map((f: TruthFlow) => [flowKey(f), [f.packets, f.bytes]]));
    assert.deepEqual(ours, theirs, "flows (5-tuple → packets, bytes)");
    if (truth.tshark_error?.includes("cut short")) {
      assert.ok(
        run.warnings.some((w) => /byte offset \d+/.test(w)),
        "warning names the byte offset",
      );
    }
  });
}
