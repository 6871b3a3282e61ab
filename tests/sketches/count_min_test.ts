import assert from "node:assert/strict";
import { CountMin } from "../../sketches/count_min.ts";
import { finishA, finishB } from "../../sketches/hash.ts";
import { rng } from "../../collector/gen/gen.ts";

const lanes = (k: number): [number, number] => [finishA(k * 2 + 1), finishB(k * 3 + 7)];

/** A skewed stream of (key, weight): key k with probability ∝ 1/k. */
function stream(n: number, keys: number, seed: number): [number, number][] {
  const r = rng(seed);
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const k = Math.floor(Math.exp(r() * Math.log(keys)));
    out.push([k, 1 + Math.floor(r() * 1500)]);
  }
  return out;
}

Deno.test("CountMin: never underestimates; conservative update is never worse", () => {
  const exact = new Map<number, number>();
  const std = new CountMin(4, 1024, false), cu = new CountMin(4, 1024, true);
  for (const [k, w] of stream(100_000, 20_000, 1)) {
    exact.set(k, (exact.get(k) ?? 0) + w);
    std.add(...lanes(k), w), cu.add(...lanes(k), w);
  }
  let stdErr = 0, cuErr = 0;
  for (const [k, v] of exact) {
    const s = std.query(...lanes(k)), c = cu.query(...lanes(k));
    assert.ok(s >= v && c >= v, `key ${k}: ${v} vs ${s}, ${c}`);
    assert.ok(c <= s, `key ${k}: conservative ${c} > standard ${s}`);
    stdErr += s - v, cuErr += c - v;
  }
  // Measured 0.55 of the standard update's total overestimate on this stream.
  assert.ok(cuErr < stdErr * 0.65, `conservative error ${cuErr} vs standard ${stdErr}`);
  assert.equal(std.total, cu.total);
});

Deno.test("CountMin: standard sketches merged from 2..16 parts equal one sketch, byte for byte", () => {
  const data = stream(50_000, 5000, 2);
  const whole = new CountMin(4, 2048, false);
  for (const [k, w] of data) whole.add(...lanes(k), w);
  const expected = whole.serialize();
  for (let parts = 2; parts <= 16; parts++) {
    const split = Array.from({ length: parts }, () => new CountMin(4, 2048, false));
    data.forEach(([k, w], i) => split[i % parts]!.add(...lanes(k), w));
    const merged = CountMin.deserialize(split[0]!.serialize());
    for (const s of split.slice(1)) merged.merge(CountMin.deserialize(s.serialize()));
    assert.deepEqual(merged.serialize(), expected, `${parts} parts`);
  }
});

Deno.test("CountMin: conservative sketches merge to an upper bound, not the same bytes", () => {
  const data = stream(50_000, 5000, 3);
  const exact = new Map<number, number>();
  const whole = new CountMin(4, 1024, true);
  const parts = [new CountMin(4, 1024, true), new CountMin(4, 1024, true)];
  data.forEach(([k, w], i) => {
    exact.set(k, (exact.get(k) ?? 0) + w);
    whole.add(...lanes(k), w);
    parts[i % 2]!.add(...lanes(k), w);
  });
  parts[0]!.merge(parts[1]!);
  for (const [k, v] of exact) assert.ok(parts[0]!.query(...lanes(k)) >= v);
  assert.notDeepEqual(parts[0]!.serialize(), whole.serialize());
});

Deno.test("CountMin: sizes, round trip and refusals", () => {
  const cases: [number, number, number][] = [
    // budget bytes, depth, width expected
    [64 * 1024, 4, 2048],
    [65535, 4, 1024],
    [1024, 4, 32],
    [1 << 20, 2, 65536],
  ];
  for (const [bytes, d, w] of cases) {
    const cm = CountMin.forBudget(bytes, d, true);
    assert.equal(cm.width, w, `${bytes} B`);
    assert.ok(cm.memoryBytes <= bytes);
  }
  const cm = new CountMin(3, 64, true);
  cm.add(1, 2, 3e12);
  const back = CountMin.deserialize(cm.serialize());
  assert.deepEqual(back.counters, cm.counters);
  assert.equal(back.conservative, true);
  assert.equal(back.total, 3e12);
  assert.throws(() => new CountMin(0, 64, true), RangeError);
  assert.throws(() => new CountMin(4, 100, true), /power of two/);
  assert.throws(() => cm.merge(new CountMin(3, 128, true)), /Cannot merge/);
  assert.throws(() => CountMin.deserialize(cm.serialize().subarray(0, 20)), /bytes where/);
});
