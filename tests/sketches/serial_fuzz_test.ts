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

Deno.test("sketches carry their hash seed in their bytes; merges refuse another seed", () => {
  const a = new HyperLogLog(10), b = new HyperLogLog(10);
  a.seed = 0x12345678, b.seed = 0x12345678;
  const back = HyperLogLog.deserialize(a.serialize());
  assert.equal(back.seed, 0x12345678);
  back.merge(b);
  const other = new HyperLogLog(10);
  other.seed = 99;
  assert.throws(() => back.merge(other), /different seeds/);
  // A sketch written before seeds (4-byte header, version without the seed bit) reads as 0.
  const seeded = new HyperLogLog(10).serialize();
  const legacy = new Uint8Array(seeded.length - 4);
  legacy.set(seeded.subarray(0, 4)), legacy[3] = legacy[3]! & 0x7f;
  legacy.set(seeded.subarray(8), 4);
  assert.equal(HyperLogLog.deserialize(legacy).seed, 0);
  const cm = CountMin.forBudget(4096, 4, false);
  cm.seed = 5;
  assert.equal(CountMin.deserialize(cm.serialize()).seed, 5);
  const hh = new HeavyHitters(8192, false);
  hh.seed = 6;
  assert.equal(HeavyHitters.deserialize(hh.serialize()).seed, 6);
  const sp = new SpreadSketch({ memoryBytes: 65536, threshold: 10 });
  sp.seed = 8;
  assert.equal(SpreadSketch.deserialize(sp.serialize()).seed, 8);
});
