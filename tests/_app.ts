/**
 * Our per-packet DNS and HTTP view of a capture, in the shape of the truth's `dns.per_packet`
 * and `http.per_packet` (outer carrier), for comparison in the tests.
 */

import {
  FAMILY_IPV4,
  FAMILY_NONE,
  FLAG_FRAGMENT,
  FLAG_HAS_PORTS,
  PacketBatch,
} from "../collector/packet/batch.ts";
import { Defragmenter } from "../collector/app/defrag.ts";
import { decodeBatch } from "../collector/decode/mod.ts";
import { decodeDns, dnsKind, dnsKindTcp, DnsMessage, nameText } from "../collector/decode/dns.ts";
import { decodeHttp, fieldText, HTTP_REQUEST, HttpMessage } from "../collector/decode/http.ts";
import { HttpReassembler, type HttpSink } from "../collector/app/http_reassembly.ts";
import { DnsTcpReassembler } from "../collector/app/dns_tcp.ts";
import { ipv4Text, ipv6Text } from "../collector/packet/ip_text.ts";
import { openCapture } from "../collector/reader/mod.ts";

/** A frame's address and port fields, as the truth's DNS and HTTP entries carry them. */
export interface FrameEntry {
  frame: number;
  protocol: string;
  transport: string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

export type DnsEntry = FrameEntry & {
  messages: { id: number; response: boolean; rcode: number | null; queries: [string, number][] }[];
};

const KINDS = ["", "dns", "mdns", "llmnr"];

function addr(b: PacketBatch, i: number, which: Int32Array): string {
  const w = i * 4;
  return b.family[i] === FAMILY_IPV4
    ? ipv4Text(which[w]! >>> 0)
    : ipv6Text([0, 1, 2, 3].map((k) => which[w + k]! >>> 0));
}

/**
 * Calls `fn` for every decoded IP frame with ports (frame numbers from 1, as tshark). With
 * `defragment`, IP fragments are reassembled first (as the app layer does): a datagram is
 * given once, whole, at the frame that completes it.
 */
async function forEachFrame(
  path: string,
  fn: (b: PacketBatch, i: number, frame: number) => void,
  defragment = false,
): Promise<void> {
  const r = await openCapture(path);
  const b = new PacketBatch();
  const defrag = new Defragmenter(), whole = new PacketBatch(1);
  let frame = 0;
  try {
    for (let n; (n = await r.fill(b)) > 0;) {
      decodeBatch(b);
      for (let i = 0; i < n; i++) {
        frame++;
        if (b.family[i] === FAMILY_NONE) continue;
        if (defragment && (b.flags[i]! & FLAG_FRAGMENT) !== 0) {
          if (defrag.addInto(b, i, whole) && (whole.flags[0]! & FLAG_HAS_PORTS) !== 0) {
            fn(whole, 0, frame);
          }
        } else if ((b.flags[i]! & FLAG_HAS_PORTS) !== 0) fn(b, i, frame);
      }
    }
  } finally {
    r.close();
  }
}

/** The truth's address / port fields of frame `frame` (packet i of b). */
function entryOf(
  b: PacketBatch,
  i: number,
  frame: number,
  protocol: string,
  transport: string,
): FrameEntry {
  return {
    frame,
    protocol,
    transport,
    src: addr(b, i, b.src),
    dst: addr(b, i, b.dst),
    sport: b.srcPort[i]!,
    dport: b.dstPort[i]!,
  };
}

function messageOf(m: DnsMessage) {
  const queries: [string, number][] = [];
  for (let q = 0; q < m.queries; q++) queries.push([nameText(m, q), m.qtype[q]!]);
  return { id: m.id, response: m.response, rcode: m.response ? m.rcode : null, queries };
}

/** Every frame's DNS messages carried by the outer UDP/TCP header (TCP: length-prefixed). */
export async function dnsPerPacket(path: string): Promise<DnsEntry[]> {
  return await dnsEntries(path, false);
}

/** Same, DNS over TCP reassembled: messages at the frame that completes them (dns_tcp.ts). */
export async function dnsReassembled(path: string): Promise<DnsEntry[]> {
  return await dnsEntries(path, true);
}

async function dnsEntries(path: string, reassemble: boolean): Promise<DnsEntry[]> {
  const m = new DnsMessage();
  const out: DnsEntry[] = [];
  const re = new DnsTcpReassembler();
  let messages: DnsEntry["messages"] = [];
  const sink = {
    dnsTcp(bytes: Uint8Array, off: number, len: number) {
      if (!decodeDns(bytes, off, len, m)) return false;
      messages.push(messageOf(m));
      return true;
    },
  };
  await forEachFrame(path, (b, i, frame) => {
    const proto = b.proto[i]!;
    if (proto !== 6 && proto !== 17) return;
    const kind = (proto === 6 ? dnsKindTcp : dnsKind)(b.srcPort[i]!, b.dstPort[i]!);
    const len = b.payloadLen[i]!;
    if (kind === 0 || (len === 0 && !(proto === 6 && reassemble))) return;
    const off = b.payloadOff[i]!, bytes = b.bytes;
    messages = [];
    if (proto === 6 && reassemble) re.segment(b, i, sink);
    else if (proto === 17) {
      if (decodeDns(bytes, off, len, m)) messages.push(messageOf(m));
    } else {
      for (let p = off; p + 2 <= off + len;) {
        const l = (bytes[p]! << 8) | bytes[p + 1]!;
        const avail = Math.min(l, off + len - p - 2);
        if (!decodeDns(bytes, p + 2, avail, m)) break;
        messages.push(messageOf(m));
        p += 2 + l;
      }
    }
    if (messages.length === 0) return;
    out.push({ ...entryOf(b, i, frame, KINDS[kind]!, proto === 6 ? "tcp" : "udp"), messages });
  }, reassemble);
  return out;
}

export type HttpEntry = FrameEntry;
export type HttpRequest = HttpEntry & {
  method: string;
  uri: string;
  version: string;
  host: string | null;
};
export type HttpResponse = HttpEntry & { code: number; version: string };

/** Every frame's HTTP request or response start (TCP any port; SSDP on UDP 1900). */
export async function httpPerPacket(
  path: string,
): Promise<{ requests: HttpRequest[]; responses: HttpResponse[] }> {
  const m = new HttpMessage();
  const requests: HttpRequest[] = [], responses: HttpResponse[] = [];
  await forEachFrame(path, (b, i, frame) => {
    const proto = b.proto[i]!;
    const ssdp = proto === 17 && (b.srcPort[i] === 1900 || b.dstPort[i] === 1900);
    if (proto !== 6 && !ssdp) return;
    const off = b.payloadOff[i]!, len = b.payloadLen[i]!, bytes = b.bytes;
    if (len === 0 || !decodeHttp(bytes, off, len, m)) return;
    const e = entryOf(b, i, frame, ssdp ? "ssdp" : "http", ssdp ? "udp" : "tcp");
    const version = fieldText(bytes, m.versionOff, m.versionLen)!;
    if (m.kind === HTTP_REQUEST) {
      requests.push({
        ...e,
        method: fieldText(bytes, m.methodOff, m.methodLen)!,
        uri: fieldText(bytes, m.uriOff, m.uriLen)!,
        version,
        host: fieldText(bytes, m.hostOff, m.hostLen),
      });
    } else responses.push({ ...e, code: m.code, version });
  });
  return { requests, responses };
}

/** Every HTTP message completed over TCP reassembly, at the frame that completes it. */
export async function httpReassembled(
  path: string,
): Promise<{ requests: HttpRequest[]; responses: HttpResponse[]; lost: number }> {
  const re = new HttpReassembler();
  const requests: HttpRequest[] = [], responses: HttpResponse[] = [];
  let e: HttpEntry | null = null;
  const text = (at: number, n: number) => fieldText(re.textBytes, at, n);
  const sink: HttpSink = {
    message(r, t) {
      const version = text(r.versionAt(t), 8)!;
      if (r.request(t)) {
        requests.push({
          ...e!,
          method: text(r.methodAt(t), r.methodLength(t))!,
          uri: text(r.uriAt(t), r.uriLength(t))!,
          version,
          host: text(r.hostAt(t), r.hostLength(t)),
        });
      } else responses.push({ ...e!, code: r.code(t), version });
    },
  };
  await forEachFrame(path, (b, i, frame) => {
    e = entryOf(b, i, frame, "http", "tcp");
    re.segment(b, i, sink);
  }, true);
  return { requests, responses, lost: re.lost };
}
