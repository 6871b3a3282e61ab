/**
 * The engine's clock: windows close on the watermark (packet time, or a live clock given to
 * advance()), late packets are counted and never merged, closed windows go through the
 * bounded writer queue to the store while intake goes on.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PacketBatch } from "../../collector/packet/batch.ts";
import { decodeBatch } from "../../collector/decode/mod.ts";
import { Engine, type EngineOptions, HELPER_DEFAULT } from "../../collector/engine/engine.ts";
import { defaultTask } from "../../collector/ingest/ingest.ts";
import { openCapture } from "../../collector/reader/mod.ts";
import { defaultSketches } from "../../collector/engine/sketch_bank.ts";
import {
  releaseExport,
  TABLE_ROW,
  type TableRows,
  type WindowExport,
} from "../../collector/export/window_export.ts";
import { type WindowStore, WindowWriter } from "../../collector/engine/window_writer.ts";
import { Store } from "../../storage/mod.ts";
import { pcapFile, tempFile, udpFrame } from "../_builders.ts";

/** A decoded batch of UDP packets at the given times (seconds, fractional). */
async function batchAt(times: number[], srcLast = 1): Promise<PacketBatch> {
  const recs = times.map((t) => ({
    sec: Math.floor(t),
    frac: Math.round((t - Math.floor(t)) * 1e6),
    data: udpFrame(100, srcLast),
  }));
  const path = await tempFile(pcapFile(recs));
  const reader = await openCapture(path);
  const batch = new PacketBatch(Math.max(1, times.length));
  try {
    await reader.fill(batch);
    decodeBatch(batch);
  } finally {
    reader.close();
    await Deno.remove(path);
  }
  return batch;
}

function options(o: Partial<EngineOptions> = {}): EngineOptions {
  return {
    windowSec: 10,
    tasks: [defaultTask()],
    sketches: defaultSketches(),
    sensor: "test-sensor",
    source: "test-source",
    ...o,
  };
}

/** Packets of row r of an exact task's rows (below 2^32). */
function packetsOfRow(rows: TableRows, r: number): number {
  return rows.words[r * TABLE_ROW.WORDS + TABLE_ROW.PKTS_LO]!;
}

/** Collects exports in the order the engine hands them over. */
class Collect {
  readonly windows: WindowExport[] = [];
  push(w: WindowExport): Promise<void> {
    this.windows.push(w);
    return Promise.resolve();
  }
  starts(): number[] {
    return this.windows.map((w) => w.id.startSec);
  }
}

Deno.test("Engine: a quiet link's window is stored once the clock passes its end + lateness", async () => {
  const store = await Store.open(":memory:");
  const sourceNo = await store.beginSource("live", 10, [defaultTask()], defaultSketches());
  const writer = new WindowWriter(store, sourceNo);
  const engine = new Engine(options({ helper: HELPER_DEFAULT }), writer);
  try {
    await engine.addBatch(await batchAt([1000.5, 1001, 1003.25]));
    await engine.advance(1011.9); // window [1000, 1010) + 2 s lateness: not yet
    assert.equal(engine.windowsClosed, 0, "still open within its lateness");
    await engine.advance(1012); // no packet, only the clock
    assert.equal(engine.windowsClosed, 1);
    await writer.close();
    const rows = await store.rows(
      "SELECT epoch(window_start) AS s, packets, late_packets FROM window_totals",
    );
    assert.deepEqual(rows.map((r) => [Number(r.s), Number(r.packets), Number(r.late_packets)]), [
      [1000, 3, 0],
    ]);
    const [flows] = await store.rows("SELECT count(*) AS n, sum(packets) AS p FROM window_flows");
    assert.deepEqual([Number(flows!.n), Number(flows!.p)], [1, 3]);
  } finally {
    engine.close();
    await store.close();
  }
});

Deno.test("Engine: packets of a closed window go to a late part of it, counted; within lateness they join", async () => {
  const out = new Collect();
  const engine = new Engine(options(), out);
  try {
    // 1009.5 arrives after 1011 (within the 2 s lateness): joins window 1000.
    await engine.addBatch(await batchAt([1001, 1011, 1009.5]));
    assert.deepEqual(out.starts(), []);
    // 1012.5 passes 1010 + 2: window 1000 closes; then 1008 and 1007 are late: a late part of
    // window 1000, handed over when a run of another window (1013) comes.
    await engine.addBatch(await batchAt([1012.5, 1008, 1007, 1013]));
    assert.deepEqual(out.windows.map((w) => [w.id.startSec, w.id.part]), [[1000, 0], [1000, 1]]);
    await engine.addBatch(await batchAt([1003]));
    await engine.finish();
  } finally {
    engine.close();
  }
  const parts = out.windows.map((w) => [
    w.id.startSec,
    w.id.part,
    w.totals.packets,
    w.totals.latePackets,
  ]);
  assert.deepEqual(parts, [[1000, 0, 2, 0], [1000, 1, 2, 2], [1000, 2, 1, 1], [1010, 0, 3, 0]]);
  const late = out.windows[1]!;
  assert.equal(late.totals.lateBytes, 200);
  assert.equal(packetsOfRow(late.tasks[0]!.rows, 0), 2, "the late part has its own rows");
  assert.equal(late.records.length, 0, "flow records go with windows, not late parts");
  assert.equal(packetsOfRow(out.windows[0]!.tasks[0]!.rows, 0), 2, "the closed window untouched");
  assert.equal(engine.packetsIn, 8);
  assert.equal(engine.latePackets, 3);
  // Accounting: packets in = packets handed over, every one in exactly one export.
  assert.equal(out.windows.reduce((n, w) => n + w.totals.packets, 0), engine.packetsIn);
});

Deno.test("Engine: which packets are late does not depend on how the input is cut into batches", async () => {
  // Times jump back and forth around window edges, lateness 3 s on 5 s windows.
  const times: number[] = [];
  for (let k = 0; k < 400; k++) {
    const t = 2000 + k * 0.3;
    // Every 11th packet is a straggler 1 to 9 s old: some within the lateness, some not.
    times.push(k % 11 === 10 ? t - 1 - (k % 9) : t);
  }
  const summary = async (cut: number) => {
    const out = new Collect();
    const engine = new Engine(options({ windowSec: 5, latenessSec: 3, sketches: [] }), out);
    try {
      for (let k = 0; k < times.length; k += cut) {
        await engine.addBatch(await batchAt(times.slice(k, k + cut)));
      }
      await engine.finish();
    } finally {
      engine.close();
    }
    return JSON.stringify(
      out.windows.map((w) => [w.id.startSec, w.id.part, w.totals.packets, w.totals.latePackets]),
    );
  };
  const whole = await summary(400);
  assert.ok(JSON.parse(whole).some((w: number[]) => w[3]! > 0), `some late: ${whole}`);
  for (const cut of [1, 7, 64]) assert.equal(await summary(cut), whole, `batches of ${cut}`);
});

Deno.test("Engine: a lateness the open-window slots cannot hold is refused", () => {
  assert.throws(() => new Engine(options({ windowSec: 1, latenessSec: 9 }), new Collect()), {
    message: /Invalid lateness 9 s/,
  });
  assert.throws(() => new Engine(options({ latenessSec: -1 }), new Collect()), /lateness/);
});

/** A store double that takes `delayMs()` per window (a slow disk). */
class SlowStore implements WindowStore {
  readonly got: WindowExport[] = [];
  constructor(private readonly delayMs: () => number) {}
  async writeWindow(_n: number, w: WindowExport): Promise<void> {
    await new Promise((ok) => setTimeout(ok, this.delayMs()));
    this.got.push(w);
  }
}

Deno.test("WindowWriter: intake goes on while a slow store writes; its waits are measured, nothing lost", async () => {
  const slow = new SlowStore(() => 40);
  const writer = new WindowWriter(slow, 1, 2);
  const engine = new Engine(options({ windowSec: 1, latenessSec: 0, sketches: [] }), writer);
  const intakeAt: number[] = [];
  try {
    // 12 windows of 5 packets each; every batch closes the window before it.
    for (let s = 0; s < 12; s++) {
      await engine.addBatch(
        await batchAt([5000 + s, 5000 + s + 0.2, 5000 + s + 0.4, 5000 + s + 0.6, 5000 + s + 0.8]),
      );
      intakeAt.push(slow.got.length);
    }
    await engine.finish();
    await writer.close();
  } finally {
    engine.close();
  }
  assert.equal(slow.got.length, 12, "every window stored");
  assert.equal(slow.got.reduce((n, w) => n + w.totals.packets, 0), 60);
  assert.deepEqual(
    slow.got.map((w) => w.id.startSec),
    Array.from({ length: 12 }, (_, k) => 5000 + k),
  );
  // Intake ran ahead of the store (a queue of 2, then it waited), and the wait was measured.
  assert.ok(intakeAt[3]! < 3, `store had written ${intakeAt[3]} when intake was at batch 4`);
  assert.ok(writer.waitMs > 0 && writer.maxWaitMs > 0, `waited ${writer.waitMs} ms`);
  assert.ok(writer.maxWriteMs >= 35, `longest write ${writer.maxWriteMs} ms`);
});

Deno.test("WindowWriter: a failed write fails the next push and close, never an unhandled rejection", async () => {
  const failing: WindowStore = { writeWindow: () => Promise.reject(new Error("disk full")) };
  const writer = new WindowWriter(failing, 1, 1);
  const engine = new Engine(options({ windowSec: 1, latenessSec: 0, sketches: [] }), writer);
  try {
    await assert.rejects(async () => {
      for (let s = 0; s < 5; s++) await engine.addBatch(await batchAt([7000 + s]));
    }, /disk full/);
    await assert.rejects(writer.close(), /disk full/);
  } finally {
    engine.close();
  }
});

Deno.test("WindowWriter with a retry: a full disk is waited out, each window stored once; close gives up", async () => {
  const full = () => Promise.reject(new Error("IO Error: No space left on device"));
  let failures = 2;
  const stored: number[] = [];
  const store: WindowStore = {
    writeWindow: (_n, w) => {
      if (failures > 0) return failures--, full();
      stored.push(w.id.startSec);
      return Promise.resolve();
    },
  };
  const told: (string | null)[] = [];
  const retry = {
    when: (e: unknown) => /No space left/.test(String(e)),
    onRetry: (e: unknown, ms: number) => void told.push(e === null ? null : `${ms}`),
  };
  const writer = new WindowWriter(store, 1, 2, null, retry);
  const engine = new Engine(options({ windowSec: 1, latenessSec: 0, sketches: [] }), writer);
  try {
    for (let s = 0; s < 3; s++) await engine.addBatch(await batchAt([9000 + s]));
    await engine.finish();
    await writer.close();
    assert.deepEqual(stored, [9000, 9001, 9002]);
    // Waited 1 s, then 2 s, then written: told each time, and once when it passed.
    assert.deepEqual(told, ["1000", "2000", null]);
    assert.equal(writer.retries, 2);
  } finally {
    engine.close();
  }
  // Still full when close() is asked: one more try, then its error.
  const stuck = new WindowWriter({ writeWindow: full }, 1, 2, null, retry);
  const engine2 = new Engine(options({ windowSec: 1, latenessSec: 0, sketches: [] }), stuck);
  try {
    await engine2.addBatch(await batchAt([9100]));
    await engine2.finish();
    await new Promise((ok) => setTimeout(ok, 50));
    const t0 = performance.now();
    await assert.rejects(stuck.close(), /No space left on device/);
    assert.ok(performance.now() - t0 < 900, "close does not wait the back-off out");
  } finally {
    engine2.close();
  }
  // Other failures are not retried.
  const other = new WindowWriter(
    { writeWindow: () => Promise.reject(new Error("boom")) },
    1,
    1,
    null,
    retry,
  );
  const engine3 = new Engine(options({ windowSec: 1, latenessSec: 0, sketches: [] }), other);
  try {
    await engine3.addBatch(await batchAt([9200]));
    await engine3.finish().catch(() => {});
    await assert.rejects(other.close(), /boom/);
    assert.equal(other.retries, 0);
  } finally {
    engine3.close();
  }
});

Deno.test("WindowWriter: a window's row buffers are freed once the store has written it", async () => {
  const seen: { rows: number; words: number }[] = [];
  const kept: WindowExport[] = [];
  const store: WindowStore = {
    writeWindow: (_n, w) => {
      seen.push({ rows: w.tasks[0]!.rows.length, words: w.tasks[0]!.rows.words.length });
      kept.push(w);
      return Promise.resolve();
    },
  };
  const writer = new WindowWriter(store, 1, 2);
  // The tracker on: the windows carry connection records as well.
  const engine = new Engine(options({ windowSec: 1, latenessSec: 0, sketches: [] }), writer);
  try {
    for (let s = 0; s < 4; s++) {
      await engine.addBatch(await batchAt([8000 + s, 8000 + s + 0.5], s + 1));
    }
    // A packet of a window already closed: a late part, whose records are the shared empty ones.
    await engine.addBatch(await batchAt([8000.7]));
    await engine.finish();
    await writer.close();
  } finally {
    engine.close();
  }
  assert.ok(kept.length >= 5, `${kept.length} windows`);
  assert.ok(seen.every((s) => s.rows > 0 && s.words >= s.rows * 20), JSON.stringify(seen));
  for (const w of kept) {
    // Freed: the arrays read as empty; what is not rows stays readable.
    assert.equal(w.tasks[0]!.rows.words.length, 0);
    assert.equal(w.records.words.length, 0);
    assert.ok(w.totals.packets > 0);
  }
  assert.equal(kept.reduce((n, w) => n + w.totals.packets, 0), 9);
  assert.ok(kept.some((w) => w.id.part > 0), "a late part was stored");
});

Deno.test("Engine: with emptyWindows every window the clock passes is handed over, packets or not", async () => {
  // Keeps what the test reads and frees the rows, as the store's writer does (kept whole,
  // 1,445 windows of reserved tables make the collector run all the time).
  const out = {
    windows: [] as { id: WindowExport["id"]; totals: WindowExport["totals"] }[],
    push(w: WindowExport): Promise<void> {
      this.windows.push({ id: w.id, totals: w.totals });
      releaseExport(w);
      return Promise.resolve();
    },
    starts(): number[] {
      return this.windows.map((w) => w.id.startSec);
    },
  };
  const engine = new Engine(
    options({ windowSec: 1, latenessSec: 0, sketches: [], emptyWindows: true }),
    out,
  );
  try {
    await engine.advance(1000.5);
    await engine.advance(1001.2);
    assert.deepEqual(out.starts(), [1000]);
    // A packet of the open window 1001, then the clock jumps over 1002.
    await engine.addBatch(await batchAt([1001.4]));
    await engine.advance(1003.7);
    assert.deepEqual(out.starts(), [1000, 1001, 1002]);
    assert.deepEqual(out.windows.map((w) => w.totals.packets), [0, 1, 0]);
    // A pause of the process: at most 1,440 empty windows are made up, the latest ones.
    await engine.advance(1003.7 + 5000);
    assert.equal(out.windows.length, 3 + 1 + 1440);
    assert.equal(out.windows.at(-1)!.id.startSec, 6002);
    await engine.finish();
    assert.equal(out.windows.at(-1)!.id.startSec, 6003);
  } finally {
    engine.close();
  }
});

Deno.test("Engine: without emptyWindows (files) the clock closes windows but opens none", async () => {
  const out = new Collect();
  const engine = new Engine(options({ windowSec: 1, latenessSec: 0, sketches: [] }), out);
  try {
    await engine.advance(1000.5);
    await engine.advance(1005.5);
    await engine.finish();
    assert.deepEqual(out.starts(), []);
  } finally {
    engine.close();
  }
});
