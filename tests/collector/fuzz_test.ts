/**
 * Robustness: mutated and truncated real packets and files never throw, and every packet is
 * counted exactly once.
 */

import assert from "node:assert/strict";
import { analyzeFiles } from "../_memory.ts";
import { rng } from "../../collector/gen/gen.ts";
import { PcapFormatError } from "../../collector/reader/mod.ts";
import { fuzzDecoders, seedPackets } from "../_fuzz.ts";
import { captures } from "../_testdata.ts";

const FUZZ_PACKETS = 200_000;

Deno.test(`decoders survive ${FUZZ_PACKETS} mutated real packets and count each once`, async () => {
  const seeds = await seedPackets();
  assert.ok(seeds.length > 1500, `${seeds.length} seed packets`);
  const s = fuzzDecoders(seeds, FUZZ_PACKETS, 0xc0ffee);
  assert.equal(s.packets, FUZZ_PACKETS);
  assert.equal(s.ipFrames + s.nonIpFrames, FUZZ_PACKETS);
  assert.equal(s.flowPackets + s.overflowPackets, s.ipFrames);
  assert.ok(s.errorFrames > 1000, "mutations do reach the error paths");
  assert.ok(s.ipFrames > FUZZ_PACKETS / 3, "and most packets still decode");
  assert.ok(s.dnsMessages > 1000 && s.httpMessages > 10, "DNS and HTTP decoders are reached");
});

Deno.test("readers survive mutated and truncated capture files", async () => {
  const rand = rng(42);
  const files = captures().filter((c) => Deno.statSync(c.path).size < 70_000);
  const dir = await Deno.makeTempDir();
  let opened = 0, refused = 0;
  try {
    for (let k = 0; k < 300; k++) {
      const src = files[k % files.length]!;
      const data = await Deno.readFile(src.path);
      const mutated = data.slice(0, rand() < 0.3 ? Math.floor(rand() * data.length) : data.length);
      const edits = 1 + Math.floor(rand() * 8);
      for (let e = 0; e < edits && mutated.length > 0; e++) {
        // Mostly in the headers, where the readers make their decisions.
        const at = rand() < 0.6
          ? Math.floor(rand() * Math.min(200, mutated.length))
          : Math.floor(rand() * mutated.length);
        mutated[at] = Math.floor(rand() * 256);
      }
      const path = `${dir}/m${k}.bin`;
      await Deno.writeFile(path, mutated);
      try {
        const res = await analyzeFiles({ files: [path] });
        assert.equal(
          res.totals.ipv4Frames + res.totals.ipv6Frames + res.totals.nonIpFrames,
          res.totals.frames,
        );
        opened++;
      } catch (e) {
        assert.ok(e instanceof PcapFormatError, `${src.name} edit ${k}: ${e}`);
        refused++;
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.ok(opened > 100 && refused > 10, `opened ${opened}, refused ${refused}`);
});
