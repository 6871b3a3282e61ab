/**
 * The forwarder's batches (which windows go in one INSERT per table) and the settings of an
 * insert, per what the server offers: tables of one-line cases, no server needed.
 */

import assert from "node:assert/strict";
import {
  dayIn,
  insertSettings,
  nextBatch,
  prefixLines,
  type ServerFeatures,
} from "../../forward/mod.ts";
import type { OutboxEntry, PayloadSize } from "../../storage/mod.ts";

const LIMITS = { rows: 1000, bytes: 100_000, intervalSec: 2 };
const NOW = 1_700_000_100;

/** An outbox entry of window `n` (60 s windows from 2023-11-14 22:13:20 UTC), committed `age` s ago. */
function entry(n: number, sizes: [string, number, number][], age = 10, state = "pending") {
  return {
    sink: "central",
    commitSeq: n + 1,
    sensor: "",
    source: "lo",
    startSec: 1_700_000_000 + n * 60,
    windowSec: 60,
    part: 0,
    state,
    attempts: state === "sending" ? 1 : 0,
    rows: sizes.reduce((a, s) => a + s[1], 0),
    checksum: "",
    createdSec: NOW - age,
    sizes: sizes.map(([table, rows, bytes]) => ({ table, rows, bytes }) as PayloadSize),
  } as OutboxEntry;
}

const utcDay = (s: number) => dayIn("UTC", s);

Deno.test("nextBatch(): windows in order up to the rows, bytes and day limits; the first always", () => {
  const small = (n: number) => entry(n, [["windows", 1, 50], ["flows", 300, 9000]]);
  const cases: [string, OutboxEntry[], boolean, number[], number][] = [
    // what, entries, more after them, windows in the batch (commit seq), wait ms
    ["none", [], false, [], 1000],
    ["three small, old enough", [small(0), small(1), small(2)], false, [1, 2, 3], 0],
    ["rows of one table pass 1000", [0, 1, 2, 3, 4].map(small), false, [1, 2, 3], 0],
    [
      "bytes pass 100 kB",
      [entry(0, [["records", 10, 60_000]]), entry(1, [["records", 10, 50_000]])],
      false,
      [1],
      0,
    ],
    [
      "one window over every limit goes alone",
      [entry(0, [["flows", 5000, 900_000]]), small(1)],
      false,
      [1],
      0,
    ],
    ["a new day starts a batch (22:13, 23:13, 00:13)", [0, 1, 2].map((n) => small(n * 60)), false, [
      1,
      61,
    ], 0],
    ["more wait after them: full", [small(0)], true, [1], 0],
    [
      "young and room left: wait for the interval",
      [entry(0, [["flows", 5, 100]], 0.5)],
      false,
      [1],
      1500,
    ],
    [
      "a sending batch again as it was",
      [
        entry(0, [["flows", 5, 100]], 9, "sending"),
        entry(1, [["flows", 9000, 100]], 9, "sending"),
        small(2),
      ],
      false,
      [1, 2],
      0,
    ],
    [
      "pending behind sending waits its turn",
      [small(0), entry(1, [["flows", 1, 1]], 9, "sending")],
      false,
      [1],
      0,
    ],
  ];
  for (const [what, entries, more, want, waitMs] of cases) {
    const b = nextBatch(entries, LIMITS, utcDay, NOW, more);
    assert.deepEqual(b.batch.map((e) => e.commitSeq), want, what);
    assert.equal(b.waitMs, waitMs, `${what}: wait`);
  }
});

Deno.test("dayIn(): a partition's day in the server's time zone", () => {
  const cases: [string, number, string][] = [
    ["UTC", 1_700_000_000, "2023-11-14"],
    ["UTC", 1_700_006_400 - 1, "2023-11-14"],
    ["UTC", 1_700_006_400, "2023-11-15"],
    ["Asia/Tokyo", 1_700_000_000 - 8 * 3600, "2023-11-14"], // 23:13 +09:00
    ["Asia/Tokyo", 1_700_000_000, "2023-11-15"],
    ["America/New_York", 1_700_006_400, "2023-11-14"],
  ];
  for (const [tz, sec, day] of cases) assert.equal(dayIn(tz, sec), day, `${tz} ${sec}`);
});

Deno.test("insertSettings(): one block always; the server's deduplication only where it has both settings", () => {
  const f = (dedupToken: boolean, dedupWindow: boolean): ServerFeatures => ({
    version: "x",
    timeZone: "UTC",
    dedupToken,
    dedupWindow,
  });
  const cases: [string, ServerFeatures, number, Record<string, string | number>][] = [
    ["18.16: neither", f(false, false), 10, { max_insert_block_size: 1_048_576 }],
    ["token without the window", f(true, false), 10, { max_insert_block_size: 1_048_576 }],
    ["a big batch stays one block", f(false, false), 2_000_000, {
      max_insert_block_size: 2_000_001,
    }],
    ["current: both", f(true, true), 10, {
      max_insert_block_size: 1_048_576,
      insert_deduplicate: 1,
      insert_deduplication_token: "netspectra-ab",
    }],
  ];
  for (const [what, features, rows, want] of cases) {
    assert.deepEqual(insertSettings(features, rows, "netspectra-ab"), want, what);
  }
});

Deno.test("prefixLines(): the identity in front of every line, the lines counted", () => {
  const enc = new TextEncoder(), dec = new TextDecoder();
  const cases: [string, string, string, number][] = [
    ["p\t", "", "", 0],
    ["p\t", "a\n", "p\ta\n", 1],
    ["p\t", "a\tb\n\n", "p\ta\tb\np\t\n", 2],
    ["", "x\ny\n", "x\ny\n", 2],
    ["s\tlo\t1\t", "ä\\t\n🙂\n", "s\tlo\t1\tä\\t\ns\tlo\t1\t🙂\n", 2],
  ];
  for (const [prefix, body, want, rows] of cases) {
    const [out, n] = prefixLines(enc.encode(prefix), enc.encode(body));
    assert.equal(dec.decode(out), want, JSON.stringify(body));
    assert.equal(n, rows, JSON.stringify(body));
  }
});
