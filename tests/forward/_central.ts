/**
 * Test helpers of the forwarding tests: a ClickHouse with the central tables made first as
 * plain MergeTree (a repeat stays visible), a gen capture beside it, and the rows of the store
 * and of ClickHouse as sorted csv lines to compare.
 */

import assert from "node:assert/strict";
import { runCli } from "../cli/_run.ts";
import { type ClickHouse, startClickHouse } from "../_clickhouse.ts";
import { tableDdl } from "../../forward/mod.ts";

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
    for (const t of ["windows", "flows"] as const) {
      await ch.query(tableDdl("ns", t).replace("ReplacingMergeTree", "MergeTree"));
    }
    const g = await runCli(
      ["gen", "--packets", String(packets), "--flows", "300", "--rate", "50", "-o", "g.pcap"],
      dir,
    );
    assert.equal(g.code, 0, g.stderr);
    await fn(ch, dir);
  } finally {
    await ch.remove();
    await Deno.remove(dir, { recursive: true });
  }
}

export function sinkConfig(url: string): string {
  return `sinks:\n  - name: central\n    type: clickhouse\n    url: ${url}\n    database: ns\n    timeout: 5s\n`;
}
