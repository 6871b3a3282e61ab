/**
 * The helper thread (header_work.ts): exact tasks, sketches and the flow lifecycle counted
 * off the main thread must store exactly what the same work on the main thread stores.
 *
 * @module
 */

import assert from "node:assert/strict";
import { generate } from "../../collector/gen/gen.ts";
import { GEN_DEFAULTS } from "../../collector/gen/gen.ts";
import { ingestFiles, type IngestOptions } from "../../collector/ingest/ingest.ts";
import { HELPER_DEFAULT, HELPER_NONE, type HelperParts } from "../../collector/engine/engine.ts";
import { defaultSketches, SKETCH_KINDS } from "../../collector/engine/sketch_bank.ts";
import { ThreadHeaderWork } from "../../collector/engine/header_work.ts";
import { Store } from "../../storage/mod.ts";
import { usableCaptures } from "../_testdata.ts";

/** Every stored table the header work fills: row count and a sum of row hashes (any order). */
const DIGEST = "SELECT " + [
  "window_flows",
  "window_tasks",
  "window_sketches",
  "window_sketch_keys",
  "flow_records",
].map((t) =>
  `(SELECT count(*) FROM ${t}) AS n_${t}, (SELECT sum(hash(r)::HUGEINT) FROM ${t} r) AS h_${t}`
).join(", ");

async function digest(
  opts: Omit<IngestOptions, "store">,
  helper: HelperParts,
): Promise<{ run: Awaited<ReturnType<typeof ingestFiles>>; rows: Record<string, unknown> }> {
  const store = await Store.open(":memory:");
  try {
    const run = await ingestFiles({ ...opts, store, helper, sketchSeed: 7 });
    const [rows] = await store.rows(DIGEST);
    return { run, rows: rows! };
  } finally {
    await store.close();
  }
}

/** Placements compared with everything on one thread. */
const PLACEMENTS: HelperParts[] = [
  HELPER_DEFAULT,
  { tables: true, sketches: SKETCH_KINDS, tracker: true },
  { tables: false, sketches: ["spread", "heavy_hitters"], tracker: false },
];

async function assertSame(
  opts: Omit<IngestOptions, "store">,
  what: string,
  placements = PLACEMENTS,
) {
  const here = await digest(opts, HELPER_NONE);
  for (const parts of placements) {
    const on = `${what}, helper ${JSON.stringify(parts)}`;
    const helper = await digest(opts, parts);
    assert.equal(helper.run.packets, here.run.packets, on);
    assert.equal(helper.run.windows, here.run.windows, on);
    assert.equal(helper.run.flowTrackerOverflow, here.run.flowTrackerOverflow, on);
    for (const [k, v] of Object.entries(here.rows)) {
      assert.equal(String(helper.rows[k]), String(v), `${on}: ${k} differs`);
    }
  }
  return here;
}

Deno.test("helper thread: every shared capture stores the same windows, sketches and records", async () => {
  for (const c of usableCaptures()) {
    // Everything on the helper (the other placements are mixes of the two, tested below).
    await assertSame({ files: [c.path], sketches: defaultSketches(), windowSec: 1 }, c.name, [
      PLACEMENTS[1]!,
    ]);
  }
});

Deno.test("helper thread: many windows, record buffers handed over, tracker overflow", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/g.pcap`;
    const out = await Deno.open(file, { write: true, create: true });
    // 200k equally likely flows over 250k packets: more than one 65,536-record buffer crosses threads.
    await generate(out, {
      ...GEN_DEFAULTS,
      packets: 250_000,
      flows: 200_000,
      zipfAlpha: 0,
      ratePps: 20_000,
    });
    out.close();
    const base = { files: [file], sketches: defaultSketches(), windowSec: 2 };
    const here = await assertSame(base, "gen capture, 2 s windows");
    assert.ok(Number(here.rows.n_flow_records) > 65_536, `records ${here.rows.n_flow_records}`);
    assert.notEqual(here.rows.h_window_flows, null);
    assert.ok(here.run.windows >= 6, `windows ${here.run.windows}`);
    const full = await assertSame(
      { ...base, files: [file, file], flows: { flowsMax: 1000 } },
      "the capture twice, tracker limit reached",
    );
    assert.ok(full.run.flowTrackerOverflow > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("helper thread: a failing window write fails the run, frees the thread, leaves nothing", async () => {
  const dir = await Deno.makeTempDir();
  const store = await Store.open(":memory:");
  try {
    const file = `${dir}/g.pcap`;
    const out = await Deno.open(file, { write: true, create: true });
    await generate(out, { ...GEN_DEFAULTS, packets: 20_000, flows: 2_000, ratePps: 2_000 });
    out.close();
    let writes = 0;
    const write = store.writeWindow.bind(store);
    // The second window fails, after the first was committed.
    store.writeWindow = (n, w) =>
      ++writes === 2 ? Promise.reject(new Error("disk full")) : write(n, w);
    await assert.rejects(
      ingestFiles({ files: [file], store, windowSec: 1, helper: HELPER_DEFAULT }),
      /disk full/,
    );
    assert.equal(writes, 2);
    const [left] = await store.rows(
      "SELECT (SELECT count(*) FROM sources) + (SELECT count(*) FROM tasks) + (SELECT count(*) FROM window_totals) + (SELECT count(*) FROM flow_records) AS n",
    );
    assert.equal(Number(left!.n), 0, "the failed source left nothing half-made");
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("helper thread: bad options fail before a thread starts", () => {
  const opts = { tasks: [], sketches: [], flows: {}, batchPackets: 64, windows: 2 };
  assert.throws(
    () => new ThreadHeaderWork({ ...opts, flows: { flowsMax: 0 } }),
    /Invalid flow tracker limit/,
  );
  assert.throws(() => new ThreadHeaderWork({ ...opts, windows: 0 }), /open window count/);
  const ok = new ThreadHeaderWork(opts);
  ok.close();
  ok.close();
  assert.throws(() => ok.add(0, 0, 0), /closed/);
});
