/**
 * The command line as a user runs it: a real `deno run main.ts` process per case.
 */

import assert from "node:assert/strict";
import { PCAPS_DIR } from "../_testdata.ts";
import { gzip } from "../_builders.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Runs the CLI in a fresh working directory (analyze writes ./netspectra.duckdb there). */
async function run(args: string[], stdin?: Uint8Array) {
  const cwd = await Deno.makeTempDir({ prefix: "netspectra-cli-" });
  try {
    return await runIn(cwd, args, stdin);
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
}

async function runIn(cwd: string, args: string[], stdin?: Uint8Array) {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-ffi", MAIN, ...args],
    cwd,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const child = cmd.spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
    stdoutBytes: out.stdout,
  };
}

const FLAGS = PCAPS_DIR + "tcpdump__print-flags.pcap";

Deno.test("netspectra analyze --format csv prints the group-by fields then packets,bytes", async () => {
  const r = await run(["analyze", "--format", "csv", FLAGS]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.equal(
    r.stdout,
    "src_ip,dst_ip,proto,src_port,dst_port,packets,bytes,first_ts,last_ts,tcp_flags\n" +
      "127.0.0.1,127.0.0.1,6,55920,80,6,606,1120622255.938066000,1120622257.230900000,27\n" +
      "127.0.0.1,127.0.0.1,6,80,55920,4,5831,1120622255.938122000,1120622257.230839000,27\n",
  );
});

Deno.test("netspectra analyze --group-by and --limit shape the csv", async () => {
  const r = await run([
    "analyze",
    "--format",
    "csv",
    "--group-by",
    "dst_port",
    "--limit",
    "1",
    FLAGS,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines[0], "dst_port,packets,bytes,first_ts,last_ts,tcp_flags");
  assert.equal(lines.length, 2);
  assert.match(lines[1]!, /^80,6,606,/);
});

Deno.test("netspectra analyze csv leaves ports empty for ICMP and later fragments", async () => {
  const r = await run(["analyze", "--format", "csv", PCAPS_DIR + "pcapplusplus__IPv4Frag.pcap"]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes("\n192.168.0.254,192.168.0.2,17,,,2,2648,"), r.stdout);
});

Deno.test("netspectra analyze --format json has totals and flows", async () => {
  const r = await run([
    "analyze",
    "--format",
    "json",
    PCAPS_DIR + "pcapplusplus__VlanPackets.pcap",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.totals.frames, 26);
  assert.equal(doc.totals.bytes, 4686);
  assert.equal(doc.totals.non_ip_frames, 6);
  assert.equal(doc.totals.ip_frames, 20);
  assert.deepEqual(doc.totals.decode_errors, {});
  assert.equal(doc.totals.first_ts, "1277840495.135052000");
  assert.equal(doc.flows.length, 4);
  assert.deepEqual(Object.keys(doc.flows[0]).slice(0, 7), [
    "src_ip",
    "dst_ip",
    "proto",
    "src_port",
    "dst_port",
    "packets",
    "bytes",
  ]);
});

Deno.test("netspectra analyze reads several files, stdin and gzip alike", async () => {
  const one = await run(["analyze", "--format", "json", FLAGS]);
  const two = await run(["analyze", "--format", "json", FLAGS, FLAGS]);
  const data = await Deno.readFile(FLAGS);
  const piped = await run(["analyze", "--format", "json", "-"], data);
  const gz = await run(["analyze", "--format", "json", "-"], await gzip(data));
  for (const r of [one, two, piped, gz]) assert.equal(r.code, 0, r.stderr);
  const [a, b, c, d] = [one, two, piped, gz].map((r) => JSON.parse(r.stdout));
  // The same capture twice in one run is one capture (its content is its identity).
  assert.equal(b.totals.frames, a.totals.frames);
  assert.deepEqual(b.flows, a.flows);
  assert.deepEqual(c.flows, a.flows);
  assert.deepEqual(d.flows, a.flows);
  assert.equal(c.files[0].name, "-");
});

Deno.test("netspectra analyze reads a file cut short to its last whole record, warns, exits 0", async () => {
  const r = await run([
    "analyze",
    "--format",
    "csv",
    PCAPS_DIR + "derived__tcpdump__print-flags.cut.pcap",
  ]);
  assert.equal(r.code, 0);
  assert.match(r.stderr, /^warning: .*byte offset 6539 .*cut short/);
  const packets = r.stdout.trim().split("\n").slice(1).map((l) => Number(l.split(",")[5]));
  assert.equal(packets.reduce((x, y) => x + y, 0), 9);
});

Deno.test("netspectra analyze table report shows the sections a person expects", async () => {
  const r = await run(["analyze", PCAPS_DIR + "pcapplusplus__sll.pcap"]);
  assert.equal(r.code, 0, r.stderr);
  for (const s of ["Summary", "Protocol mix", "Decode problems", "Top talkers", "Top flows"]) {
    assert.ok(r.stdout.includes(s), s);
  }
  assert.match(r.stdout, /frames {4}518 {2}\(511 IP, 7 non-IP\)/);
});

Deno.test("netspectra user mistakes get one clear line and a non-zero exit", async () => {
  const notCapture = await Deno.makeTempFile({ suffix: ".pcap" });
  await Deno.writeTextFile(notCapture, "this is not a capture file");
  const cases: [string[], number, RegExp][] = [
    [["analyze", notCapture], 1, /^netspectra: Cannot read .*: unknown magic 0x74686973 /],
    [["analyze", "/nonexistent/x.pcap"], 1, /^netspectra: .*x\.pcap/],
    [
      ["analyze", PCAPS_DIR + "libpcap__pcap-invalid-version-1.pcap"],
      1,
      /version 1\.\d+ is not supported/,
    ],
    [["analyze", "--format", "xml", FLAGS], 2, /--format must be one of table, csv, json/],
    [["analyze", "--group-by", "src_ip,nope", FLAGS], 2, /unknown field "nope"/],
    [["analyze", "--limit", "1.5", FLAGS], 2, /--limit must be a whole number/],
    [["analyze", "--db", "", FLAGS], 2, /--db needs a file name/],
    [["sql", "--db", "", "SELECT 1"], 2, /--db needs a file name/],
    [["analyze", PCAPS_DIR], 1, /Cannot read .*pcaps\/?: it is a directory/],
    [["analyze", "--bogus", FLAGS], 2, /unknown flag --bogus/],
    [["analyze"], 2, /no input files/],
    [["frobnicate"], 2, /unknown command "frobnicate"/],
    [["gen", "--packets", "ten", "-o", "/tmp/x.pcap"], 2, /--packets must be a whole number/],
    [["gen"], 2, /--packets is required; -o FILE is required/],
    [["gen", "--packets", "10", "--dns", "120", "-o", "/tmp/x.pcap"], 2, /--dns must be a percent/],
    [["gen", "--packets", "10", "--http", "x", "-o", "/tmp/x.pcap"], 2, /--http must be a percent/],
    [
      ["gen", "--packets", "10", "--dns", "60", "--http", "50", "-o", "/tmp/x.pcap"],
      2,
      /--dns and --http together must be at most 100/,
    ],
  ];
  try {
    for (const [args, code, pattern] of cases) {
      const r = await run(args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(
        r.stderr.trim().split("\n").length,
        1,
        `one line for ${args.join(" ")}: ${r.stderr}`,
      );
      assert.ok(!/\n\s+at /.test(r.stderr), "no stack trace");
    }
  } finally {
    await Deno.remove(notCapture);
  }
});

Deno.test("netspectra gen | analyze -: every packet counted, no decode problem", async () => {
  const gen = await run(["gen", "--packets", "20000", "--flows", "300", "--seed", "7", "-o", "-"]);
  assert.equal(gen.code, 0, gen.stderr);
  const piped = await run(["analyze", "--format", "json", "-"], gen.stdoutBytes);
  assert.equal(JSON.parse(piped.stdout).totals.frames, 20000);
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/g.pcap`;
    const g = await run(["gen", "--packets", "20000", "--flows", "300", "--seed", "7", "-o", file]);
    assert.equal(g.code, 0, g.stderr);
    const r = await run(["analyze", "--format", "json", file]);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.totals.frames, 20000);
    assert.equal(doc.totals.non_ip_frames, 0);
    assert.deepEqual(doc.totals.decode_errors, {});
    const sum = doc.flows.reduce((n: number, f: { packets: number }) => n + f.packets, 0);
    assert.equal(sum, 20000);
    assert.ok(doc.totals.ipv6_frames > 0, "IPv6 present");
    for (const p of ["tcp", "udp", "icmp", "icmpv6"]) assert.ok(doc.totals.protocols[p] > 0, p);
    assert.ok(doc.flows.some((f: { dst_port: number }) => f.dst_port === 53), "DNS");
    assert.ok(
      doc.flows.some((f: { tcp_flags: number }) => (f.tcp_flags & 0x03) === 0x03),
      "SYN and FIN",
    );
    const vlan = await run(["analyze", "--format", "csv", "--group-by", "vlan", file]);
    assert.match(vlan.stdout, /\n10[0-7],/, "VLAN-tagged traffic");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("netspectra gen is deterministic for a seed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const paths = [`${dir}/a.pcap`, `${dir}/b.pcap`, `${dir}/c.pcap`];
    const seeds = ["3", "3", "4"];
    for (let k = 0; k < 3; k++) {
      const r = await run(["gen", "--packets", "5000", "--seed", seeds[k]!, "-o", paths[k]!]);
      assert.equal(r.code, 0, r.stderr);
    }
    const [a, b, c] = await Promise.all(paths.map((p) => Deno.readFile(p)));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.ok(a!.length > 24);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("netspectra demo runs end to end", async () => {
  const r = await run(["demo", "--packets", "20000"]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes("Top flows"));
  assert.match(r.stdout, /frames {4}20000 /);
});

Deno.test("analyze run without the store's permissions says which flag, in one line", async () => {
  const cwd = await Deno.makeTempDir({ prefix: "netspectra-cli-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", MAIN, "analyze", FLAGS],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1);
    assert.match(stderr, /^netspectra: Requires (ffi|write) access.*deno task netspectra/);
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});
