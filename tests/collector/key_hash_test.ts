/**
 * Flow-key hashes are seeded per process, so crafted keys cannot be made to collide in a hash
 * known in advance; within a process the hash is stable.
 *
 * @module
 */

import assert from "node:assert/strict";
import { hashKey } from "../../collector/packet/key_hash.ts";

const KEY_HASH = new URL("../../collector/packet/key_hash.ts", import.meta.url).href;

async function hashInNewProcess(): Promise<string> {
  const code = `import { hashKey } from "${KEY_HASH}";
    console.log(hashKey(new Int32Array([10, 0, 0, 1, 0, 0, 0, 0, 80, 6]), 0));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("hashKey() is stable within a process and seeded differently per process", async () => {
  const key = new Int32Array([10, 0, 0, 1, 0, 0, 0, 0, 80, 6]);
  assert.equal(hashKey(key, 0), hashKey(key.slice(), 0));
  const [a, b] = [await hashInNewProcess(), await hashInNewProcess()];
  assert.notEqual(a, b, "two processes, two seeds (a clash has probability 2^-32)");
});
