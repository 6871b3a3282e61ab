/**
 * `netspectra demo`: generate a synthetic capture into a temp folder and analyze it into
 * ./netspectra.duckdb, so `netspectra sql` has something to query next.
 *
 * @module
 */

import { analyzeCommand } from "./analyze_cmd.ts";
import { genCommand } from "./gen_cmd.ts";
import { parseArgs, parseCount } from "./args.ts";

export const DEMO_USAGE = `netspectra demo [--packets N]
  generates a synthetic capture (default 200k packets over about 3 minutes) in a temp folder,
  analyzes it into ./netspectra.duckdb and prints the report; then try netspectra sql`;

/** Packets per second of the demo capture: a few minutes of packet time, so several windows. */
const DEMO_RATE_PPS = 1000;

export async function demoCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, { values: ["packets"], booleans: [] }, "demo");
  const packets = args.values.has("packets")
    ? parseCount("packets", args.values.get("packets")!, 1, 1e8)
    : 200_000;
  const dir = await Deno.makeTempDir({ prefix: "netspectra-demo-" });
  const file = `${dir}/demo.pcap`;
  try {
    const rc = await genCommand([
      "--packets",
      String(packets),
      "--flows",
      "5000",
      "--rate",
      String(DEMO_RATE_PPS),
      "-o",
      file,
    ]);
    if (rc !== 0) return rc;
    const done = await analyzeCommand([file]);
    console.log(
      `\nThe results are in ./netspectra.duckdb; try:\n` +
        `  npx -y deno@2.9.6 task netspectra sql "SELECT * FROM windows ORDER BY window_start"`,
    );
    return done;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
