/**
 * Corrupted sketch bytes (a damaged store, a bad peer) must give a clear error or a sketch
 * that still works — never another exception, a hang or a huge allocation.
 */
import assert from "node:assert/strict";
import {
  CountMin,
  HeavyHitters,
  HH_KEY_WORDS,
  HyperLogLog,
  SketchFormatError,
  SpreadSketch,
} from "../../sketches/mod.ts";
import { finishA, finishB } from "../../sketches/hash.ts";
import { rng } from "../../collector/gen/gen.ts";

const byId = {
  writeKey: (i: number, out: Int32Array, o: number) => out.fill(0, o, o + HH_KEY_WORDS).set([i], o),
};

function samples(): [string, Uint8Array, (b: Uint8Array) => { memoryBytes: number }][] {
  const h = new HyperLogLog(8), cm = new CountMin(2, 64, true);
  const hh = new HeavyHitters(8192, false);
  const sp = new SpreadSketch({ memoryBytes: 16384, threshold: 20 });
  for (let i = 0; i < 3000; i++) {
    const a = finishA(i % 300), b = finishB(i % 300);
    h.add(a, b), cm.add(a, b, 1), hh.add(a, b, 60, byId, i % 300);
    sp.add(finishA(i % 7), finishB(i % 7), finishA(i), finishB(i), byId, i % 7);
  }
  return [
    ["hll", h.serialize(), (b) => HyperLogLog.deserialize(b)],
    ["count_min", cm.serialize(), (b) => CountMin.deserialize(b)],
    ["heavy_hitters", hh.serialize(), (b) => HeavyHitters.deserialize(b)],
    ["heavy_hitters/no buckets", hh.serialize(false), (b) => HeavyHitters.deserialize(b)],
    ["spread", sp.serialize(), (b) => SpreadSketch.deserialize(b)],
    ["spread/no filter", sp.serialize(false), (b) => SpreadSketch.deserialize(b)],
  ];
}

Deno.test("sketch deserialisers: 2,000 mutations each give a sketch or a clear error", () => {
  const r = rng(77);
  for (const [name, good, read] of samples()) {
    read(good); // the unmutated bytes read back
    for (let n = 0; n < 2000; n++) {
      const b = good.slice(0, r() < 0.2 ? Math.floor(r() * good.length) : good.length);
      for (let k = 1 + Math.floor(r() * 4); k > 0 && b.length > 0; k--) {
        b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      }
      try {
        const s = read(b);
        assert.ok(s.memoryBytes <= 1 << 28, `${name}: ${s.memoryBytes} B from ${b.length} B`);
      } catch (e) {
        assert.ok(
          e instanceof SketchFormatError || e instanceof RangeError,
          `${name} mutation ${n}: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`,
        );
      }
    }
  }
});
