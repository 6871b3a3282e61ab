/**
 * What the benchmarks share: running `netspectra` as a user does, quantiles, and the one hour
 * of gen traffic the API and forwarding benchmarks start from.
 *
 * @module
 */

export const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Runs `netspectra ARGS` in `cwd`; returns its stdout (its stderr in the error if it fails). */
export async function cli(cwd: string, ...a: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", MAIN, ...a], cwd })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`${a.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return text;
}

export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

/** One hour of `packets` gen packets over 40,000 flows (Zipf 0.6) in `dir`/g.pcap. */
export async function genHour(dir: string, packets: number): Promise<void> {
  await cli(
    dir,
    "gen",
    "--packets",
    String(packets),
    "--rate",
    String(Math.round(packets / 3600)),
    "--flows",
    "40000",
    "--zipf",
    "0.6",
    "-o",
    "g.pcap",
  );
}

/**
 * `netspectra run` capturing on lo what goes to UDP `port` (picked at random, returned too)
 * in 1 s windows into `db`, without sketches: the live benchmarks' daemon (then their own
 * flags).
 */
export function loRun(db: string): { port: number; args: string[] } {
  const port = 47000 + Math.floor(Math.random() * 1000);
  const args = ["run", "--interface", "lo", "--filter", `udp port ${port}`, "--window", "1s"]
    .concat(["--db", db, "--no-sketches"]);
  return { port, args };
}
