/**
 * Longer decoder fuzzing than the test suite runs: `deno task fuzz [PACKETS] [SEED]`.
 *
 * @module
 */

import { fuzzDecoders, seedPackets } from "./_fuzz.ts";

const count = Number(Deno.args[0] ?? 5_000_000);
const seed = Number(Deno.args[1] ?? Date.now() & 0xffffffff);
const seeds = await seedPackets();
const t0 = performance.now();
const s = fuzzDecoders(seeds, count, seed);
const ok = s.packets === count && s.ipFrames + s.nonIpFrames === count &&
  s.flowPackets + s.overflowPackets === s.ipFrames;
console.log(
  `fuzz seed ${seed}: ${s.packets} packets from ${seeds.length} seeds in ${
    ((performance.now() - t0) / 1000).toFixed(1)
  } s; ` +
    `${s.ipFrames} IP, ${s.nonIpFrames} non-IP, ${s.errorFrames} with decode errors, ` +
    `${s.dnsMessages} DNS messages, ${s.httpMessages} HTTP starts; accounting ${
      ok ? "ok" : "BROKEN"
    }`,
);
if (!ok) Deno.exit(1);
