/**
 * The YAML configuration: the shipped example is valid, defaults hold, every problem of a bad
 * file is reported at once.
 */

import assert from "node:assert/strict";
import { parse } from "yaml";
import {
  ConfigError,
  defaultConfig,
  loadConfig,
  validateConfig,
} from "../../collector/config/config.ts";

const EXAMPLE = new URL("../../configs/netspectra.yaml", import.meta.url).pathname;

Deno.test("loadConfig() reads the shipped example", async () => {
  // Its commented sinks, uncommented, are a valid sink too (with tasks of the names it gives).
  const text = await Deno.readTextFile(EXAMPLE);
  const from = text.indexOf("# sinks:"), to = text.indexOf("\n\n", from);
  const sinks = validateConfig(parse(
    "tasks:\n  - { name: flows, key: [src_ip, dst_ip] }\n  - { name: talkers, key: [src_ip] }\n" +
      text.slice(from, to).replace(/^# ?/gm, ""),
  ));
  assert.ok(!Array.isArray(sinks), String(sinks));
  assert.equal(sinks.sinks[0]!.tls?.caFile, "/etc/netspectra/ca.pem");
  assert.equal(sinks.sinks[0]!.tables?.length, 11);
  const c = await loadConfig(EXAMPLE);
  assert.equal(c.windowSec, 60);
  assert.deepEqual(c.tasks.map((t) => [t.name, t.key.join(",")]), [
    ["flows", "src_ip,dst_ip,proto,src_port,dst_port"],
    ["talkers", "src_ip"],
    ["services", "dst_ip,proto,dst_port"],
  ]);
  assert.deepEqual([c.flows.idleSec, c.flows.activeSec, c.flows.flowsMax], [60, 300, 1048576]);
  assert.equal(c.records, true);
  assert.deepEqual([c.listen, c.logLevel, c.sources], ["127.0.0.1:9470", "info", null]);
  assert.deepEqual(c.store, {
    path: "netspectra.duckdb",
    retention: { maxAgeSec: 7 * 86400, maxBytes: 10e9 },
  });
});

Deno.test("validateConfig() of an empty document is the default", () => {
  assert.deepEqual(validateConfig(null), defaultConfig());
  assert.deepEqual(validateConfig({ window: "10s" }), { ...defaultConfig(), windowSec: 10 });
  assert.deepEqual(validateConfig({ flows: { records: false } }), {
    ...defaultConfig(),
    records: false,
  });
});

Deno.test("validateConfig() reports every problem at once", () => {
  const problems = validateConfig({
    window: "2 weeks",
    colour: "blue",
    tasks: [
      { name: "flows", key: ["src_ip", "mac"] },
      { name: "flows", kind: "topk", key: [] },
      { name: "Bad Name", key: ["proto", "proto"], flows_max: 0 },
    ],
    flows: { idle_timeout: "soon", max: -1, records: "no" },
    store: { path: "", retention: { max_age: "x", max_bytes: "lots", keep: 1 } },
  }) as string[];
  assert.ok(Array.isArray(problems));
  const expected = [
    /^window:/,
    /top level: unknown key "colour"/,
    /tasks\[0\]\.key: unknown field "mac"/,
    /tasks\[1\]\.name: "flows" is used twice/,
    /tasks\[1\]\.kind: one of exact, heavy_hitters, count_min, distinct, spread, got "topk"/,
    /tasks\[1\]\.key: a list of key fields/,
    /tasks\[2\]\.name: lower-case/,
    /tasks\[2\]\.key: proto given twice/,
    /tasks\[2\]\.flows_max/,
    /flows\.idle_timeout/,
    /flows\.max/,
    /flows\.records: true or false/,
    /store\.path/,
    /store\.retention: unknown key "keep"/,
    /store\.retention\.max_age/,
    /store\.retention\.max_bytes/,
  ];
  for (const re of expected) {
    assert.ok(problems.some((p) => re.test(p)), `${re} in ${problems.join(" | ")}`);
  }
  assert.equal(problems.length, expected.length, problems.join(" | "));
});

Deno.test("loadConfig() names the file and refuses YAML that does not parse", async () => {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(path, "tasks: [unclosed\n");
    await assert.rejects(
      loadConfig(path),
      (e: unknown) =>
        e instanceof ConfigError && /not valid YAML/.test(e.message) && e.message.includes(path),
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("validateConfig() reads sketch tasks with their options and limits", () => {
  const cfg = validateConfig({
    tasks: [
      { name: "flows", key: ["src_ip", "dst_ip"] },
      {
        name: "hh",
        kind: "heavy_hitters",
        key: ["dst_ip"],
        memory: "64KiB",
        by: "packets",
        top: 5,
      },
      { name: "cm", kind: "count_min", key: ["src_ip"], memory: "32KiB", conservative: false },
      { name: "hll", kind: "distinct", key: ["dst_port"], precision: 12 },
      {
        name: "scan",
        kind: "spread",
        key: ["src_ip"],
        element: ["dst_port"],
        threshold: 50,
        filter: "tcp_syn",
      },
    ],
  });
  assert.ok(!Array.isArray(cfg), JSON.stringify(cfg));
  assert.deepEqual(cfg.tasks.map((t) => t.name), ["flows"]);
  assert.deepEqual(cfg.sketches.map((t) => [t.name, t.kind]), [
    ["hh", "heavy_hitters"],
    ["cm", "count_min"],
    ["hll", "distinct"],
    ["scan", "spread"],
  ]);
  const [hh, cm, hll, scan] = cfg.sketches;
  assert.equal(hh!.memoryBytes, 65536);
  assert.equal(hh!.by, "packets");
  assert.equal(hh!.top, 5);
  assert.equal(cm!.conservative, false);
  assert.equal(hll!.precision, 12);
  assert.deepEqual(scan!.element, ["dst_port"]);
  assert.equal(scan!.threshold, 50);
  assert.equal(scan!.filter, "tcp_syn");
});

Deno.test("validateConfig() reports sketch option problems, each once", () => {
  const problems = validateConfig({
    tasks: [
      { name: "flows", key: ["src_ip"] },
      { name: "hh", kind: "heavy_hitters", key: ["src_ip"], memory: "1KB", by: "flows" },
      { name: "hll", kind: "distinct", key: ["src_ip"], precision: 30, memory: "1MB" },
      { name: "sp", kind: "spread", key: ["src_ip"], element: ["mac"], threshold: 1 },
      { name: "cm", kind: "count_min", key: ["src_ip"], filter: "udp" },
    ],
  }) as string[];
  assert.ok(Array.isArray(problems));
  const expected = [
    /tasks\[1\]\.memory: a size from 4096/,
    /tasks\[1\]\.by: packets or bytes/,
    /tasks\[2\]: unknown key "memory"/,
    /tasks\[2\]\.precision: 4 to 18/,
    /tasks\[3\]\.threshold/,
    /tasks\[3\]\.element: unknown field "mac"/,
    /tasks\[4\]\.filter: one of all, tcp_syn/,
  ];
  for (const re of expected) {
    assert.ok(problems.some((p) => re.test(p)), `${re} in ${problems.join(" | ")}`);
  }
  assert.equal(problems.length, expected.length, problems.join(" | "));
});

Deno.test("validateConfig() caps the sketches' memory together", () => {
  const big = (n: number) => ({ name: `s${n}`, kind: "spread", key: ["src_ip"], memory: "256MiB" });
  const problems = validateConfig({
    tasks: [{ name: "flows", key: ["src_ip"] }, big(1), big(2), big(3), big(4), big(5)],
  }) as string[];
  assert.ok(Array.isArray(problems));
  assert.match(problems.join(" | "), /memory adds up to 1342177280 bytes, more than 1073741824/);
});

Deno.test("validateConfig() needs one exact task", () => {
  const problems = validateConfig({
    tasks: [{ name: "hll", kind: "distinct", key: ["src_ip"] }],
  }) as string[];
  assert.ok(Array.isArray(problems));
  assert.match(problems.join(" | "), /at least one exact task/);
});

Deno.test("ConfigError messages end as complete sentences, YAML parse errors too", async () => {
  const cases = ["window: [\n  tasks: :\n", "window: forever\n", "tasks: 3\nwindow: 0s\n"];
  for (const text of cases) {
    const path = await Deno.makeTempFile({ suffix: ".yaml" });
    try {
      await Deno.writeTextFile(path, text);
      const e = await loadConfig(path).then(() => null, (e) => e);
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, /^Invalid configuration .*[^:;,]\.$/, e.message);
      assert.equal(e.message.split("\n").length, 1);
    } finally {
      await Deno.remove(path);
    }
  }
});

Deno.test("validateConfig() never throws on 20,000 generated documents", () => {
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const atoms: unknown[] = [
    null,
    0,
    -1,
    1.5,
    2 ** 40,
    "",
    "10s",
    "5m",
    "256KiB",
    "x",
    true,
    [],
    {},
    ["src_ip"],
    ["src_ip", "src_ip"],
    "exact",
    "spread",
    "heavy_hitters",
    "clickhouse",
    "https://ch",
    ["flows", "dns"],
  ];
  const keys = ["window", "tasks", "flows", "store", "name", "kind", "key", "memory", "by", "top"]
    .concat(["precision", "element", "threshold", "filter", "flows_max", "path", "retention"])
    .concat(["sources", "interface", "replay", "speed", "snaplen", "buffer", "promisc", "http"])
    .concat(["listen", "log_level", "sinks", "type", "url", "database", "user", "password_file"])
    .concat(["password_env", "timeout", "tls", "ca", "cert", "batch", "rows", "bytes", "interval"])
    .concat(["tables"]);
  const gen = (depth: number): unknown => {
    const r = rand();
    if (depth > 4 || r < 0.4) return atoms[Math.floor(rand() * atoms.length)];
    if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => gen(depth + 1));
    const o: Record<string, unknown> = {};
    for (let k = Math.floor(rand() * 5); k > 0; k--) {
      o[keys[Math.floor(rand() * keys.length)]!] = gen(depth + 1);
    }
    return o;
  };
  let valid = 0;
  for (let n = 0; n < 20_000; n++) {
    const r = validateConfig(gen(0));
    if (!Array.isArray(r)) valid++;
    else for (const p of r) assert.ok(typeof p === "string" && p.length > 0);
  }
  assert.ok(valid > 0, "some documents are valid");
});

Deno.test("validateConfig() reads lateness and the sensor id, and bounds the lateness by windows", () => {
  const cfg = validateConfig({ window: "10s", lateness: "5s", sensor: "edge-1" });
  assert.ok(!Array.isArray(cfg));
  assert.deepEqual([cfg.latenessSec, cfg.sensor], [5, "edge-1"]);
  const bad = validateConfig({ window: "1s", lateness: "30s", sensor: "" }) as string[];
  assert.ok(Array.isArray(bad));
  assert.ok(bad.some((p) => /^sensor: a name of 1 to 128 characters/.test(p)), bad.join(" | "));
  const far = validateConfig({ window: "1s", lateness: "30s" }) as string[];
  assert.ok(far.some((p) => /^lateness: at most 7 windows/.test(p)), String(far));
});

Deno.test("validateConfig() reads run's sources, HTTP address and log level", () => {
  const cfg = validateConfig({
    sources: [
      { interface: "eth0", filter: "udp port 53", snaplen: 128, buffer: "16MiB", promisc: true },
      { replay: "a.pcap", speed: 0 },
      { interface: "lo" },
    ],
    http: { listen: "0.0.0.0:9100" },
    log_level: "debug",
  });
  assert.ok(!Array.isArray(cfg), String(cfg));
  assert.deepEqual(cfg.sources, [
    {
      interface: "eth0",
      filter: "udp port 53",
      snaplen: 128,
      bufferBytes: 16 << 20,
      promiscuous: true,
    },
    { replay: "a.pcap", speed: 0 },
    {
      interface: "lo",
      filter: undefined,
      snaplen: undefined,
      bufferBytes: undefined,
      promiscuous: undefined,
    },
  ]);
  assert.deepEqual([cfg.listen, cfg.logLevel], ["0.0.0.0:9100", "debug"]);
  assert.equal((validateConfig({ http: { listen: "off" } }) as { listen: string }).listen, "off");
});

Deno.test("validateConfig() reports every source problem at once", () => {
  const r = validateConfig({
    sources: [
      { interface: "eth0", replay: "a.pcap" },
      {},
      { replay: "a.pcap", filter: "udp", snaplen: 100 },
      { interface: "eth0", speed: 2, snaplen: 10, buffer: "1KiB" },
      { interface: "a very long device name" },
      "eth0",
    ],
    http: { listen: "nohost" },
    log_level: "loud",
  });
  assert.deepEqual(r, [
    "sources[0]: give either interface or replay",
    "sources[1]: give either interface or replay",
    "sources[2].filter: only for an interface",
    "sources[2].snaplen: only for an interface",
    "sources[3].snaplen: a whole number from 64 to 262144",
    "sources[3].buffer: a size from 8MiB to 2GiB, such as 64MiB",
    "sources[3].speed: only for a replay",
    "sources[4].interface: a device name of 1 to 15 characters",
    "sources[5]: must be a mapping",
    'http.listen: HOST:PORT such as 127.0.0.1:9470, or "off"',
    "log_level: one of debug, info, warn, error",
  ]);
  const many = validateConfig({ sources: Array.from({ length: 17 }, () => ({ interface: "lo" })) });
  assert.deepEqual(many, ["sources: a list of 1 to 16 sources"]);
});

Deno.test("validateConfig() reads API tokens (hashes only) and TLS files, and says what is wrong", () => {
  const hash = "ab".repeat(32);
  const ok = validateConfig({
    http: {
      tokens: [{ name: "grafana", scope: "read", sha256: hash }],
      tls: { cert: "/etc/ns/cert.pem", key: "/etc/ns/key.pem" },
    },
  });
  assert.ok(!Array.isArray(ok), String(ok));
  assert.deepEqual(ok.tokens, [{ name: "grafana", scope: "read", sha256: hash }]);
  assert.deepEqual(ok.tls, { certFile: "/etc/ns/cert.pem", keyFile: "/etc/ns/key.pem" });
  const bad = validateConfig({
    http: {
      tokens: [
        { name: "a", scope: "write", sha256: hash },
        { name: "b", scope: "read", sha256: "secret-token-in-clear" },
        { name: "c", scope: "read", sha256: hash, token: "x" },
      ],
      tls: { cert: "c.pem" },
    },
  });
  assert.ok(Array.isArray(bad));
  assert.deepEqual(bad, [
    "http.tokens[0].scope: read or admin",
    "http.tokens[1].sha256: the token's SHA-256, 64 hex digits (netspectra token)",
    'http.tokens[2]: unknown key "token"',
    "http.tls.key: a PEM private key file",
  ]);
});

Deno.test("validateConfig() reads sinks and says what is wrong with them, all at once", () => {
  const ok = validateConfig({
    sinks: [{
      name: "central",
      type: "clickhouse",
      url: "https://ch.example:8443",
      user: "ns",
      password_env: "CH_PASSWORD",
    }],
  });
  assert.ok(!Array.isArray(ok), String(ok));
  assert.deepEqual(ok.sinks, [{
    name: "central",
    type: "clickhouse",
    url: "https://ch.example:8443",
    database: "netspectra",
    user: "ns",
    passwordFile: undefined,
    passwordEnv: "CH_PASSWORD",
    timeoutSec: 30,
    tls: undefined,
    batch: { rows: 100_000, bytes: 16 << 20, intervalSec: 1 },
    tables: undefined,
    tasks: undefined,
  }]);
  const full = validateConfig({
    tasks: [{ name: "pairs", key: ["src_ip", "dst_ip"] }, { name: "ports", key: ["dst_port"] }],
    sinks: [{
      name: "central",
      type: "clickhouse",
      url: "https://ch.example:8443",
      tls: { ca: "ca.pem", cert: "c.pem", key: "k.pem" },
      batch: { rows: 5000, bytes: "4MiB", interval: "5s" },
      tables: ["flows", "dns"],
      tasks: ["ports"],
    }],
  });
  assert.ok(!Array.isArray(full), String(full));
  const s = full.sinks[0]!;
  assert.deepEqual(s.tls, { caFile: "ca.pem", certFile: "c.pem", keyFile: "k.pem" });
  assert.deepEqual(s.batch, { rows: 5000, bytes: 4 << 20, intervalSec: 5 });
  assert.deepEqual(s.tables, ["windows", "flows", "dns"], "the totals always go");
  assert.deepEqual(s.tasks, ["ports"]);
  const bad = validateConfig({
    sinks: [
      { name: "a", type: "kafka", url: "http://x" },
      { name: "b", type: "clickhouse", url: "ftp://x", database: "1x" },
      { name: "a", type: "clickhouse", url: "http://x", password_file: "p", password_env: "P" },
    ],
  });
  assert.ok(Array.isArray(bad));
  assert.deepEqual(bad, [
    "sinks[0].type: clickhouse",
    "sinks[1].url: an http:// or https:// URL",
    "sinks[1].database: a database name (letters, digits, _)",
    "sinks[2]: give password_file or password_env, not both",
    'sinks[2].name: "a" is used twice',
  ]);
  const worse = validateConfig({
    sinks: [
      { name: "a", type: "clickhouse", url: "http://x", tls: { ca: "ca.pem" } },
      { name: "b", type: "clickhouse", url: "https://x", tls: { ca: "ca.pem", cert: "c" } },
      { name: "c", type: "clickhouse", url: "http://x", batch: { rows: 2000000, interval: "2m" } },
      { name: "d", type: "clickhouse", url: "http://x", tables: ["flows", "nope"], tasks: ["x"] },
    ],
  });
  assert.ok(Array.isArray(worse));
  assert.deepEqual(worse, [
    "sinks[0].tls: tls needs an https:// url",
    "sinks[1].tls: give cert and key together",
    "sinks[2].batch.rows: a whole number from 1 to 1000000",
    "sinks[2].batch.interval: a duration from 0s to 60s",
    "sinks[3].tables[1]: one of windows, flows, records, sketches, sketch_keys, decode_errors, " +
    "dns, dns_rcodes, http, http_status, http_agents",
  ]);
  // A task that is not in the config: after the schema's own problems are gone.
  const unknown = validateConfig({
    sinks: [{ name: "d", type: "clickhouse", url: "http://x", tasks: ["x"] }],
  });
  assert.deepEqual(unknown, [
    'sinks[0].tasks: no task "x" (tasks: flows, top_sources, distinct_sources, distinct_destinations, super_spreaders, port_scanners)',
  ]);
});
