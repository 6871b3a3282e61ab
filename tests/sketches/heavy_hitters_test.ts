import assert from "node:assert/strict";
import { HeavyHitters, HH_KEY_WORDS, type KeySource } from "../../sketches/heavy_hitters.ts";
import { LaneIndex } from "../../sketches/_lane_index.ts";
import { finishA, finishB } from "../../sketches/hash.ts";
import { rng } from "../../collector/gen/gen.ts";

const lanes = (k: number): [number, number] => [finishA(k + 1), finishB(k * 7 + 3)];
/** Key words of "packet" i: the key number in word 0. */
const byId: KeySource = { writeKey: (i, out, o) => out.fill(0, o, o + HH_KEY_WORDS).set([i], o) };

function feed(h: HeavyHitters, keys: number[], bytes = 100) {
  for (const k of keys) h.add(...lanes(k), bytes, byId, k);
}

/** Stored key number → [packets, bytes]. */
function stored(h: HeavyHitters): Map<number, [number, number]> {
  const m = new Map<number, [number, number]>();
  for (let e = 0; e < h.size; e++) m.set(h.keys[e * HH_KEY_WORDS]!, [h.packets(e), h.bytes(e)]);
  return m;
}

Deno.test("HeavyHitters: counts exactly while every key fits the store", () => {
  const h = new HeavyHitters(64 * 1024, false);
  const keys: number[] = [];
  for (let k = 1; k <= 50; k++) for (let n = 0; n < k; n++) keys.push(k);
  feed(h, keys, 60);
  const m = stored(h);
  assert.equal(m.size, 50);
  for (let k = 1; k <= 50; k++) assert.deepEqual(m.get(k), [k, 60 * k]);
  assert.deepEqual(h.top(3).map((e) => h.keys[e * HH_KEY_WORDS]), [50, 49, 48]);
  assert.equal(h.minWeight(), 0, "not full yet");
});

Deno.test("HeavyHitters: keeps the heavy keys of a long tail and counts them after entry exactly", () => {
  const h = new HeavyHitters(16 * 1024, true);
  const r = rng(5);
  const exact = new Map<number, number>();
  for (let n = 0; n < 300_000; n++) {
    // keys 0..9 take half of all packets; 100k other keys share the rest
    const k = r() < 0.5 ? Math.floor(r() * 10) : 10 + Math.floor(r() * 100_000);
    exact.set(k, (exact.get(k) ?? 0) + 1);
    h.add(...lanes(k), 500, byId, k);
  }
  const m = stored(h);
  assert.ok(h.minWeight() > 0, "the store filled up");
  for (let k = 0; k < 10; k++) {
    const got = m.get(k);
    assert.ok(got !== undefined, `heavy key ${k} kept`);
    const err = Math.abs(got[0] - exact.get(k)!) / exact.get(k)!;
    assert.ok(err < 0.01, `key ${k}: ${got[0]} vs ${exact.get(k)}`);
  }
});

Deno.test("HeavyHitters: merge adds shared keys and bounds the rest", () => {
  const a = new HeavyHitters(16 * 1024, false), b = new HeavyHitters(16 * 1024, false);
  feed(a, [1, 1, 1, 2, 2, 3]);
  feed(b, [1, 4, 4, 4, 4]);
  const bound = a.merge(b);
  assert.equal(bound, 0, "neither store was full: nothing missed");
  const m = stored(a);
  assert.deepEqual(m.get(1), [4, 400]);
  assert.deepEqual(m.get(4), [4, 400]);
  assert.deepEqual(m.get(3), [1, 100]);
  assert.throws(() => a.merge(new HeavyHitters(16 * 1024, true)), /packets vs bytes/);
});

Deno.test("HeavyHitters: serialise with and without buckets; refusals", () => {
  const h = new HeavyHitters(32 * 1024, true);
  const r = rng(9);
  for (let n = 0; n < 20_000; n++) {
    const k = Math.floor(Math.exp(r() * 9));
    h.add(...lanes(k), 64 + (k % 1400), byId, k);
  }
  for (const withFilter of [true, false]) {
    const bytes = h.serialize(withFilter);
    const back = HeavyHitters.deserialize(bytes);
    assert.deepEqual(stored(back), stored(h));
    assert.equal(back.minWeight(), h.minWeight());
    assert.deepEqual(back.serialize(withFilter), bytes, "round trip is stable");
  }
  assert.ok(h.serialize(false).length < h.serialize(true).length);
  assert.throws(() => HeavyHitters.deserialize(h.serialize().subarray(0, 40)), /bytes where/);
  assert.throws(() => new HeavyHitters(100, false), RangeError);
  assert.ok(h.memoryBytes <= 32 * 1024, `${h.memoryBytes} B within the budget`);
});

Deno.test("LaneIndex: random inserts and removals agree with a Map", () => {
  const idx = new LaneIndex(500);
  const ref = new Map<string, number>();
  const free = Array.from({ length: 500 }, (_, e) => e);
  const r = rng(11);
  // Lanes with few distinct low bits, so probe runs are long and removal shifts them.
  const laneOf = (k: number): [number, number] => [(k & 7) | ((k * 2654435761) & ~0xff), k];
  for (let step = 0; step < 20_000; step++) {
    const k = Math.floor(r() * 2000);
    const [a, b] = laneOf(k);
    const have = ref.get(`${k}`);
    assert.equal(idx.find(a, b), have ?? -1, `step ${step} key ${k}`);
    if (have === undefined && free.length > 0) {
      const e = free.pop()!;
      idx.insert(e, a, b), ref.set(`${k}`, e);
    } else if (have !== undefined && r() < 0.5) {
      idx.remove(have), ref.delete(`${k}`), free.push(have);
    }
  }
});
