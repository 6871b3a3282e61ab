import assert from "node:assert/strict";
import {
  decodeDns,
  DNS_ERR_BAD_LABEL,
  DNS_ERR_POINTER_LOOP,
  DNS_ERR_TOO_MANY_RECORDS,
  DNS_ERR_TRUNCATED,
  DNS_OK,
  DNS_QUERIES_MAX,
  DNS_RECORDS_WALK_MAX,
  dnsKind,
  dnsKindTcp,
  DnsMessage,
  nameText,
} from "../../../collector/decode/dns.ts";

const enc = new TextEncoder();
/** Wire form of a dotted name. */
function name(text: string): number[] {
  if (text === "") return [0];
  return [...text.split(".").flatMap((l) => [l.length, ...enc.encode(l)]), 0];
}
function header(id: number, flags: number, qd: number, an = 0): number[] {
  return [id >> 8, id & 255, flags >> 8, flags & 255, 0, qd, 0, an, 0, 0, 0, 0];
}
const q = (n: number[], type = 1) => [...n, 0, type, 0, 1];

function decode(bytes: number[]) {
  const m = new DnsMessage();
  const ok = decodeDns(Uint8Array.from(bytes), 0, bytes.length, m);
  const names = Array.from({ length: m.queries }, (_, k) => nameText(m, k));
  return { ok, m, names };
}

Deno.test("decodeDns(): one line per case", () => {
  const cases: [string, number[], { ok: boolean; error: number; names: string[] }][] = [
    ["header only", header(1, 0x0100, 0), { ok: true, error: DNS_OK, names: [] }],
    ["too short for a header", [1, 2, 3], { ok: false, error: DNS_OK, names: [] }],
    ["one query", [...header(7, 0x0100, 1), ...q(name("example.com"))], {
      ok: true,
      error: DNS_OK,
      names: ["example.com"],
    }],
    ["root name", [...header(7, 0x0100, 1), ...q(name(""), 6)], {
      ok: true,
      error: DNS_OK,
      names: ["<Root>"],
    }],
    ["non-printable label bytes escaped", [...header(7, 0, 1), ...q([3, 0x61, 0x0a, 0xff, 0])], {
      ok: true,
      error: DNS_OK,
      names: ["a\\x0a\\xff"],
    }],
    ["pointer to itself (loop)", [...header(7, 0, 1), 0xc0, 12, 0, 1, 0, 1], {
      ok: true,
      error: DNS_ERR_POINTER_LOOP,
      names: [],
    }],
    ["pointer past the end", [...header(7, 0, 1), 0xc0, 200], {
      ok: true,
      error: DNS_ERR_TRUNCATED,
      names: [],
    }],
    ["label past the end", [...header(7, 0, 1), 9, 0x61], {
      ok: true,
      error: DNS_ERR_TRUNCATED,
      names: [],
    }],
    ["extended label type", [...header(7, 0, 1), 0x41, 0], {
      ok: true,
      error: DNS_ERR_BAD_LABEL,
      names: [],
    }],
    ["question type cut short", [...header(7, 0, 1), ...name("a"), 0], {
      ok: true,
      error: DNS_ERR_TRUNCATED,
      names: [],
    }],
    ["name over 255 bytes", [
      ...header(7, 0, 1),
      ...q(name(Array(20).fill("a".repeat(20)).join("."))),
    ], {
      ok: true,
      error: DNS_OK,
      names: ["<Name too long>"],
    }],
    ["huge qdcount, one question there", [...header(7, 0, 0xff), ...q(name("a.b"))], {
      ok: true,
      error: DNS_ERR_TRUNCATED,
      names: ["a.b"],
    }],
  ];
  for (const [what, bytes, want] of cases) {
    const { ok, m, names } = decode(bytes);
    assert.deepEqual({ ok, error: m.error, names }, want, what);
  }
});

Deno.test("decodeDns(): flags, compressed answers, A and AAAA addresses, mDNS cache-flush class", () => {
  const answerA = [0xc0, 12, 0, 1, 0x80, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7];
  const answerAAAA = [
    0xc0,
    12,
    0,
    28,
    0,
    1,
    0,
    0,
    0,
    60,
    0,
    16,
    0x20,
    1,
    0x0d,
    0xb8,
    ...Array(11)
      .fill(0),
    1,
  ];
  const cname = [0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12];
  const { ok, m, names } = decode([
    ...header(0xbeef, 0x8183, 1, 3),
    ...q(name("www.example.org")),
    ...cname,
    ...answerA,
    ...answerAAAA,
  ]);
  assert.ok(ok);
  assert.deepEqual(
    [m.id, m.response, m.rcode, m.opcode, m.qdcount, m.ancount, names],
    [0xbeef, true, 3, 0, 1, 3, ["www.example.org"]],
  );
  assert.equal(m.answers, 2);
  assert.deepEqual([m.answerFamily[0], m.answerAddr[0]], [4, 0xc0000207]);
  assert.deepEqual([m.answerFamily[1], ...m.answerAddr.subarray(4, 8)], [
    6,
    0x20010db8,
    0,
    0,
    1,
  ]);
});

Deno.test("decodeDns(): questions beyond DNS_QUERIES_MAX are walked but not kept", () => {
  const qs = Array.from({ length: DNS_QUERIES_MAX + 4 }, (_, k) => q(name(`h${k}.example`)));
  const { m, names } = decode([...header(1, 0, DNS_QUERIES_MAX + 4), ...qs.flat(), 9]);
  assert.equal(m.error, DNS_OK);
  assert.equal(names.length, DNS_QUERIES_MAX);
  assert.equal(names.at(-1), `h${DNS_QUERIES_MAX - 1}.example`);
});

Deno.test("decodeDns(): walks at most DNS_RECORDS_WALK_MAX questions, whatever qdcount says", () => {
  const n = DNS_RECORDS_WALK_MAX + 10;
  const first = q(name("a.example"));
  const rest = Array.from({ length: n - 1 }, () => q([0xc0, 12])).flat();
  const { m, names } = decode([...header(1, 0, n), ...first, ...rest]);
  assert.equal(m.error, DNS_ERR_TOO_MANY_RECORDS);
  assert.equal(names.length, DNS_QUERIES_MAX);
  assert.ok(names.every((x) => x === "a.example"));
});

Deno.test("dnsKind(): DNS, mDNS and LLMNR by port, the lower port first (as tshark)", () => {
  const cases: [number, number, number][] = [
    [40000, 53, 1],
    [53, 40000, 1],
    [5353, 5353, 2],
    [40000, 5355, 3],
    [40000, 80, 0],
    [53, 5353, 1],
    [123, 5353, 0], // NTP's port is tried first
  ];
  for (const [s, d, k] of cases) assert.equal(dnsKind(s, d), k, `${s} → ${d}`);
});

Deno.test("dnsKindTcp(): DNS on TCP ports 53 and 5353, LLMNR not (as tshark registers them)", () => {
  const cases: [number, number, number][] = [
    [40000, 53, 1],
    [53, 40000, 1],
    [40000, 5353, 1],
    [5353, 40000, 1],
    [40000, 5355, 0],
    [40000, 80, 0],
    [5353, 80, 0], // HTTP's port is tried first
  ];
  for (const [s, d, k] of cases) assert.equal(dnsKindTcp(s, d), k, `${s} → ${d}`);
});
