/**
 * The report's rows read straight from DuckDB's chunks (storage/_flow_rows.ts) against the
 * value-by-value path (BigInt values through addrOf/nsText): addresses of every shape, NULLs,
 * times at the edges of the nanosecond division, counts near 2^53, and results of more than
 * one chunk.
 */

import assert from "node:assert/strict";
import { Store } from "../../storage/mod.ts";
import { FlowColumns } from "../../storage/_flow_rows.ts";
import { addrOf, nsText } from "../../storage/_row_text.ts";
import type { KeyField } from "../../collector/packet/mod.ts";

const FIVE: KeyField[] = ["src_ip", "dst_ip", "proto", "src_port", "dst_port", "vlan"];

/** One row each: ip_version, src, dst (UHUGEINT text), ports, vlan, packets, first/last ns. */
const CASES: [number | null, string | null, string | null, number | null, string, string][] = [
  [4, "167772161", "4294967295", 443, "0", "1700000000123456789"],
  [4, "0", "3232235777", null, "9007199254740991", "999999999"],
  [6, "1", "0", 53, "1", "1000000000"],
  [6, "281470681743360", "4294967296", 80, "2", "18446744073709551615"],
  [
    6,
    "42540766411282592856903984951653826561",
    "338288524927261089654018896841347694592",
    1,
    "3",
    "0",
  ],
  [6, "340282366920938463463374607431768211455", "65536", 9, "4", "123"],
  // A pcapng time beyond 2^64 ns (crafted captures have them).
  [4, "1", "2", 7, "6", "18446744073204126338000"],
  [null, null, null, null, "5", "1"],
];

Deno.test("report rows from chunks equal the value-by-value conversion", async () => {
  const store = await Store.open(":memory:");
  try {
    const values = CASES.map(([v, s, d, port, pk, ns]) =>
      `(${v ?? "NULL"}::UTINYINT, ${s ?? "NULL"}::UHUGEINT, ${d ?? "NULL"}::UHUGEINT, ` +
      `17::USMALLINT, ${port ?? "NULL"}::INTEGER, ${port ?? "NULL"}::INTEGER, ` +
      `${port === null ? "NULL" : port % 4096}::USMALLINT, ${pk}::DOUBLE, ${pk}::DOUBLE, ` +
      `${ns}::HUGEINT, ${ns === "0" ? "NULL" : ns}::HUGEINT, 18::INTEGER)`
    ).join(", ");
    const sql = `SELECT * FROM (VALUES ${values}) t(ip_version, src_addr, dst_addr, proto,
      src_port, dst_port, vlan, packets, bytes, first_ns, last_ns, tcp_flags)`;
    const reference = (await store.rows(sql)).map((r) => ({
      src_ip: addrOf(r.src_addr!, r.ip_version!),
      dst_ip: addrOf(r.dst_addr!, r.ip_version!),
      proto: 17,
      src_port: r.src_port === null ? null : Number(r.src_port),
      dst_port: r.dst_port === null ? null : Number(r.dst_port),
      vlan: r.vlan === null ? null : Number(r.vlan),
      packets: Number(r.packets),
      bytes: Number(r.bytes),
      first_ts: nsText(r.first_ns!),
      last_ts: nsText(r.last_ns!),
      tcp_flags: 18,
    }));
    const got: unknown[] = [];
    await store.streamChunks(
      sql,
      [],
      (c, names) => void got.push(...new FlowColumns(c, names, FIVE).rows()),
    );
    assert.deepEqual(got, reference);
    // Spot checks of the reference itself, so both cannot be wrong the same way.
    assert.equal((got[0] as { src_ip: string }).src_ip, "10.0.0.1");
    assert.equal((got[3] as { src_ip: string }).src_ip, "::ffff:0.0.0.0");
    assert.equal((got[3] as { last_ts: string }).last_ts, "18446744073.709551615");
    assert.equal((got[1] as { first_ts: string }).first_ts, "0.999999999");
  } finally {
    await store.close();
  }
});

Deno.test("report rows from chunks: many chunks, a key without addresses, talkers' columns", async () => {
  const store = await Store.open(":memory:");
  try {
    const sql = `SELECT (i % 7)::USMALLINT AS proto, (i * 1000003)::DOUBLE AS packets,
      i::DOUBLE AS bytes FROM range(5000) r(i) ORDER BY i`;
    const got: { proto?: number | null; packets: number; first_ts: string | null }[] = [];
    await store.streamChunks(
      sql,
      [],
      (c, names) => void got.push(...new FlowColumns(c, names, ["proto"]).rows()),
    );
    assert.equal(got.length, 5000);
    assert.deepEqual(got[4999], {
      proto: 4999 % 7,
      packets: 4999 * 1000003,
      bytes: 4999,
      first_ts: null,
      last_ts: null,
      tcp_flags: 0,
    });
  } finally {
    await store.close();
  }
});
