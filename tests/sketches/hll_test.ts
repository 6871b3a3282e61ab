import assert from "node:assert/strict";
import { HyperLogLog } from "../../sketches/hll.ts";
import { addrLaneA, addrLaneB } from "../../sketches/hash.ts";
import { SketchFormatError } from "../../sketches/_serial.ts";
import { rng } from "../../collector/gen/gen.ts";

/** Lanes of IPv4 address x under the pipeline's single-address hashing (meta: family 4). */
const lanes = (x: number): [number, number] => [addrLaneA(0x400, x, 0), addrLaneB(0x400, x, 0)];

/** Relative RMSE of both estimators over `runs` seeded runs, at each checkpoint. */
function rmse(p: number, runs: number, checkpoints: number[]) {
  const hip = new Float64Array(checkpoints.length), ertl = new Float64Array(checkpoints.length);
  for (let r = 0; r < runs; r++) {
    const h = new HyperLogLog(p);
    const base = Math.floor(rng(r + 1)() * 4294967296);
    let c = 0;
    for (let i = 1; i <= checkpoints[checkpoints.length - 1]!; i++) {
      const [a, b] = lanes((base + i) >>> 0);
      h.add(a, b);
      if (i === checkpoints[c]) {
        hip[c]! += ((h.estimate() - i) / i) ** 2;
        ertl[c]! += ((h.ertl() - i) / i) ** 2;
        c++;
      }
    }
  }
  return checkpoints.map((n, c) => ({
    n,
    hip: Math.sqrt(hip[c]! / runs),
    ertl: Math.sqrt(ertl[c]! / runs),
  }));
}

const CHECKPOINTS = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000];
for (let n = 100_000; n <= 1_000_000; n *= 10) CHECKPOINTS.push(n, 2 * n, 5 * n);
CHECKPOINTS.push(10_000_000);

Deno.test("HyperLogLog: 2^12 registers, HIP RMSE ≤ 1.7% from 10 to 10^7 (100 seeded runs)", () => {
  for (const r of rmse(12, 100, CHECKPOINTS)) {
    assert.ok(r.hip <= 0.017, `n=${r.n}: HIP RMSE ${(100 * r.hip).toFixed(2)}%`);
    // Ertl's estimator (merged and stored sketches) sits at the classic 1.04/√m = 1.63%;
    // 100 runs measure an RMSE to about ±7%, hence the margin.
    assert.ok(r.ertl <= 0.0185, `n=${r.n}: Ertl RMSE ${(100 * r.ertl).toFixed(2)}%`);
  }
});

Deno.test("HyperLogLog: 2^14 registers, HIP RMSE ≤ 0.85% from 10 to 10^7 (100 seeded runs)", () => {
  for (const r of rmse(14, 100, CHECKPOINTS)) {
    assert.ok(r.hip <= 0.0085, `n=${r.n}: HIP RMSE ${(100 * r.hip).toFixed(2)}%`);
    assert.ok(r.ertl <= 0.0095, `n=${r.n}: Ertl RMSE ${(100 * r.ertl).toFixed(2)}%`);
  }
});

Deno.test("HyperLogLog: empty is 0, one item is 1, duplicates do not count", () => {
  const h = new HyperLogLog(12);
  assert.equal(h.estimate(), 0);
  assert.equal(h.ertl(), 0);
  const [a, b] = lanes(0x0a000001);
  for (let k = 0; k < 1000; k++) h.add(a, b);
  assert.equal(h.estimate(), 1);
  assert.ok(Math.abs(h.ertl() - 1) < 0.01, String(h.ertl()));
});

Deno.test("HyperLogLog: merged from 2..16 parts equals one sketch fed everything, byte for byte", () => {
  const n = 200_000;
  const whole = new HyperLogLog(14);
  for (let i = 0; i < n; i++) whole.add(...lanes(i));
  const expected = whole.serialize();
  for (let parts = 2; parts <= 16; parts++) {
    const split = Array.from({ length: parts }, () => new HyperLogLog(14));
    const pick = rng(parts);
    for (let i = 0; i < n; i++) split[Math.floor(pick() * parts)]!.add(...lanes(i));
    const merged = HyperLogLog.deserialize(split[0]!.serialize());
    for (const s of split.slice(1)) merged.merge(HyperLogLog.deserialize(s.serialize()));
    assert.deepEqual(merged.serialize(), expected, `${parts} parts`);
    assert.equal(merged.estimate(), whole.ertl(), "merged sketches use Ertl's estimator");
  }
});

Deno.test("HyperLogLog: serialise round trip and refusals", () => {
  const h = new HyperLogLog(10);
  for (let i = 0; i < 5000; i++) h.add(...lanes(i));
  const bytes = h.serialize();
  assert.equal(bytes.length, 4 + 4 + 1 + 1024, "header, seed, p, registers");
  assert.deepEqual([...bytes.subarray(0, 4)], [0x4e, 0x53, 1, 0x81], "version 1, seed follows");
  const back = HyperLogLog.deserialize(bytes);
  assert.deepEqual(back.registers, h.registers);
  assert.equal(back.estimate(), h.ertl());
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(0), /no sketch header/],
    [Uint8Array.of(0x4e, 0x53, 2, 1, 10), /sketch kind 2/],
    [Uint8Array.of(0x4e, 0x53, 1, 9, 10), /unknown layout version 9/],
    [bytes.subarray(0, 100), /bytes where the header implies/],
  ];
  for (const [b, re] of cases) assert.throws(() => HyperLogLog.deserialize(b), re);
  assert.throws(() => HyperLogLog.deserialize(Uint8Array.of(0x4e, 0x53, 1, 1, 40)), RangeError);
  assert.ok(new SketchFormatError("x") instanceof SyntaxError);
  const bad = bytes.slice();
  bad[9] = 99; // the first register (after header, seed and p)
  assert.throws(() => HyperLogLog.deserialize(bad), /bad register/);
  assert.throws(() => new HyperLogLog(3), RangeError);
  assert.throws(() => h.merge(new HyperLogLog(11)), /Cannot merge/);
});
