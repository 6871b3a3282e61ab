/**
 * Test helpers of the forwarding tests: a ClickHouse with the central tables made first as
 * plain MergeTree (a repeat stays visible), a gen capture beside it, and the rows of the store
 * and of ClickHouse as sorted csv lines to compare.
 */

import assert from "node:assert/strict";
import { runCli } from "../cli/_run.ts";
import { type ClickHouse, startClickHouse } from "../_clickhouse.ts";
import { tableDdl } from "../../forward/mod.ts";
import { EXPORT_COLUMNS, type ExportTable } from "../../storage/mod.ts";

/** The store's window_flows as the central table has them, one sorted line per row. */
export const STORE_FLOWS = `
  SELECT epoch(f.window_start)::BIGINT AS t, k.name, coalesce(f.ip_version, 0) AS v,
    coalesce(ip_text(f.src_addr, f.ip_version), '') AS s, coalesce(ip_text(f.dst_addr, f.ip_version), '') AS d,
    coalesce(f.proto, -1) AS p, coalesce(f.src_port, -1) AS sp, coalesce(f.dst_port, -1) AS dp,
    coalesce(f.vlan, -1) AS vl, f.packets, f.bytes
  FROM window_flows f JOIN tasks k USING (source_no, task_no) ORDER BY ALL`;

const CENTRAL_FLOWS = `
  SELECT toUnixTimestamp(window_start), task, ip_version, src_ip, dst_ip, proto, src_port,
    dst_port, vlan, packets, bytes
  FROM ns.flows`;

export async function storeLines(dir: string, db: string, sql: string): Promise<string[]> {
  const r = await runCli(["sql", "--db", db, "--format", "csv", "--max-rows", "1000000", sql], dir);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split("\n").slice(1).sort();
}

/** The central table's rows as sorted csv lines (18.16 has no ORDER BY by position). */
export async function centralLines(ch: ClickHouse): Promise<string[]> {
  return (await ch.query(CENTRAL_FLOWS)).map((x) => x.join(",")).sort();
}

export async function withClickHouse(
  fn: (ch: ClickHouse, dir: string) => Promise<void>,
  packets = 20000,
) {
  const ch = await startClickHouse();
  const dir = await Deno.makeTempDir();
  try {
    // The central tables made first as plain MergeTree, with the sink's columns: a repeat
    // stays visible (ReplacingMergeTree, the sink's own choice, would fold it in a merge and
    // hide what this test looks for).
    await ch.query("CREATE DATABASE ns");
    for (const t of Object.keys(EXPORT_COLUMNS) as ExportTable[]) {
      await ch.query(tableDdl("ns", t).replace("ReplacingMergeTree", "MergeTree"));
    }
    const g = await runCli(
      [
        "gen",
        "--packets",
        String(packets),
        "--flows",
        "300",
        "--rate",
        "50",
        "--dns",
        "5",
        "--http",
        "5",
        "-o",
        "g.pcap",
      ],
      dir,
    );
    assert.equal(g.code, 0, g.stderr);
    await fn(ch, dir);
  } finally {
    await ch.remove();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A config with one sink `central` to database ns; `more`: further lines of the sink's. */
export function sinkConfig(url: string, more = ""): string {
  return `sinks:\n  - name: central\n    type: clickhouse\n    url: ${url}\n    database: ns\n    timeout: 5s\n${more}`;
}

/** Each other table as the store and as ClickHouse have it, as sorted csv lines. */
export const SAME_TABLES: { name: string; store: string; central: string; empty?: true }[] = [
  {
    name: "records",
    store: `SELECT coalesce(start_ns, -1), coalesce(end_ns, -1), ip_version,
        ip_text(src_addr, ip_version), ip_text(dst_addr, ip_version), coalesce(src_port, -1),
        coalesce(dst_port, -1), proto, coalesce(vlan, -1), packets_fwd, bytes_fwd, packets_rev,
        bytes_rev, tcp_flags, syn, syn_ack, fin, rst, close_reason(close_code)
      FROM flow_records`,
    central: `SELECT start_ns, end_ns, ip_version, src_ip, dst_ip, src_port, dst_port, proto,
        vlan, packets_fwd, bytes_fwd, packets_rev, bytes_rev, tcp_flags, syn, syn_ack, fin, rst,
        close_reason
      FROM ns.records`,
  },
  {
    name: "sketches",
    store: `SELECT epoch(s.window_start)::BIGINT, t.name, t.kind, s.packets,
        round(coalesce(s.estimate, -1))::BIGINT, lower(hex(s.sketch))
      FROM window_sketches s JOIN tasks t USING (source_no, task_no)`,
    central: `SELECT toUnixTimestamp(window_start), task, kind, packets, toInt64(round(estimate)),
        sketch_hex FROM ns.sketches`,
  },
  {
    name: "sketch_keys",
    store: `SELECT epoch(k.window_start)::BIGINT, t.name, k.rank, coalesce(k.ip_version, 0),
        coalesce(ip_text(k.src_addr, k.ip_version), ''), coalesce(ip_text(k.dst_addr, k.ip_version), ''),
        coalesce(k.proto, -1), coalesce(k.src_port, -1), coalesce(k.dst_port, -1),
        coalesce(k.vlan, -1), coalesce(k.packets, -1), coalesce(k.bytes, -1),
        round(coalesce(k.spread, -1))::BIGINT
      FROM window_sketch_keys k JOIN tasks t USING (source_no, task_no)`,
    central: `SELECT toUnixTimestamp(window_start), task, rank, ip_version, src_ip, dst_ip, proto,
        src_port, dst_port, vlan, packets, bytes, toInt64(round(spread)) FROM ns.sketch_keys`,
  },
  {
    name: "dns",
    store: `SELECT epoch(window_start)::BIGINT, protocol, qname, qtype, queries, responses,
        nxdomain, errors, rtt_count, round(rtt_sum_us)::BIGINT, round(rtt_max_us)::BIGINT
      FROM window_dns`,
    central: `SELECT toUnixTimestamp(window_start), protocol, qname, qtype, queries, responses,
        nxdomain, errors, rtt_count, toInt64(round(rtt_sum_us)), toInt64(round(rtt_max_us))
      FROM ns.dns`,
  },
  {
    name: "decode_errors",
    // gen's captures decode cleanly: compared, but empty here.
    empty: true,
    store: "SELECT epoch(window_start)::BIGINT, reason, packets FROM window_decode_errors",
    central: "SELECT toUnixTimestamp(window_start), reason, packets FROM ns.decode_errors",
  },
  {
    name: "dns_rcodes",
    store: "SELECT epoch(window_start)::BIGINT, protocol, rcode, responses FROM window_dns_rcodes",
    central: "SELECT toUnixTimestamp(window_start), protocol, rcode, responses FROM ns.dns_rcodes",
  },
  {
    name: "http",
    store: `SELECT epoch(window_start)::BIGINT, protocol, (host IS NOT NULL)::INT,
        coalesce(host, ''), method, path, requests FROM window_http`,
    central: `SELECT toUnixTimestamp(window_start), protocol, has_host, host, method, path,
        requests FROM ns.http`,
  },
  {
    name: "http_status",
    store: "SELECT epoch(window_start)::BIGINT, protocol, code, responses FROM window_http_status",
    central: "SELECT toUnixTimestamp(window_start), protocol, code, responses FROM ns.http_status",
  },
  {
    name: "http_agents",
    store:
      "SELECT epoch(window_start)::BIGINT, protocol, user_agent, requests FROM window_http_agents",
    central:
      "SELECT toUnixTimestamp(window_start), protocol, user_agent, requests FROM ns.http_agents",
  },
];

/** The store's and ClickHouse's rows of every table in SAME_TABLES, pairwise. */
export async function sameTables(ch: ClickHouse, dir: string, db: string): Promise<void> {
  for (const t of SAME_TABLES) {
    const want = await storeLines(dir, db, t.store);
    const got = (await ch.query(t.central)).map((x) => x.join(",")).sort();
    if (t.empty !== true) assert.ok(want.length > 0, `${t.name}: the store has rows`);
    assert.equal(got.length, want.length, `${t.name}: as many rows`);
    assert.deepEqual(got, want, t.name);
  }
}

/**
 * A TCP proxy to ClickHouse's `port`: for the first `cuts` requests that are INSERTs, it lets
 * the request through and cuts the connection instead of passing the answer on (the insert is
 * committed, the client never hears so); every answer is held `delayMs` first (a slow server);
 * `tls`: it takes TLS with this certificate and key (PEM), ClickHouse's port being plain.
 */
export function chProxy(
  port: number,
  opts: { cuts?: number; delayMs?: number; tls?: { cert: string; key: string } },
) {
  const listener = opts.tls === undefined
    ? Deno.listen({ hostname: "127.0.0.1", port: 0 })
    : Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...opts.tls });
  let left = opts.cuts ?? 0;
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const client of listener) {
      conns.add(client);
      (async () => {
        const up = await Deno.connect({ hostname: "127.0.0.1", port });
        conns.add(up);
        let cutting = false;
        const toUp = (async () => {
          const buf = new Uint8Array(65536);
          for (;;) {
            const n = await client.read(buf).catch(() => null);
            if (n === null) break;
            const head = new TextDecoder().decode(buf.subarray(0, Math.min(n, 2048)));
            const text = decodeURIComponent(head.replaceAll("+", " "));
            if (left > 0 && /INSERT\s+INTO/i.test(text)) {
              left--, cutting = true;
            }
            await up.write(buf.subarray(0, n)).catch(() => {});
          }
        })();
        const buf = new Uint8Array(65536);
        for (;;) {
          const n = await up.read(buf).catch(() => null);
          if (n === null) break;
          if (cutting) break; // the answer is dropped: close both
          if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
          await client.write(buf.subarray(0, n)).catch(() => {});
        }
        try {
          client.close();
        } catch { /* closed */ }
        try {
          up.close();
        } catch { /* closed */ }
        await toUp;
      })().catch(() => {});
    }
  })().catch(() => {});
  return {
    url: `${opts.tls === undefined ? "http" : "https"}://127.0.0.1:${
      (listener.addr as Deno.NetAddr).port
    }`,
    cutsLeft: () => left,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}
