import assert from "node:assert/strict";
import {
  FAMILY_IPV4,
  FLAG_HAS_PORTS,
  FLAG_HAS_TCP_FLAGS,
  PacketBatch,
  VLAN_NONE,
} from "../../collector/packet/batch.ts";
import { AGENT_MAX, HttpReassembler, type HttpSink } from "../../collector/app/http_reassembly.ts";
import { AppLayer } from "../../collector/app/app_layer.ts";
import { fieldText } from "../../collector/decode/http.ts";

const FIN = 1, SYN = 2, PSH_ACK = 0x18, ACK = 0x10;
const enc = new TextEncoder();

/** One TCP segment: direction (0 client → server, 1 back), seq, flags, payload text. */
type Seg = [dir: number, seq: number, flags: number, payload: string, truncated?: boolean];

/** A batch holding the segments (one TCP conversation, 10.0.0.1:40000 ↔ 10.0.0.2:80). */
function batchOf(segs: Seg[]): PacketBatch {
  const b = new PacketBatch(segs.length);
  const data = segs.map((s) => enc.encode(s[3]));
  b.bytes = new Uint8Array(data.reduce((n, d) => n + d.length, 0));
  let o = 0;
  segs.forEach(([dir, seq, flags, , truncated], i) => {
    b.family[i] = FAMILY_IPV4, b.proto[i] = 6, b.vlan[i] = VLAN_NONE;
    b.src.fill(0, i * 4, i * 4 + 4), b.dst.fill(0, i * 4, i * 4 + 4);
    b.src[i * 4] = dir === 0 ? 0x0a000001 : 0x0a000002;
    b.dst[i * 4] = dir === 0 ? 0x0a000002 : 0x0a000001;
    b.srcPort[i] = dir === 0 ? 40000 : 80, b.dstPort[i] = dir === 0 ? 80 : 40000;
    b.flags[i] = FLAG_HAS_PORTS | FLAG_HAS_TCP_FLAGS, b.tcpFlags[i] = flags, b.tcpSeq[i] = seq;
    b.bytes.set(data[i]!, o), b.payloadOff[i] = o, b.payloadLen[i] = data[i]!.length;
    b.capLen[i] = 100, b.wireLen[i] = truncated ? 1500 : 100;
    o += data[i]!.length;
  });
  b.length = segs.length;
  return b;
}

/** Feeds the segments in order; returns, per segment, what completed there ("-" none). */
function run(segs: Seg[], re = new HttpReassembler()): string[] {
  const b = batchOf(segs);
  let out: string[] = [];
  const t = (at: number, n: number) => fieldText(re.textBytes, at, n);
  const sink: HttpSink = {
    message(r, m) {
      out.push(
        r.request(m)
          ? `${t(r.methodAt(m), r.methodLength(m))} ${t(r.uriAt(m), r.uriLength(m))} ${
            t(r.hostAt(m), r.hostLength(m))
          }`
          : `${r.code(m)}`,
      );
    },
  };
  return segs.map((_, i) => {
    out = [];
    re.segment(b, i, sink);
    return out.length === 0 ? "-" : out.join("+");
  });
}

Deno.test("HttpReassembler: one line per case (what completes at which segment)", () => {
  const get = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  const cases: [string, Seg[], string[]][] = [
    ["request in one segment", [[0, 1, PSH_ACK, get]], ["GET /a h"]],
    ["headers split, body by Content-Length over two segments", [
      [1, 100, PSH_ACK, "HTTP/1.1 200 OK\r\nConte"],
      [1, 122, PSH_ACK, "nt-Length: 10\r\n\r\n12345"],
      [1, 144, PSH_ACK, "67890"],
    ], ["-", "-", "200"]],
    ["chunked, size line split, with a trailer", [
      [1, 100, PSH_ACK, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1"],
      [1, 148, PSH_ACK, "0\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n"],
      [1, 180, PSH_ACK, "\r\n"],
    ], ["-", "-", "200"]],
    ["no length: the body runs to the FIN", [
      [1, 100, PSH_ACK, "HTTP/1.0 302 Found\r\n\r\nmoved"],
      [1, 126, ACK | FIN, ""],
    ], ["-", "302"]],
    ["retransmitted body bytes are not counted twice", [
      [1, 100, PSH_ACK, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc"],
      [1, 138, PSH_ACK, "abc"],
      [1, 141, PSH_ACK, "def"],
    ], ["-", "-", "200"]],
    ["a gap loses the message", [
      [1, 100, PSH_ACK, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc"],
      [1, 200, PSH_ACK, "def"],
    ], ["-", "-"]],
    ["204 and 304 have no body; pipelined requests", [
      [1, 100, PSH_ACK, "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n"],
      [0, 1, PSH_ACK, get + "HEAD /b HTTP/1.1\r\n\r\n"],
    ], ["204+304", "GET /a h+HEAD /b null"]],
    ["the answer to HEAD has no body, whatever its Content-Length", [
      [0, 1, PSH_ACK, "HEAD /f HTTP/1.1\r\nHost: h\r\n\r\n"],
      [1, 100, PSH_ACK, "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n"],
      [0, 30, PSH_ACK, "GET /g HTTP/1.1\r\nHost: h\r\n\r\n"],
      [1, 140, PSH_ACK, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
    ], ["HEAD /f h", "200", "GET /g h", "200"]],
    ["a snaplen-cut segment is read on its own", [
      [1, 100, PSH_ACK, "HTTP/1.1 200 OK\r\nDate: Th", true],
    ], ["200"]],
    ["SYN sets the sequence; body data without a start is ignored", [
      [0, 0, SYN, ""],
      [0, 1, PSH_ACK, "just data"],
      [0, 10, PSH_ACK, get],
    ], ["-", "-", "GET /a h"]],
  ];
  for (const [what, segs, want] of cases) assert.deepEqual(run(segs), want, what);
});

Deno.test("HttpReassembler: limits — header buffers and directions — count lost messages", () => {
  const re = new HttpReassembler(4, 1, 64);
  // Two directions both need a header buffer; only one exists.
  const split: Seg[] = [
    [1, 100, PSH_ACK, "HTTP/1.1 200 OK\r\nA: b"],
    [0, 1, PSH_ACK, "GET / HTTP/1.1\r\nA: b"],
  ];
  assert.deepEqual(run(split, re), ["-", "-"]);
  assert.equal(re.lost, 1);
  // A header block longer than the buffer is given up.
  const long = new HttpReassembler(4, 1, 64);
  run([[1, 100, PSH_ACK, "HTTP/1.1 200 OK\r\nX: " + "y".repeat(80)]], long);
  assert.equal(long.lost, 1);
  // Directions between messages are freed by sweepIdle; a FIN frees one too.
  const re2 = new HttpReassembler(4);
  run([[0, 1, PSH_ACK, "GET / HTTP/1.1\r\n\r\n"]], re2);
  assert.equal(re2.streams, 1);
  re2.sweepIdle();
  assert.equal(re2.streams, 1, "kept: its request awaits an answer");
  run([[1, 1, PSH_ACK, "HTTP/1.1 204 No Content\r\n\r\n"]], re2);
  re2.sweepIdle();
  assert.equal(re2.streams, 0);
  run([[0, 1, PSH_ACK, "GET / HTTP/1.1\r\n\r\n"], [0, 19, ACK | FIN, ""]], re2);
  assert.equal(re2.streams, 0);
});

Deno.test("AppLayer: HTTP messages lost to a gap are counted per window (http_lost)", () => {
  const app = new AppLayer();
  const b = batchOf([
    [1, 100, PSH_ACK, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc"],
    [1, 200, PSH_ACK, "def"],
    [0, 1, PSH_ACK, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"],
  ]);
  app.addRange(b, 0, b.length);
  assert.deepEqual([app.httpLost, app.own.httpResponses, app.own.httpRequests], [1, 0, 1]);
  app.clear();
  assert.equal(app.httpLost, 0);
});

Deno.test("HttpReassembler keeps a request's User-Agent (up to AGENT_MAX bytes), -1 without", () => {
  const long = "x".repeat(AGENT_MAX + 50);
  const texts = [
    "GET / HTTP/1.1\r\nHost: h\r\nUser-Agent:  curl/8.0 \r\n\r\n",
    `GET /b HTTP/1.1\r\nUser-Agent: ${long}\r\n\r\n`,
    "GET /c HTTP/1.1\r\n\r\n",
  ];
  let seq = 1;
  const segs: Seg[] = texts.map((t) => {
    const s: Seg = [0, seq, PSH_ACK, t];
    seq += t.length;
    return s;
  });
  const re = new HttpReassembler();
  const b = batchOf(segs);
  const got: (string | null)[] = [];
  const sink: HttpSink = {
    message(r, m) {
      got.push(fieldText(re.textBytes, r.agentAt(m), r.agentLength(m)));
    },
  };
  for (let i = 0; i < segs.length; i++) re.segment(b, i, sink);
  assert.deepEqual(got, ["curl/8.0", "x".repeat(AGENT_MAX), null]);
});
