/**
 * The csv report's byte writer (cli/report/csv_writer.ts) against the string reference
 * (csvHeader + csvLine over FlowRow objects), on the same result chunks: every address shape,
 * NULL cells, times at the edges of the nanosecond division and beyond 2^64 ns or negative,
 * sums beyond 2^53, several key sets, and more output than one buffer holds.
 */

import assert from "node:assert/strict";
import { Store } from "../../storage/mod.ts";
import { FlowColumns } from "../../storage/_flow_rows.ts";
import { csvHeader, csvLine, CsvWriter } from "../../cli/report/mod.ts";
import type { KeyField } from "../../collector/packet/mod.ts";

/** Collects what the writer writes, in pieces of at most 1000 bytes (as a pipe might take). */
class Sink {
  chunks: Uint8Array[] = [];
  write(p: Uint8Array): Promise<number> {
    const n = Math.min(p.length, 1000);
    this.chunks.push(p.slice(0, n));
    return Promise.resolve(n);
  }
  text(): string {
    return new TextDecoder().decode(new Uint8Array(this.chunks.flatMap((c) => [...c])));
  }
}

async function both(
  store: Store,
  sql: string,
  groupBy: KeyField[],
): Promise<[string, string]> {
  const sink = new Sink();
  const w = new CsvWriter(sink, groupBy);
  let reference = csvHeader(groupBy) + "\n";
  await store.streamChunks(sql, [], async (c, names) => {
    const cols = new FlowColumns(c, names, groupBy);
    for (const r of cols.rows()) reference += csvLine(r, groupBy) + "\n";
    await w.rows(cols);
  });
  await w.flush();
  return [sink.text(), reference];
}

const ROWS = [
  [4, "167772161", "4294967295", 443, "0", "1700000000123456789"],
  [4, "0", "3232235777", null, "9007199254740991", "999999999"],
  [4, "4294967295", "16909060", 0, "9007199254740993", "1000000000"],
  [6, "1", "0", 53, "1", "1000000000"],
  [6, "281470681743360", "4294967296", 80, "1152921504606846976", "18446744073709551615"],
  [6, "340282366920938463463374607431768211455", "65536", 9, "4", "123"],
  [4, "1", "2", 7, "6", "18446744073204126338000"],
  [4, "1", "2", 7, "6", "-1500000000"],
  [null, null, null, null, "5", "1"],
] as const;

const SQL = `SELECT * FROM (VALUES ${
  ROWS.map(([v, s, d, port, pk, ns]) =>
    `(${v ?? "NULL"}::UTINYINT, ${s ?? "NULL"}::UHUGEINT, ${d ?? "NULL"}::UHUGEINT, ` +
    `${port === null ? "NULL" : port % 256}::USMALLINT, ${port ?? "NULL"}::INTEGER, ` +
    `${port ?? "NULL"}::INTEGER, ${port === null ? "NULL" : port % 4096}::USMALLINT, ` +
    `${pk}::DOUBLE, ${pk}::DOUBLE, ${ns}::HUGEINT, ${ns === "1" ? "NULL" : ns}::HUGEINT, ` +
    `${port ?? 0}::INTEGER)`
  ).join(", ")
}) t(ip_version, src_addr, dst_addr, proto, src_port, dst_port, vlan, packets, bytes,
  first_ns, last_ns, tcp_flags)`;

const KEYS: KeyField[][] = [
  ["src_ip", "dst_ip", "proto", "src_port", "dst_port", "vlan"],
  ["src_ip"],
  ["dst_ip", "dst_port"],
  ["proto"],
  ["vlan", "src_port"],
];

for (const groupBy of KEYS) {
  Deno.test(`csv bytes equal the csv lines: ${groupBy.join(",")}`, async () => {
    const store = await Store.open(":memory:");
    try {
      const [got, reference] = await both(store, SQL, groupBy);
      assert.equal(got, reference);
      assert.equal(got.split("\n").length, ROWS.length + 2);
    } finally {
      await store.close();
    }
  });
}

Deno.test("csv bytes: spot checks of the reference, so both cannot be wrong the same way", async () => {
  const store = await Store.open(":memory:");
  try {
    const [got] = await both(store, SQL, KEYS[0]!);
    const lines = got.split("\n");
    assert.equal(
      lines[0],
      "src_ip,dst_ip,proto,src_port,dst_port,vlan,packets,bytes,first_ts,last_ts,tcp_flags",
    );
    assert.equal(
      lines[1],
      "10.0.0.1,255.255.255.255,187,443,443,443,0,0,1700000000.123456789,1700000000.123456789,443",
    );
    assert.equal(
      lines[2],
      "0.0.0.0,192.168.1.1,,,,,9007199254740991,9007199254740991,0.999999999,0.999999999,0",
    );
    assert.match(lines[5]!, /^::ffff:0\.0\.0\.0,::1:0:0,80,80,80,80,1152921504606847000,/);
    assert.match(lines[5]!, /,18446744073\.709551615,18446744073\.709551615,80$/);
    assert.match(lines[8]!, /,-1\.500000000,-1\.500000000,7$/);
    assert.equal(lines[9], ",,,,,,5,5,0.000000001,,0");
  } finally {
    await store.close();
  }
});

Deno.test("csv bytes: more rows than one buffer holds, written whole and in order", async () => {
  const store = await Store.open(":memory:");
  try {
    const sql =
      `SELECT 4::UTINYINT AS ip_version, (i * 2654435761 % 4294967296)::UHUGEINT AS src_addr,
      i::UHUGEINT AS dst_addr, 6::USMALLINT AS proto, (i % 65536)::INTEGER AS src_port,
      443 AS dst_port, NULL::USMALLINT AS vlan, (i * 7)::DOUBLE AS packets, (i * 1500)::DOUBLE AS bytes,
      (1700000000000000000 + i * 1000003)::HUGEINT AS first_ns,
      (1700000000000000000 + i * 2000003)::HUGEINT AS last_ns, (i % 64)::INTEGER AS tcp_flags
      FROM range(40000) r(i) ORDER BY i`;
    const [got, reference] = await both(store, sql, KEYS[0]!);
    assert.ok(got.length > 1 << 21, `only ${got.length} bytes`);
    assert.equal(got, reference);
  } finally {
    await store.close();
  }
});
