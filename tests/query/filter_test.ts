import assert from "node:assert/strict";
import {
  FILTER_CHARS_MAX,
  FILTER_DEPTH_MAX,
  FilterError,
  filterSql,
  FLOW_FIELDS,
  parseFilter,
  RECORD_FIELDS,
  SqlParams,
} from "../../query/mod.ts";
import { rng } from "../../collector/gen/gen.ts";
import { Store } from "../../storage/mod.ts";

// Rows of a table with the store's key columns: [id, version, src, dst, proto, sport, dport, vlan]
const ROWS: [
  number,
  number,
  string,
  string,
  number,
  number | null,
  number | null,
  number | null,
][] = [
  [1, 4, "10.1.2.3", "192.168.1.1", 6, 40000, 443, null],
  [2, 4, "192.168.1.1", "10.1.2.3", 6, 443, 40000, null],
  [3, 4, "172.16.0.9", "8.8.8.8", 17, 5353, 53, 10],
  [4, 4, "10.9.9.9", "8.8.4.4", 1, null, null, null],
  [5, 6, "fe80::1", "ff02::fb", 17, 5353, 5353, null],
  [6, 6, "2001:db8::5", "2001:db8:1::7", 6, 51000, 80, 20],
  [7, 0, "", "", 0, null, null, null], // the "other" row: no key at all
];

const CASES: [string, number[]][] = [
  ["", [1, 2, 3, 4, 5, 6, 7]],
  ["src_ip = 10.1.2.3", [1]],
  ["ip = 10.1.2.3", [1, 2]],
  ["src_ip in 10.0.0.0/8", [1, 4]],
  ["SRC_IP IN 10.0.0.0/8 AND proto = tcp", [1]],
  ["src_ip not in 10.0.0.0/8", [2, 3, 5, 6, 7]],
  ["src_ip != 10.1.2.3", [2, 3, 4, 5, 6, 7]],
  ["dst_port = 443 and proto = tcp", [1]],
  ["port = 443", [1, 2]],
  ["not port = 443", [3, 4, 5, 6, 7]],
  ["port != 53", [1, 2, 4, 5, 6, 7]],
  ["dst_port >= 5353", [2, 5]],
  ["src_port < 1024", [2]],
  ["proto = 17 or proto = icmp", [3, 4, 5]],
  ["proto in (udp, 1)", [3, 4, 5]],
  ["ip in fe80::/10", [5]],
  ["dst_ip in (2001:db8:1::/48, 8.8.8.8)", [3, 6]],
  ["ip = ::ffff:10.1.2.3", []],
  ["vlan = 10", [3]],
  ["vlan != 10", [1, 2, 4, 5, 6, 7]],
  ["ip_version = 6 and not (port = 80)", [5]],
  ["(src_ip in 10.0.0.0/8 or dst_ip in 10.0.0.0/8) and not proto = icmp", [1, 2]],
  ["not not ip_version = 4", [1, 2, 3, 4]],
  ["ip = 0.0.0.0/0", [1, 2, 3, 4]],
  ["ip in ::/0", [5, 6]],
  ["proto = tcp or proto = udp and vlan = 10", [1, 2, 3, 6]],
];

Deno.test("filter language: each case selects its rows (DuckDB, bound parameters)", async () => {
  const store = await Store.open(":memory:");
  try {
    await store.rows(
      `CREATE TABLE t (id INT, ip_version UTINYINT, src_addr UHUGEINT, dst_addr UHUGEINT,
        proto UTINYINT, src_port USMALLINT, dst_port USMALLINT, vlan USMALLINT)`,
    );
    for (const [id, v, s, d, proto, sp, dp, vlan] of ROWS) {
      const addr = (a: string) => a === "" ? "NULL" : `${addrNumber(a)}::UHUGEINT`;
      await store.rows(
        `INSERT INTO t VALUES (${id}, ${v}, ${addr(s)}, ${addr(d)}, ${v === 0 ? "NULL" : proto},
          ${sp ?? "NULL"}, ${dp ?? "NULL"}, ${vlan ?? "NULL"})`,
      );
    }
    for (const [text, want] of CASES) {
      const p = new SqlParams();
      const where = filterSql(parseFilter(text, FLOW_FIELDS), p, "t");
      // Every value is a parameter: no digit is left once placeholders and version tests go.
      const bare = where.replace(/\$\d+|ip_version = [46]/g, "");
      assert.ok(!/\d/.test(bare), `no value in the SQL text: ${where}`);
      const got = await store.rows(`SELECT id FROM t WHERE ${where} ORDER BY id`, p.values);
      assert.deepEqual(got.map((r) => r.id), want, text);
    }
  } finally {
    await store.close();
  }
});

/** An address as the store keeps it (the number), by DuckDB-independent arithmetic. */
function addrNumber(a: string): bigint {
  const f = parseFilter(`ip = ${a}`, FLOW_FIELDS)!;
  assert.ok(f.op === "cmp" && f.value.kind === "ip");
  return f.value.lo;
}

const ERRORS: [string, number, RegExp][] = [
  ["src_ip = ", 10, /expected a value at the end/],
  ["sport = 80", 1, /unknown field "sport" \(known: src_ip/],
  ["dst_port = 70000", 12, /not a port number/],
  ["src_ip < 10.0.0.1", 8, /"<" does not apply to src_ip/],
  ["src_ip = 10.0.0.256", 10, /not an IP address/],
  ["src_ip in 10.0.0.0/33", 11, /not an IP address or CIDR/],
  ["(proto = tcp", 13, /expected "\)" at the end/],
  ["proto = tcp)", 12, /unexpected "\)"/],
  ["proto = tcp and", 16, /expected a field name at the end/],
  ["proto == tcp", 8, /expected a value before "="/],
  ["proto = tcp; drop table t", 12, /unexpected character ";"/],
  ["proto = 'tcp'", 9, /unexpected character "'"/],
  ["proto = foo", 9, /not a protocol number/],
  ["proto not = 6", 11, /expected "in" after "not"/],
  ["proto in (6, 17", 16, /expected "," or "\)" at the end/],
  ["ip_version = 5", 14, /not 4 or 6/],
  ["vlan = 1.5", 8, /not a VLAN id/],
  ["proto tcp", 7, /expected an operator .* before "tcp"/],
  ["close_reason = fin", 1, /unknown field "close_reason"/],
];

Deno.test("filter language: a wrong filter says where and why", () => {
  for (const [text, col, message] of ERRORS) {
    assert.throws(() => parseFilter(text, FLOW_FIELDS), FilterError, text);
    try {
      parseFilter(text, FLOW_FIELDS);
    } catch (err) {
      assert.ok(err instanceof FilterError);
      assert.equal(err.at + 1, col, `${text}: ${err.message}`);
      assert.match(err.reason, message, text);
      assert.match(err.message, /^Invalid filter at character \d+: .*\.$/);
    }
  }
});

Deno.test("filter language: connection records have their own fields", () => {
  const f = parseFilter(
    "close_reason in (rst, idle) and duration > 1.5 and bytes >= 1000",
    RECORD_FIELDS,
  );
  assert.equal(f?.op, "and");
  const p = new SqlParams();
  const sql = filterSql(f, p);
  assert.match(sql, /close_code/);
  assert.match(sql, /end_ns - start_ns/);
  assert.match(sql, /bytes_fwd \+ bytes_rev/);
  assert.deepEqual(p.values, [2, 3, 1.5, 1000]);
  assert.throws(() => parseFilter("close_reason = later", RECORD_FIELDS), /not a close reason/);
});

Deno.test("filter language: limits on depth, length and lists", () => {
  const deep = "(".repeat(FILTER_DEPTH_MAX + 1) + "proto = 6" + ")".repeat(FILTER_DEPTH_MAX + 1);
  assert.throws(() => parseFilter(deep), /nested more than/);
  const nots = "not ".repeat(FILTER_DEPTH_MAX + 1) + "proto = 6";
  assert.throws(() => parseFilter(nots), /nested more than/);
  const ok = "(".repeat(FILTER_DEPTH_MAX - 1) + "proto = 6" + ")".repeat(FILTER_DEPTH_MAX - 1);
  assert.equal(parseFilter(ok)?.op, "cmp");
  assert.throws(() => parseFilter("x".repeat(FILTER_CHARS_MAX + 1)), /over 4096 characters/);
  const list = `port in (${Array(1025).fill(1).join(",")})`;
  assert.throws(() => parseFilter(list), /more than 1024 values/);
  // A long flat chain is read in a loop, not by recursion.
  const chain = Array.from({ length: 300 }, () => "port=1").join(" or ");
  assert.equal(parseFilter(chain)?.op, "or");
});

Deno.test("filter language: fuzzed and generated text never throws anything but FilterError", () => {
  const rand = rng(1234);
  const pieces = [
    "src_ip",
    "dst_ip",
    "ip",
    "port",
    "proto",
    "vlan",
    "=",
    "!=",
    "<",
    ">=",
    "in",
    "not",
    "and",
    "or",
    "(",
    ")",
    ",",
    "10.0.0.0/8",
    "::1",
    "fe80::/10",
    "tcp",
    "443",
    "999999",
    "1.5",
    "/",
    ":",
    ".",
    "'",
    '"',
    "\\",
    "\u0000",
    "é",
    "-",
    "::",
    "1.2.3",
    "0x10",
  ];
  for (let i = 0; i < 20_000; i++) {
    const n = 1 + Math.floor(rand() * 12);
    let text = "";
    for (let k = 0; k < n; k++) {
      text += pieces[Math.floor(rand() * pieces.length)]! + (rand() < 0.7 ? " " : "");
    }
    try {
      const f = parseFilter(text, RECORD_FIELDS);
      filterSql(f, new SqlParams());
    } catch (e) {
      if (!(e instanceof FilterError)) throw new Error(`${JSON.stringify(text)}: ${e}`);
    }
  }
  // Generated nesting, random depth past the limit, balanced or not.
  for (let i = 0; i < 200; i++) {
    const d = Math.floor(rand() * 3 * FILTER_DEPTH_MAX);
    const text = "not (".repeat(d) + "proto = 6" + ")".repeat(Math.floor(rand() * (d + 1)));
    try {
      parseFilter(text);
    } catch (e) {
      if (!(e instanceof FilterError)) throw e;
    }
  }
});
