import assert from "node:assert/strict";
import { TextTable } from "../../collector/app/text_table.ts";

const enc = new TextEncoder();

Deno.test("TextTable: keys survive growth; counters per key; limits count overflow", () => {
  const t = new TextTable(2, 5000, 1 << 16);
  for (let round = 0; round < 2; round++) {
    for (let k = 0; k < 3000; k++) {
      const key = enc.encode(`host${k}.example`);
      const e = t.entry(key, 0, key.length, k % 7);
      assert.ok(e >= 0);
      t.values[e * 2]!++;
      t.values[e * 2 + 1]! += k;
    }
  }
  assert.equal(t.size, 3000);
  for (const k of [0, 1023, 1024, 2999]) {
    const key = enc.encode(`host${k}.example`);
    const e = t.entry(key, 0, key.length, k % 7);
    assert.equal(t.keyText(e), `host${k}.example`);
    assert.deepEqual([t.values[e * 2], t.values[e * 2 + 1], t.keyNum[e]], [2, 2 * k, k % 7]);
  }
  const same = enc.encode("host5.example");
  assert.notEqual(t.entry(same, 0, same.length, 6), t.entry(same, 0, same.length, 5), "num is key");
  const small = new TextTable(1, 2, 10);
  const a = enc.encode("abcdefgh");
  assert.equal(small.entry(a, 0, 8, 0), 0);
  assert.equal(small.entry(a, 0, 8, 1), -1, "arena full");
  assert.equal(small.entry(a, 0, 2, 2), 1);
  assert.equal(small.entry(a, 0, 1, 3), -1, "entries full");
  assert.equal(small.overflow, 2);
  small.clear();
  assert.deepEqual([small.size, small.overflow], [0, 0]);
  assert.throws(() => new TextTable(1, 0, 10), RangeError);
});
