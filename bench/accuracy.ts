/**
 * Sketch accuracy against exact counts, printed as the tables of bench/ACCURACY.md:
 *
 *   deno task accuracy [--runs 100] [--max 10M] [--packets 2M] [--flows 200k] [--shapes]
 *
 * HyperLogLog: relative RMSE over `runs` seeded runs of distinct IPv4 addresses hashed as the
 * pipeline hashes a src_ip key, at cardinalities from 10 to `max`, for 2^12 and 2^14
 * registers, with the HIP estimator (live windows) and Ertl's (merged or stored sketches).
 * Heavy hitters and super-spreaders: seeded `gen` captures with attacks at Zipf α 0.8, 1.0
 * and 1.2, through the real reader and decoders, against exact flow tables. `--shapes` adds the
 * comparison of HeavyKeeper shapes (rows, decay base, store share) the default was chosen from.
 *
 * @module
 */

import { parseArgs, parseCount } from "../cli/args.ts";
import { rng } from "../collector/gen/gen.ts";
import { addrLaneA, addrLaneB } from "../sketches/hash.ts";
import { HyperLogLog } from "../sketches/hll.ts";
import { FIVE_TUPLE } from "../collector/packet/key_fields.ts";
import { genCapture, HH_CASES, KIB, measure } from "../tests/_accuracy.ts";

const args = parseArgs(Deno.args, {
  values: ["runs", "max", "packets", "flows"],
  booleans: ["shapes"],
}, "accuracy");
const runs = parseCount("runs", args.values.get("runs") ?? "100", 1, 10_000);
const max = parseCount("max", args.values.get("max") ?? "10M", 10, 1e9);
const packets = parseCount("packets", args.values.get("packets") ?? "2M", 10_000, 1e9);
const flows = parseCount("flows", args.values.get("flows") ?? "200k", 1, 1 << 24);
const pct = (x: number, d = 2) => `${(100 * x).toFixed(d)}%`;

console.log(`## HyperLogLog: relative RMSE over ${runs} seeded runs\n`);
const checkpoints: number[] = [];
for (let n = 10; n <= max; n *= 10) {
  for (const f of [1, 2, 5]) if (n * f <= max) checkpoints.push(n * f);
}
const se = [12, 14].map(() => checkpoints.map(() => [0, 0]));
for (let r = 0; r < runs; r++) {
  const hs = [new HyperLogLog(12), new HyperLogLog(14)];
  const base = Math.floor(rng(r + 1)() * 4294967296);
  let c = 0;
  for (let i = 1; i <= checkpoints[checkpoints.length - 1]!; i++) {
    const x = (base + i) >>> 0;
    const a = addrLaneA(0x400, x, 0), b = addrLaneB(0x400, x, 0);
    hs[0]!.add(a, b), hs[1]!.add(a, b);
    if (i === checkpoints[c]) {
      hs.forEach((h, k) => {
        se[k]![c]![0]! += ((h.estimate() - i) / i) ** 2;
        se[k]![c]![1]! += ((h.ertl() - i) / i) ** 2;
      });
      c++;
    }
  }
}
console.log("| distinct | 2^12 HIP | 2^12 Ertl | 2^14 HIP | 2^14 Ertl |");
console.log("| ---: | ---: | ---: | ---: | ---: |");
checkpoints.forEach((n, c) => {
  const cell = (k: number, e: number) => pct(Math.sqrt(se[k]![c]![e]! / runs));
  console.log(
    `| ${n.toLocaleString("en")} | ${cell(0, 0)} | ${cell(0, 1)} | ${cell(1, 0)} | ${cell(1, 1)} |`,
  );
});
const worst = (k: number, e: number) =>
  pct(Math.max(...checkpoints.map((_, c) => Math.sqrt(se[k]![c]![e]! / runs))));
console.log(
  `| **worst** | **${worst(0, 0)}** | **${worst(0, 1)}** | **${worst(1, 0)}** | **${
    worst(1, 1)
  }** |\n`,
);

console.log(
  `## Heavy hitters and super-spreaders on gen captures (${packets} packets, ${flows} flows)\n`,
);
const dir = await Deno.makeTempDir({ prefix: "netspectra-accuracy-" });
try {
  const rows: string[] = [];
  const spreadRows: string[] = [];
  for (const alpha of [0.8, 1.0, 1.2]) {
    const file = await genCapture(dir, { packets, flows, alpha });
    const m = await measure(file, HH_CASES, { threshold: 1000, memoryBytes: 512 * KIB });
    await Deno.remove(file);
    for (const h of m.hh) {
      rows.push(
        `| ${alpha} | ${h.key.join(",")} | ${h.by} | ${h.memoryBytes / KIB} KiB | ≥ ${
          pct(h.share, 2)
        } | ${h.heavy} | ${h.reported} | ${h.precision.toFixed(4)} | ${h.recall.toFixed(4)} | ${
          h.f1.toFixed(4)
        } | ${pct(h.are, 3)} |`,
      );
    }
    const s = m.spread;
    spreadRows.push(
      `| ${alpha} | ${s.threshold} | ${s.memoryBytes / KIB} KiB | ${s.truth} | ${s.reported} | ${
        s.f1.toFixed(3)
      } | ${pct(s.mre)} | ${pct(s.maxRe)} |`,
    );
  }
  console.log(
    "| α | key | by | memory | heavy if | heavy | reported | precision | recall | F1 | ARE |",
  );
  console.log("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) console.log(r);
  console.log(
    "\n| α | threshold | memory | true spreaders | reported | F1 | mean rel. error | max |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of spreadRows) console.log(r);
  if (args.booleans.has("shapes")) await shapes();
} finally {
  await Deno.remove(dir, { recursive: true });
}

/** HeavyKeeper shapes on the hardest capture (α 1.2, 5-tuples and sources, 256 KiB). */
async function shapes(): Promise<void> {
  console.log("\n## HeavyKeeper shapes at α 1.2, 256 KiB, heavy if ≥ 0.01% of packets\n");
  console.log(
    "| rows | decay base | store share | 5-tuple F1 | 5-tuple ARE | src_ip F1 | src_ip ARE |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  const file = await genCapture(dir, { packets, flows, alpha: 1.2 });
  for (const rows of [2, 3, 4]) {
    for (const decayBase of [1.04, 1.08]) {
      for (const storeShare of [0.4, 0.6, 0.8]) {
        const shape = { rows, decayBase, storeShare };
        const m = await measure(file, [
          { key: FIVE_TUPLE, by: "packets", memoryBytes: 256 * KIB, share: 1e-4, shape },
          { key: ["src_ip"], by: "packets", memoryBytes: 256 * KIB, share: 1e-4, shape },
        ], { threshold: 1000, memoryBytes: 512 * KIB });
        const [t, s] = m.hh;
        console.log(
          `| ${rows} | ${decayBase} | ${storeShare} | ${t!.f1.toFixed(4)} | ${pct(t!.are, 3)} | ${
            s!.f1.toFixed(4)
          } | ${pct(s!.are, 3)} |`,
        );
      }
    }
  }
  await Deno.remove(file);
}
