import assert from "node:assert/strict";
import { SpreadSketch } from "../../sketches/spread.ts";
import { HH_KEY_WORDS, type KeySource } from "../../sketches/heavy_hitters.ts";
import { finishA, finishB } from "../../sketches/hash.ts";
import { rng } from "../../collector/gen/gen.ts";

const lanes = (k: number, salt: number): [number, number] => [
  finishA(k * 2 + salt),
  finishB(k * 5 + salt),
];
const byId: KeySource = { writeKey: (i, out, o) => out.fill(0, o, o + HH_KEY_WORDS).set([i], o) };

/** Sources 0..999 meet 1..5 elements each; sources 5000+k meet spreads[k] elements. */
function feed(s: SpreadSketch, spreads: number[], seed: number) {
  const r = rng(seed);
  const events: [number, number][] = [];
  for (let src = 0; src < 1000; src++) {
    for (let n = 1 + (src % 5); n > 0; n--) events.push([src, src * 10 + n]);
  }
  spreads.forEach((m, k) => {
    for (let n = 0; n < m * 1.3; n++) events.push([5000 + k, Math.floor(r() * m)]);
  });
  for (let i = events.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [events[i], events[j]] = [events[j]!, events[i]!];
  }
  for (const [src, el] of events) s.add(...lanes(src, 1), ...lanes(el, 2), byId, src);
}

/** Reported key → spread. */
function found(s: SpreadSketch): Map<number, number> {
  return new Map(s.spreaders().map((e) => [s.keys[e * HH_KEY_WORDS]!, s.spreadOf(e)]));
}

Deno.test("SpreadSketch: finds the sources over the threshold and estimates their spread", () => {
  const s = new SpreadSketch({ memoryBytes: 128 * 1024, threshold: 1000 });
  const spreads = [300, 800, 1500, 3000, 6000];
  feed(s, spreads, 1);
  const got = found(s);
  assert.deepEqual([...got.keys()].sort(), [5002, 5003, 5004]);
  for (const k of [2, 3, 4]) {
    // distinct elements actually drawn: nearly all of m after 1.3·m draws (1 − e^-1.3 ≈ 73%)
    const est = got.get(5000 + k)!;
    const m = spreads[k]!;
    const drawn = m * (1 - Math.exp(-1.3));
    assert.ok(Math.abs(est - drawn) / drawn < 0.1, `source ${5000 + k}: ${est} vs ~${drawn}`);
  }
});

Deno.test("SpreadSketch: round trip keeps the answers; merged windows keep the spreaders", () => {
  const a = new SpreadSketch({ memoryBytes: 64 * 1024, threshold: 500 });
  const b = new SpreadSketch({ memoryBytes: 64 * 1024, threshold: 500 });
  feed(a, [2000, 400], 2);
  feed(b, [2000, 400], 3);
  for (const withFilter of [true, false]) {
    const back = SpreadSketch.deserialize(a.serialize(withFilter));
    assert.deepEqual(found(back), found(a));
  }
  const m = SpreadSketch.deserialize(a.serialize(false));
  m.merge(SpreadSketch.deserialize(b.serialize(false)));
  const got = found(m);
  assert.ok(got.has(5000), "the 2000-spread source");
  // Both halves drew from the same 2000 elements: the union is about 1 − e^-2.6 of them.
  const union = 2000 * (1 - Math.exp(-2.6));
  assert.ok(Math.abs(got.get(5000)! - union) / union < 0.15, `${got.get(5000)} vs ~${union}`);
  assert.throws(() => new SpreadSketch({ memoryBytes: 1000, threshold: 10 }), RangeError);
  assert.throws(() => new SpreadSketch({ memoryBytes: 65536, threshold: 1 }), RangeError);
  assert.throws(
    () => m.merge(new SpreadSketch({ memoryBytes: 128 * 1024, threshold: 500 })),
    /different shapes/,
  );
});
