/**
 * Live capture (issue 13): `netspectra run` on one end of a veth pair, pinned to core 0, while
 * trafgen sends 60-byte UDP frames (10,000 flows) from the other end, in a network namespace
 * this script makes and removes, pinned to core 1. For each rate: what trafgen reports of its
 * own, what the kernel passed and dropped (the daemon's /metrics), and the daemon's CPU time
 * per packet. tcpdump (-w /dev/null, same ring size, same core) at the same rates is the
 * reference. Needs root, trafgen (netsniff-ng), tcpdump, iproute2, and --allow-all (the
 * daemon's CPU time is read from /proc/PID/stat).
 *
 *   deno run -A bench/live.ts [--seconds 4] [--rates 250000,500000,...] [--buffer BYTES]
 *                             [--run-args "..."]
 *
 * trafgen's own rate limit (-b) reaches only ~350k packets/s here (it sleeps per packet), so the
 * rate that matters is the last, 0: as fast as it sends.
 *
 * @module
 */

import { parseArgs, parseCount } from "../cli/args.ts";
import { decodeBatch } from "../collector/decode/mod.ts";
import { BUFFER_BYTES_DEFAULT, LiveRing } from "../collector/live/mod.ts";
import { BATCH_PACKETS_DEFAULT, PacketBatch } from "../collector/packet/mod.ts";

const args = parseArgs(
  Deno.args,
  { values: ["seconds", "rates", "run-args", "reader", "buffer"], booleans: [] },
  "bench",
);

/** The capture buffer of all three readers (bytes; default run's own). */
const BUFFER = parseCount(
  "buffer",
  args.values.get("buffer") ?? String(BUFFER_BYTES_DEFAULT),
  8 << 20,
  2 ** 31,
);

// The capture layer alone (its own process, pinned by the caller): ring + decode, no engine.
const readerDevice = args.values.get("reader");
if (readerDevice !== undefined) {
  const ring = LiveRing.open({ device: readerDevice, bufferBytes: BUFFER });
  const batch = new PacketBatch(BATCH_PACKETS_DEFAULT);
  let read = 0;
  let stop = false;
  Deno.addSignalListener("SIGTERM", () => stop = true);
  while (!stop) {
    if (ring.fill(batch) === 0) {
      await ring.wait(50);
      continue;
    }
    decodeBatch(batch);
    read += batch.length;
  }
  ring.stopIntake();
  while (ring.fill(batch) > 0) read += batch.length;
  console.log(JSON.stringify({ read, ...ring.stats() }));
  ring.close();
  Deno.exit(0);
}
const seconds = parseCount("seconds", args.values.get("seconds") ?? "4", 1, 30);
/** 0: as fast as trafgen sends. */
const rates = (args.values.get("rates") ?? "250000,500000,750000,1000000,1250000,0")
  .split(",").map(Number);
if (rates.some((r) => !(r >= 0 && r <= 5e6))) throw new Error("--rates: 0..5000000 each");
if (Deno.uid() !== 0) {
  console.log("live capture: skipped (needs root: a network namespace, a capture socket)");
  Deno.exit(0);
}

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const NS = "nslive", HOST = "nslA", FAR = "nslB";
const dir = await Deno.makeTempDir({ prefix: "netspectra-live-" });
const FRAME = "{ eth(da=02:00:00:00:00:01, sa=02:00:00:00:00:02), " +
  "ipv4(saddr=10.79.0.2, daddr=10.79.0.1), udp(sp=dinc(1024, 11023), dp=5000), fill(0x41, 18) }";
/** More flags for `run`, e.g. --run-args "--no-sketches". */
const EXTRA = (args.values.get("run-args") ?? "").split(" ").filter((s) => s !== "");

async function sh(cmd: string[], quiet = false): Promise<string> {
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success && !quiet) throw new Error(`${cmd.join(" ")}: ${text}`);
  return text;
}

/** trafgen's own figures: packets sent and seconds it took. */
async function send(rate: number, count: number): Promise<{ packets: number; sec: number }> {
  const conf = `${dir}/frame.trafgen`;
  await Deno.writeTextFile(conf, FRAME + "\n");
  const argv = ["ip", "netns", "exec", NS, "taskset", "-c", "1", "trafgen", "-o", FAR, "-i", conf]
    .concat(["-n", String(count), "-P", "1", "-q"]);
  if (rate > 0) argv.push("-b", `${rate}pps`);
  const out = await sh(argv);
  const packets = Number(/(\d+) packets outgoing/.exec(out)?.[1]);
  const t = /(\d+) sec, (\d+) usec/.exec(out);
  return { packets, sec: Number(t?.[1]) + Number(t?.[2]) / 1e6 };
}

/** User + system CPU seconds of process `pid` so far. */
async function cpuSec(pid: number): Promise<number> {
  const f = (await Deno.readTextFile(`/proc/${pid}/stat`)).split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

async function metrics(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url + "metrics")).text();
  const m = new Map<string, number>();
  for (const line of text.split("\n")) {
    const s = /^(\S+) (\S+)$/.exec(line);
    if (s && !line.startsWith("#")) m.set(s[1]!, Number(s[2]));
  }
  return m;
}

interface Row {
  rate: string;
  sent: number;
  senderPps: number;
  received: number;
  dropped: number;
  read: number;
  nsPerPacket: number;
}

async function netspectraRows(): Promise<Row[]> {
  const port = 20000 + Math.floor(Math.random() * 10000);
  const url = `http://127.0.0.1:${port}/`;
  const child = new Deno.Command("taskset", {
    args: ["-c", "0", Deno.execPath(), "run", "-A", MAIN, "run", "--interface", HOST]
      .concat(["--window", "1s", "--db", `${dir}/live.duckdb`, "--listen", `127.0.0.1:${port}`])
      .concat(["--buffer", String(BUFFER), "--log-level", "warn", ...EXTRA]),
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const rows: Row[] = [];
  try {
    const dev = `{device="${HOST}"}`;
    let m = new Map<string, number>();
    for (let t = 0; m.get(`netspectra_capture_up${dev}`) !== 1; t++) {
      if (t > 200) throw new Error("the daemon did not start");
      await new Promise((ok) => setTimeout(ok, 100));
      m = await metrics(url).catch(() => new Map());
    }
    for (const rate of rates) {
      const before = await metrics(url), cpu0 = await cpuSec(child.pid);
      const count = Math.min((rate || 1_500_000) * seconds, 8_000_000);
      const sent = await send(rate, count);
      // Until the daemon has read what the kernel passed (and a clock tick has counted it).
      let after = before;
      for (let t = 0; t < 100; t++) {
        await new Promise((ok) => setTimeout(ok, 200));
        after = await metrics(url);
        const rec = after.get(`netspectra_capture_packets_received_total${dev}`)! -
          before.get(`netspectra_capture_packets_received_total${dev}`)!;
        const done = after.get(`netspectra_capture_packets_read_total${dev}`)! -
          before.get(`netspectra_capture_packets_read_total${dev}`)! +
          after.get(`netspectra_capture_packets_dropped_total{device="${HOST}",stage="kernel"}`)! -
          before.get(`netspectra_capture_packets_dropped_total{device="${HOST}",stage="kernel"}`)!;
        if (rec >= sent.packets && done >= rec) break;
      }
      const cpu = await cpuSec(child.pid) - cpu0;
      const d = (name: string) => after.get(name)! - before.get(name)!;
      const read = d(`netspectra_capture_packets_read_total${dev}`);
      rows.push({
        rate: rate === 0 ? "max" : `${rate / 1000}k`,
        sent: sent.packets,
        senderPps: sent.packets / sent.sec,
        received: d(`netspectra_capture_packets_received_total${dev}`),
        dropped: d(`netspectra_capture_packets_dropped_total{device="${HOST}",stage="kernel"}`),
        read,
        nsPerPacket: read > 0 ? cpu * 1e9 / read : NaN,
      });
    }
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
  return rows;
}

async function tcpdumpRows(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const rate of rates) {
    const child = new Deno.Command("taskset", {
      args: [
        "-c",
        "0",
        "tcpdump",
        "-i",
        HOST,
        "-nn",
        "-B",
        String(BUFFER / 1024),
        "-w",
        "/dev/null",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await new Promise((ok) => setTimeout(ok, 1500));
    const cpu0 = await cpuSec(child.pid);
    const count = Math.min((rate || 1_500_000) * seconds, 8_000_000);
    const sent = await send(rate, count);
    await new Promise((ok) => setTimeout(ok, 1500));
    const cpu = await cpuSec(child.pid) - cpu0;
    child.kill("SIGINT");
    const err = new TextDecoder().decode((await child.output()).stderr);
    const num = (re: RegExp) => Number(re.exec(err)?.[1] ?? NaN);
    const captured = num(/(\d+) packets? captured/);
    rows.push({
      rate: rate === 0 ? "max" : `${rate / 1000}k`,
      sent: sent.packets,
      senderPps: sent.packets / sent.sec,
      received: num(/(\d+) packets? received by filter/),
      dropped: num(/(\d+) packets? dropped by kernel/),
      read: captured,
      nsPerPacket: captured > 0 ? cpu * 1e9 / captured : NaN,
    });
  }
  return rows;
}

/** The capture layer alone (ring + decode) on core 0, at trafgen's full rate. */
async function readerRows(): Promise<Row[]> {
  const self = new URL(import.meta.url).pathname;
  const child = new Deno.Command("taskset", {
    args: ["-c", "0", Deno.execPath(), "run", "-A", self, "--reader", HOST],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  await new Promise((ok) => setTimeout(ok, 2000));
  const cpu0 = await cpuSec(child.pid);
  const sent = await send(0, 1_500_000 * seconds);
  await new Promise((ok) => setTimeout(ok, 1000));
  const cpu = await cpuSec(child.pid) - cpu0;
  child.kill("SIGTERM");
  const r = JSON.parse(new TextDecoder().decode((await child.output()).stdout));
  return [{
    rate: "max",
    sent: sent.packets,
    senderPps: sent.packets / sent.sec,
    received: r.received,
    dropped: r.dropped,
    read: r.read,
    nsPerPacket: r.read > 0 ? cpu * 1e9 / r.read : NaN,
  }];
}

function print(title: string, rows: Row[]): void {
  console.log(`\n${title}`);
  console.log(
    "| rate asked | sent (trafgen) | sender's rate | kernel passed | kernel dropped | read | CPU per packet |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) {
    console.log(
      `| ${r.rate} | ${r.sent.toLocaleString("en")} | ${Math.round(r.senderPps / 1000)}k/s | ` +
        `${r.received.toLocaleString("en")} | ${r.dropped.toLocaleString("en")} | ` +
        `${r.read.toLocaleString("en")} | ${Math.round(r.nsPerPacket)} ns |`,
    );
  }
  // The kernel also passes the odd frame of the link's own (IPv6 neighbour discovery).
  const ok = rows.filter((r) => r.dropped === 0 && r.read >= r.sent);
  const best = ok.reduce((b, r) => Math.max(b, r.senderPps), 0);
  console.log(
    `highest sender rate with 0 kernel drops, all read: ${Math.round(best / 1000)}k packets/s`,
  );
}

try {
  await sh(["ip", "netns", "add", NS]);
  await sh(["ip", "link", "add", HOST, "type", "veth", "peer", "name", FAR]);
  await sh(["ip", "link", "set", FAR, "netns", NS]);
  await sh(["ip", "link", "set", HOST, "up"]);
  await sh(["ip", "netns", "exec", NS, "ip", "link", "set", FAR, "up"]);
  console.log(`# live capture, ${new Date().toISOString()}, ${seconds} s per rate, 60-byte frames`);
  print(
    `netspectra run ${EXTRA.join(" ")} (core 0), trafgen (core 1)`.replace("  ", " "),
    await netspectraRows(),
  );
  print("tcpdump -w /dev/null (core 0), same sender", await tcpdumpRows());
  print("the capture layer alone: ring + decode, no engine (core 0)", await readerRows());
} finally {
  await sh(["ip", "netns", "del", NS], true);
  await sh(["ip", "link", "del", HOST], true);
  await Deno.remove(dir, { recursive: true });
}
