/**
 * The helper thread (header_work.ts): exact tasks, sketches and the flow lifecycle counted
 * off the main thread must store exactly what the same work on the main thread stores.
 *
 * @module
 */

import assert from "node:assert/strict";
import { generate } from "../../collector/gen/gen.ts";
import { GEN_DEFAULTS } from "../../collector/gen/gen.ts";
import { ingestFiles, type IngestOptions } from "../../collector/ingest.ts";
import { HELPER_DEFAULT, HELPER_NONE, type HelperParts } from "../../collector/engine.ts";
import { defaultSketches, SKETCH_KINDS } from "../../collector/sketch_bank.ts";
import { ThreadHeaderWork } from "../../collector/header_work.ts";
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
  opts: Omit<IngestOptions, "store" | "sourceId">,
  helper: HelperParts,
): Promise<{ run: Awaited<ReturnType<typeof ingestFiles>>; rows: Record<string, unknown> }> {
  const store = await Store.open(":memory:");
  try {
    const run = await ingestFiles({ ...opts, store, sourceId: "s", helper });
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
  opts: Omit<IngestOptions, "store" | "sourceId">,
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

Deno.test("helper thread: a failing record write fails the run and frees the thread", async () => {
  const dir = await Deno.makeTempDir();
  const store = await Store.open(":memory:");
  try {
    const file = `${dir}/g.pcap`;
    const out = await Deno.open(file, { write: true, create: true });
    await generate(out, { ...GEN_DEFAULTS, packets: 20_000, flows: 2_000 });
    out.close();
    store.writeFlowRecords = () => Promise.reject(new Error("disk full"));
    await assert.rejects(
      ingestFiles({ files: [file], store, sourceId: "s", helper: HELPER_DEFAULT }),
      /disk full/,
    );
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("helper thread: bad options fail before a thread starts", () => {
  const noop = () => Promise.resolve();
  const opts = { tasks: [], sketches: [], flows: {}, batchPackets: 64 };
  assert.throws(
    () => new ThreadHeaderWork({ ...opts, flows: { flowsMax: 0 } }, noop),
    /Invalid flow tracker limit/,
  );
  const ok = new ThreadHeaderWork(opts, noop);
  ok.close();
  ok.close();
  assert.throws(() => ok.add(0, 0), /closed/);
});
