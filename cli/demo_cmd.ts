/**
 * `netspectra demo`: generate a synthetic capture into a temp folder and analyze it.
 *
 * @module
 */

import { analyzeCommand } from "./analyze_cmd.ts";
import { genCommand } from "./gen_cmd.ts";
import { parseArgs, parseCount } from "./args.ts";

export const DEMO_USAGE = `netspectra demo [--packets N]
  generates a synthetic capture (default 200k packets) in a temp folder and prints its report`;

export async function demoCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, { values: ["packets"], booleans: [] }, "demo");
  const packets = args.values.has("packets")
    ? parseCount("packets", args.values.get("packets")!, 1, 1e8)
    : 200_000;
  const dir = await Deno.makeTempDir({ prefix: "netspectra-demo-" });
  const file = `${dir}/demo.pcap`;
  try {
    const rc = await genCommand(["--packets", String(packets), "--flows", "5000", "-o", file]);
    if (rc !== 0) return rc;
    return await analyzeCommand([file]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
