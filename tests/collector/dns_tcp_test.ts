import assert from "node:assert/strict";
import {
  FAMILY_IPV4,
  FLAG_HAS_PORTS,
  FLAG_HAS_TCP_FLAGS,
  PacketBatch,
  VLAN_NONE,
} from "../../collector/packet/batch.ts";
import { DnsTcpReassembler, type DnsTcpSink } from "../../collector/app/dns_tcp.ts";
import { decodeDns, DnsMessage, nameText } from "../../collector/decode/dns.ts";
import { AppLayer } from "../../collector/app/app_layer.ts";
import { rng } from "../../collector/gen/gen.ts";
import { dnsMessage, lengthPrefixed } from "../_builders.ts";

const FIN = 1, SYN = 2, PSH_ACK = 0x18, RST = 4;

/** A DNS query for `name` with message id `id`, behind its two-byte length. */
const framed = (id: number, name: string) => lengthPrefixed(dnsMessage(id, name));

/** One segment: direction (0 client → server), seq, flags, payload bytes, cut by snaplen. */
type Seg = [dir: number, seq: number, flags: number, payload: number[], cut?: boolean];

function batchOf(segs: Seg[]): PacketBatch {
  const b = new PacketBatch(segs.length);
  b.bytes = new Uint8Array(segs.reduce((n, s) => n + s[3].length, 0));
  let o = 0;
  segs.forEach(([dir, seq, flags, data, cut], i) => {
    b.family[i] = FAMILY_IPV4, b.proto[i] = 6, b.vlan[i] = VLAN_NONE;
    b.src[i * 4] = dir === 0 ? 0x0a000001 : 0x0a000002;
    b.dst[i * 4] = dir === 0 ? 0x0a000002 : 0x0a000001;
    b.srcPort[i] = dir === 0 ? 40000 : 53, b.dstPort[i] = dir === 0 ? 53 : 40000;
    b.flags[i] = FLAG_HAS_PORTS | FLAG_HAS_TCP_FLAGS, b.tcpFlags[i] = flags, b.tcpSeq[i] = seq;
    b.bytes.set(data, o), b.payloadOff[i] = o, b.payloadLen[i] = data.length;
    b.capLen[i] = 100, b.wireLen[i] = cut ? 1500 : 100;
    o += data.length;
  });
  b.length = segs.length;
  return b;
}

/** Per segment, the messages completed there as "id:name" ("-" none); and messages lost. */
function run(segs: Seg[], re = new DnsTcpReassembler()): { at: string[]; lost: number } {
  const b = batchOf(segs);
  const m = new DnsMessage();
  let out: string[] = [];
  const sink: DnsTcpSink = {
    dnsTcp(bytes, off, len) {
      if (!decodeDns(bytes, off, len, m)) return false;
      out.push(`${m.id}:${m.queries > 0 ? nameText(m, 0) : ""}${m.error !== 0 ? "!" : ""}`);
      return true;
    },
  };
  const at = segs.map((_, i) => {
    out = [];
    re.segment(b, i, sink);
    return out.length === 0 ? "-" : out.join("+");
  });
  return { at, lost: re.lost };
}

const A = framed(1, "a.example"), B = framed(2, "b.example.org"), C = framed(3, "c.test");
const cat = (...p: number[][]) => p.flat();

Deno.test("DnsTcpReassembler: one line per case (what completes at which segment)", () => {
  const lenA = A.length, lenB = B.length;
  const cases: [string, Seg[], string[], number][] = [
    [
      "two messages in one segment",
      [[0, 1, PSH_ACK, cat(A, B)]],
      ["1:a.example+2:b.example.org"],
      0,
    ],
    [
      "split inside the length prefix",
      [
        [0, 1, PSH_ACK, A.slice(0, 1)],
        [0, 2, PSH_ACK, A.slice(1)],
      ],
      ["-", "1:a.example"],
      0,
    ],
    [
      "split over three segments",
      [
        [0, 1, PSH_ACK, A.slice(0, 5)],
        [0, 6, PSH_ACK, A.slice(5, 9)],
        [0, 10, PSH_ACK, A.slice(9)],
      ],
      ["-", "-", "1:a.example"],
      0,
    ],
    [
      "end of one and start of the next in one segment",
      [
        [0, 1, PSH_ACK, A.slice(0, 4)],
        [0, 5, PSH_ACK, cat(A.slice(4), B.slice(0, 3))],
        [0, 4 + lenA, PSH_ACK, B.slice(3)],
      ],
      ["-", "1:a.example", "2:b.example.org"],
      0,
    ],
    [
      "a retransmission is not counted twice",
      [
        [0, 1, PSH_ACK, A],
        [0, 1, PSH_ACK, A],
        [0, 1 + lenA, PSH_ACK, B],
      ],
      ["1:a.example", "-", "2:b.example.org"],
      0,
    ],
    [
      "a retransmission overlapping new bytes",
      [
        [0, 1, PSH_ACK, A.slice(0, 6)],
        [0, 1, PSH_ACK, A],
      ],
      ["-", "1:a.example"],
      0,
    ],
    [
      "the SYN sets the sequence",
      [
        [0, 99, SYN, []],
        [0, 100, PSH_ACK, A.slice(0, 7)],
        [0, 107, PSH_ACK, A.slice(7)],
      ],
      ["-", "-", "1:a.example"],
      0,
    ],
    [
      "a gap loses the message in progress; the next starts afresh",
      [
        [0, 1, PSH_ACK, A.slice(0, 6)],
        [0, 1 + lenA + 10, PSH_ACK, B],
      ],
      ["-", "2:b.example.org"],
      1,
    ],
    [
      "a FIN with a message unfinished loses it",
      [
        [0, 1, PSH_ACK, A.slice(0, 6)],
        [0, 7, FIN, []],
      ],
      ["-", "-"],
      1,
    ],
    [
      "an RST likewise, and a new message after it starts afresh",
      [
        [0, 1, PSH_ACK, B.slice(0, lenB - 1)],
        [0, lenB, RST, []],
        [0, 5000, PSH_ACK, C],
      ],
      ["-", "-", "3:c.test"],
      1,
    ],
    [
      "directions are apart",
      [
        [0, 1, PSH_ACK, A.slice(0, 5)],
        [1, 1, PSH_ACK, B.slice(0, 5)],
        [1, 6, PSH_ACK, B.slice(5)],
        [0, 6, PSH_ACK, A.slice(5)],
      ],
      ["-", "-", "2:b.example.org", "1:a.example"],
      0,
    ],
    [
      "a snaplen-cut segment is read alone (its last message flagged cut)",
      [
        [0, 1, PSH_ACK, cat(A, B.slice(0, 20)), true],
      ],
      ["1:a.example+2:!"],
      0,
    ],
  ];
  for (const [what, segs, want, lost] of cases) {
    assert.deepEqual(run(segs), { at: want, lost }, what);
  }
});

Deno.test("DnsTcpReassembler: without a free buffer a message is lost, the next still found", () => {
  const re = new DnsTcpReassembler(16, 1);
  const segs: Seg[] = [
    [0, 1, PSH_ACK, A.slice(0, 5)], // takes the only buffer
    [1, 1, PSH_ACK, B.slice(0, 5)], // none left: lost, its bytes only counted
    [1, 6, PSH_ACK, cat(B.slice(5), C)],
    [0, 6, PSH_ACK, A.slice(5)],
  ];
  assert.deepEqual(run(segs, re), { at: ["-", "-", "3:c.test", "1:a.example"], lost: 1 });
});

Deno.test("DnsTcpReassembler: idle directions are freed at window ends, unfinished ones kept", () => {
  const re = new DnsTcpReassembler(4, 4);
  run([[0, 1, PSH_ACK, A], [1, 1, PSH_ACK, B.slice(0, 4)]], re);
  assert.equal(re.streams, 2);
  re.sweepIdle();
  assert.equal(re.streams, 1);
  // More directions than slots: the extra ones are read per segment.
  const many: Seg[] = [0, 1, 2, 3, 4, 5].map((k) => [k & 1, 100 + k * 1000, PSH_ACK, C]);
  const b = batchOf(many);
  b.srcPort.forEach((_, i) => b.srcPort[i] = b.dstPort[i] === 53 ? 41000 + i : 53);
  let n = 0;
  for (let i = 0; i < many.length; i++) n += re.segment(b, i, { dnsTcp: () => true });
  assert.equal(n, many.length);
});

Deno.test("AppLayer: DNS split across TCP segments is counted once, whole, at its end", () => {
  const app = new AppLayer();
  const b = batchOf([
    [0, 1, PSH_ACK, A.slice(0, 9)],
    [0, 10, PSH_ACK, cat(A.slice(9), C.slice(0, 1))],
    [0, 2 + A.length, PSH_ACK, C.slice(1)],
    [1, 1, PSH_ACK, B.slice(0, 3)],
    [1, 4, FIN, []],
  ]);
  app.addRange(b, 0, 2);
  assert.equal(app.own.dnsMessages, 1, "the first message, completed by the second segment");
  app.addRange(b, 2, b.length);
  assert.equal(app.own.dnsMessages, 2);
  const names = Array.from({ length: app.own.dns.size }, (_, e) => app.own.dns.keyText(e)).sort();
  assert.deepEqual(names, ["a.example", "c.test"]);
  assert.equal(app.own.dnsErrors.reduce((n, v) => n + v, 0), 0, "no message read cut short");
  assert.equal(app.dnsTcpLost, 1, "the answer cut by the FIN");
  app.clear();
  assert.equal(app.dnsTcpLost, 0, "counted per window");
});

Deno.test("DnsTcpReassembler: any split of a stream gives its messages; garbage never throws", () => {
  const rand = rng(7);
  const msgs = Array.from(
    { length: 40 },
    (_, k) => framed(100 + k, `n${k}.${"x".repeat(k * 7)}.example`),
  );
  const stream = cat(...msgs);
  for (let round = 0; round < 200; round++) {
    const segs: Seg[] = [];
    for (let p = 0; p < stream.length;) {
      const n = 1 + Math.floor(rand() * (round % 2 === 0 ? 8 : 400));
      segs.push([0, 1000 + p, PSH_ACK, stream.slice(p, p + n)]);
      p += n;
    }
    const got = run(segs).at.filter((x) => x !== "-").join("+").split("+");
    assert.deepEqual(got.map((x) => Number(x.split(":")[0])), msgs.map((_, k) => 100 + k));
  }
  const re = new DnsTcpReassembler(8, 2);
  for (let round = 0; round < 300; round++) {
    const segs: Seg[] = Array.from({ length: 20 }, () => [
      Math.floor(rand() * 2),
      Math.floor(rand() * 4000),
      [PSH_ACK, SYN, FIN, RST][Math.floor(rand() * 4)]!,
      Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)),
      rand() < 0.1,
    ]);
    run(segs, re);
    assert.ok(re.streams <= 8);
  }
});
