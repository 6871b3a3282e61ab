/**
 * `netspectra gen --packets N [--flows F] [--seed S] [--zipf A] [--dns PCT] [--http PCT] [--scans N] [--syn-flood] [--ddos] -o FILE`
 *
 * @module
 */

import { GEN_DEFAULTS, GEN_FLOWS_MAX, GEN_PACKETS_MAX, generate } from "../collector/gen/mod.ts";
import { SCANS_MAX } from "../collector/gen/mod.ts";
import { parseArgs, parseCount, UsageError } from "./args.ts";

export const GEN_USAGE = `netspectra gen --packets N [options] -o FILE
  --packets N   packets to write (e.g. 2M)
  --flows F     distinct flows to draw from (default ${GEN_DEFAULTS.flows})
  --seed S      random seed; same options give the same bytes (default ${GEN_DEFAULTS.seed})
  --zipf A      Zipf exponent of flow popularity (default ${GEN_DEFAULTS.zipfAlpha})
  --rate PPS    mean packet rate for timestamps (default ${GEN_DEFAULTS.ratePps})
  --dns PCT     make DNS messages PCT percent of the packets (flows are given kinds to match)
  --http PCT    make packets of HTTP (port 80) connections PCT percent of the packets
  --scans N     add N scanning sources (up to ${SCANS_MAX}): even ones sweep hosts, odd ones ports
  --syn-flood   add a SYN flood (2% of packets) to 198.51.100.10:80 from spoofed sources
  --ddos        add a UDP DDoS (3% of packets) from 5,000 bots to 198.51.100.20
  -o FILE       output pcap ("-" for standard output)`;

export async function genCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, {
    values: ["packets", "flows", "seed", "zipf", "rate", "output", "scans", "dns", "http"],
    booleans: ["syn-flood", "ddos"],
    aliases: { o: "output" },
  }, "gen");
  const problems: string[] = [];
  if (!args.values.has("packets")) problems.push("--packets is required");
  if (!args.values.has("output")) problems.push("-o FILE is required");
  if (args.positionals.length > 0) problems.push(`unexpected argument "${args.positionals[0]}"`);
  if (problems.length > 0) throw new UsageError(`gen: ${problems.join("; ")}`);
  const zipfText = args.values.get("zipf");
  const zipfAlpha = zipfText === undefined ? GEN_DEFAULTS.zipfAlpha : Number(zipfText);
  if (!(zipfAlpha >= 0 && zipfAlpha <= 5)) throw new UsageError("gen: --zipf must be from 0 to 5");
  const percent = (name: string): number | undefined => {
    const text = args.values.get(name);
    if (text === undefined) return undefined;
    const v = Number(text);
    if (text.trim() === "" || !(v >= 0 && v <= 100)) {
      throw new UsageError(`gen: --${name} must be a percentage from 0 to 100`);
    }
    return v;
  };
  const dnsPercent = percent("dns"), httpPercent = percent("http");
  if ((dnsPercent ?? 0) + (httpPercent ?? 0) > 100) {
    throw new UsageError("gen: --dns and --http together must be at most 100 percent");
  }
  const opts = {
    packets: parseCount("packets", args.values.get("packets")!, 1, GEN_PACKETS_MAX),
    flows: args.values.has("flows")
      ? parseCount("flows", args.values.get("flows")!, 1, GEN_FLOWS_MAX)
      : GEN_DEFAULTS.flows,
    seed: args.values.has("seed")
      ? parseCount("seed", args.values.get("seed")!, 0, 0xffffffff)
      : GEN_DEFAULTS.seed,
    zipfAlpha,
    ratePps: args.values.has("rate")
      ? parseCount("rate", args.values.get("rate")!, 1, 1e9)
      : GEN_DEFAULTS.ratePps,
    startSec: GEN_DEFAULTS.startSec,
    dnsPercent,
    httpPercent,
    attacks: {
      scans: args.values.has("scans")
        ? parseCount("scans", args.values.get("scans")!, 0, SCANS_MAX)
        : 0,
      synFlood: args.booleans.has("syn-flood"),
      ddos: args.booleans.has("ddos"),
    },
  };
  const out = args.values.get("output")!;
  if (out === "-") {
    await generate(Deno.stdout, opts);
    return 0;
  }
  const file = await Deno.open(out, { write: true, create: true, truncate: true });
  try {
    const s = await generate(file, opts);
    console.error(`wrote ${out}: ${s.packets} packets, ${s.bytes} bytes of frames`);
  } finally {
    file.close();
  }
  return 0;
}
