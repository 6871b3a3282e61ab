/**
 * The application layer of the engine: DNS and HTTP/1.x metadata per window. DNS over UDP is
 * read from each packet on its own; DNS and HTTP over TCP through reassembly; IP fragments
 * are reassembled first (defrag.ts), for both.
 *
 * - DNS (UDP port 53, mDNS 5353 and LLMNR 5355, the lower port first as tshark picks; TCP
 *   ports 53 and 5353 as DNS, the length-prefixed messages as reassembly completes them,
 *   dns_tcp.ts): per (query name, type, flavour) the queries, responses, NXDOMAIN and
 *   other error responses, and response times — a response is matched to its query by
 *   client address and port, server address and port and message id, within the window.
 * - HTTP over TCP (any port): messages as TCP reassembly completes them (http_reassembly.ts:
 *   counted at the packet that completes the body, as tshark's reassembled view); SSDP on UDP
 *   1900 per packet. Requests per (host, method, path — the target up to "?") and per
 *   User-Agent, responses per status.
 *
 * Malformed DNS messages are counted by reason (dns_truncated, dns_pointer_loop, …).
 * Nothing is allocated per packet: names and paths are copied into the tables' arenas once
 * per distinct key.
 *
 * @module
 */

import { PROTO_TCP, PROTO_UDP } from "../packet/mod.ts";
import { FAMILY_NONE, FLAG_FRAGMENT, FLAG_HAS_PORTS, PacketBatch } from "../packet/mod.ts";
import { Defragmenter } from "./defrag.ts";
import { decodeDns, DNS_ERROR_NAMES, dnsKind, dnsKindTcp, DnsMessage } from "../decode/mod.ts";
import { decodeHttp, HTTP_REQUEST, HttpMessage } from "../decode/mod.ts";
import { AGENT_MAX, HttpReassembler, type HttpSink } from "./http_reassembly.ts";
import { DnsTcpReassembler, type DnsTcpSink } from "./dns_tcp.ts";
import { TextTable } from "./text_table.ts";
import type { AppExport } from "../export/mod.ts";
import { LaneIndex } from "../../sketches/mod.ts";
import { hashWords } from "../../sketches/mod.ts";
import { KEY_SEED } from "../packet/mod.ts";

/** DNS counters per (name, type, flavour), in this order in `dns.values`. */
export const DNS_QUERIES = 0, DNS_RESPONSES = 1, DNS_NXDOMAIN = 2, DNS_ERRORS = 3;
export const DNS_RTT_COUNT = 4, DNS_RTT_SUM_US = 5, DNS_RTT_MAX_US = 6;
const DNS_COUNTERS = 7;
/** Distinct keys per window, and their text, at most. */
export const DNS_NAMES_MAX = 1 << 16;
export const HTTP_KEYS_MAX = 1 << 16;
export const HTTP_AGENTS_MAX = 1 << 15;
/** Queries waiting for their answer within a window at most (more are not timed). */
export const DNS_PENDING_MAX = 1 << 14;
/** Path bytes kept (longer targets are cut; the cut is part of the key). */
const PATH_MAX = 1024, HOST_MAX = 255;
export const STATUS_CODES = 1000;
/** `num` part of the keys: the DNS flavour (1 dns, 2 mdns, 3 llmnr) or HTTP (0) / SSDP (1). */
export const APP_NAMES = ["", "dns", "mdns", "llmnr"];
export const HTTP_PROTOCOLS = ["http", "ssdp"];

const TCP = PROTO_TCP, UDP = PROTO_UDP, SSDP_PORT = 1900;

/** One open window's DNS and HTTP counters (the engine keeps one per open window). */
export class AppWindow {
  readonly dns = new TextTable(DNS_COUNTERS, DNS_NAMES_MAX, 8 << 20);
  readonly http = new TextTable(1, HTTP_KEYS_MAX, 16 << 20);
  /** Requests per User-Agent (num: HTTP 0 / SSDP 1); requests without one are not in it. */
  readonly agents = new TextTable(1, HTTP_AGENTS_MAX, 8 << 20);
  /** Responses per [protocol * STATUS_CODES + code]. */
  readonly status = new Float64Array(2 * STATUS_CODES);
  /** DNS responses per [flavour * 16 + RCODE]. */
  readonly rcodes = new Float64Array(4 * 16);
  /** Malformed DNS messages by reason (index = DNS_ERR_*; 0 unused). */
  readonly dnsErrors = new Float64Array(DNS_ERROR_NAMES.length);
  dnsMessages = 0;
  httpRequests = 0;
  httpResponses = 0;

  /** Zeroes every counter in place, keeping the memory. */
  clear(): void {
    this.dns.clear(), this.http.clear(), this.agents.clear();
    this.status.fill(0), this.dnsErrors.fill(0), this.rcodes.fill(0);
    this.dnsMessages = 0, this.httpRequests = 0, this.httpResponses = 0;
  }
}

export class AppLayer implements HttpSink, DnsTcpSink {
  /** A window of its own, the target when none is given (one-window use: tests, benches). */
  readonly own = new AppWindow();
  /** The window being counted into (set per run of packets by addRange). */
  private w = this.own;
  private readonly m = new DnsMessage();
  private readonly h = new HttpMessage();
  private readonly scratch = new Uint8Array(HOST_MAX + PATH_MAX + 64);
  /** HTTP over TCP, reassembled; lives across windows (messages span them). */
  readonly streams = new HttpReassembler();
  /** DNS over TCP, reassembled likewise. */
  readonly dnsStreams = new DnsTcpReassembler();
  /** IP fragments, reassembled for DNS and HTTP; a whole datagram is read from `whole`. */
  readonly defrag = new Defragmenter();
  private readonly whole = new PacketBatch(1);
  /** The packet whose segment the DNS reassembler is reading, for dnsTcp. */
  private atBatch: PacketBatch | null = null;
  private at = 0;
  private atKind = 0;
  // Queries waiting for an answer: the time they were seen, by (client, server, ports, id).
  private readonly pending = new LaneIndex(DNS_PENDING_MAX);
  private readonly sentSec = new Float64Array(DNS_PENDING_MAX);
  private readonly sentNsec = new Uint32Array(DNS_PENDING_MAX);
  private readonly free = new Int32Array(DNS_PENDING_MAX);
  private readonly inUse = new Uint8Array(DNS_PENDING_MAX);
  private freeTop = 0;
  private readonly words = new Int32Array(10);
  private readonly lanes = new Int32Array(2);

  constructor() {
    for (let s = 0; s < DNS_PENDING_MAX; s++) this.free[s] = DNS_PENDING_MAX - 1 - s;
    this.freeTop = DNS_PENDING_MAX;
  }

  /** Counts packets [from, to) of `batch` into window `win`. */
  addRange(batch: PacketBatch, from: number, to: number, win = this.own): void {
    this.w = win;
    for (let i = from; i < to; i++) {
      const fl = batch.flags[i]!;
      if (batch.family[i] === FAMILY_NONE) continue;
      if ((fl & FLAG_FRAGMENT) !== 0) this.fragment(batch, i);
      else if ((fl & FLAG_HAS_PORTS) !== 0) this.packet(batch, i);
    }
  }

  /** One whole (not fragmented, or reassembled) UDP or TCP packet with its ports. */
  private packet(batch: PacketBatch, i: number): void {
    const len = batch.payloadLen[i]!;
    const proto = batch.proto[i]!, off = batch.payloadOff[i]!;
    const sp = batch.srcPort[i]!, dp = batch.dstPort[i]!;
    // TCP streams see every segment: SYN starts the sequence, FIN can end a message.
    if (proto === TCP) {
      const kind = dnsKindTcp(sp, dp);
      if (kind === 0) this.streams.segment(batch, i, this);
      else {
        // DNS over TCP, messages as reassembly completes them (dnsTcp below).
        this.at = i, this.atKind = kind, this.atBatch = batch;
        this.dnsStreams.segment(batch, i, this);
      }
      return;
    }
    if (len === 0 || proto !== UDP) return;
    const kind = dnsKind(sp, dp);
    if (kind !== 0) this.dnsMessage(batch, i, batch.bytes, off, len, kind);
    else if (sp === SSDP_PORT || dp === SSDP_PORT) this.httpMessage(batch.bytes, off, len, 1);
  }

  /**
   * An IP fragment goes to reassembly (defrag.ts), as in tshark's reassembled view: the
   * datagram is read once whole, at the fragment that completes it.
   */
  private fragment(batch: PacketBatch, i: number): void {
    const w = this.whole;
    if (this.defrag.addInto(batch, i, w) && (w.flags[0]! & FLAG_HAS_PORTS) !== 0) this.packet(w, 0);
  }

  private dnsMessage(
    batch: PacketBatch,
    i: number,
    bytes: Uint8Array,
    off: number,
    len: number,
    kind: number,
  ): boolean {
    const m = this.m;
    if (!decodeDns(bytes, off, len, m)) return false;
    this.w.dnsMessages++;
    if (m.error !== 0) this.w.dnsErrors[m.error]!++;
    const nameLen = m.queries > 0 ? m.nameLen[0]! : 0;
    const num = kind | ((m.queries > 0 ? m.qtype[0]! : 0) << 8);
    const e = this.w.dns.entry(m.names, 0, nameLen, num);
    if (e < 0) return true;
    const v = this.w.dns.values, o = e * DNS_COUNTERS;
    const slot = this.pendingSlot(batch, i, m.response, m.id, kind);
    if (!m.response) {
      v[o + DNS_QUERIES]!++;
      if (slot < 0) this.remember(batch, i);
      else this.sentSec[slot] = batch.tsSec[i]!, this.sentNsec[slot] = batch.tsNsec[i]!;
      return true;
    }
    v[o + DNS_RESPONSES]!++;
    this.w.rcodes[kind * 16 + m.rcode]!++;
    if (m.rcode === 3) v[o + DNS_NXDOMAIN]!++;
    else if (m.rcode !== 0) v[o + DNS_ERRORS]!++;
    if (slot >= 0) {
      const us = ((batch.tsSec[i]! - this.sentSec[slot]!) * 1e9 +
        (batch.tsNsec[i]! - this.sentNsec[slot]!)) / 1e3;
      if (us >= 0) {
        v[o + DNS_RTT_COUNT]!++;
        v[o + DNS_RTT_SUM_US]! += us;
        if (us > v[o + DNS_RTT_MAX_US]!) v[o + DNS_RTT_MAX_US] = us;
      }
      this.pending.remove(slot);
      this.inUse[slot] = 0;
      this.free[this.freeTop++] = slot;
    }
    return true;
  }

  /**
   * Computes the pending-query key of packet i (client = source of a query, destination of a
   * response) into `lanes` and returns its slot if one waits, else -1.
   */
  private pendingSlot(
    batch: PacketBatch,
    i: number,
    response: boolean,
    id: number,
    kind: number,
  ): number {
    const w = this.words, q = i * 4;
    const client = response ? batch.dst : batch.src, server = response ? batch.src : batch.dst;
    const cport = response ? batch.dstPort[i]! : batch.srcPort[i]!;
    const sport = response ? batch.srcPort[i]! : batch.dstPort[i]!;
    for (let j = 0; j < 4; j++) w[j] = client[q + j]!, w[4 + j] = server[q + j]!;
    w[8] = (cport << 16) | sport, w[9] = id | (kind << 16);
    hashWords(w, 0, 10, this.lanes, KEY_SEED);
    return this.pending.find(this.lanes[0]!, this.lanes[1]!);
  }

  /** Keeps the query's time under the key in `lanes` (skipped when the table is full). */
  private remember(batch: PacketBatch, i: number): void {
    if (this.freeTop === 0) return;
    const slot = this.free[--this.freeTop]!;
    this.pending.insert(slot, this.lanes[0]!, this.lanes[1]!);
    this.inUse[slot] = 1;
    this.sentSec[slot] = batch.tsSec[i]!, this.sentNsec[slot] = batch.tsNsec[i]!;
  }

  /** DnsTcpSink: a whole DNS message over TCP, completed by the packet being read. */
  dnsTcp(bytes: Uint8Array, off: number, len: number): boolean {
    return this.dnsMessage(this.atBatch!, this.at, bytes, off, len, this.atKind);
  }

  /** HttpSink: one completed HTTP message over TCP, counted from its kept text. */
  message(r: HttpReassembler, t: number): void {
    if (!r.request(t)) this.countResponse(r.code(t), 0);
    else {
      this.countRequest(
        r.textBytes,
        r.hostAt(t),
        r.hostLength(t),
        r.methodAt(t),
        r.methodLength(t),
        r.uriAt(t),
        r.uriLength(t),
        0,
      );
      this.countAgent(r.textBytes, r.agentAt(t), r.agentLength(t), 0);
    }
  }

  /** UDP (SSDP): each packet on its own. */
  private httpMessage(bytes: Uint8Array, off: number, len: number, protocol: number): void {
    const h = this.h;
    if (!decodeHttp(bytes, off, len, h)) return;
    if (h.kind !== HTTP_REQUEST) this.countResponse(h.code, protocol);
    else {
      this.countRequest(
        bytes,
        h.hostOff,
        h.hostLen,
        h.methodOff,
        h.methodLen,
        h.uriOff,
        h.uriLen,
        protocol,
      );
      this.countAgent(bytes, h.agentOff, Math.min(h.agentLen, AGENT_MAX), protocol);
    }
  }

  /** Counts a request under its User-Agent, if it has one (at most AGENT_MAX bytes kept). */
  private countAgent(b: Uint8Array, off: number, len: number, protocol: number): void {
    if (len < 0) return;
    const e = this.w.agents.entry(b, off, len, protocol);
    if (e >= 0) this.w.agents.values[e]!++;
  }

  private countResponse(code: number, protocol: number): void {
    this.w.httpResponses++;
    if (code < STATUS_CODES) this.w.status[protocol * STATUS_CODES + code]!++;
  }

  /**
   * Counts a request under its key text — host NUL method NUL path (the target up to "?",
   * at most PATH_MAX bytes) — from fields of `b` (host length -1: no Host header).
   */
  private countRequest(
    b: Uint8Array,
    hostOff: number,
    hostLen: number,
    methodOff: number,
    methodLen: number,
    uriOff: number,
    uriLen: number,
    protocol: number,
  ): void {
    this.w.httpRequests++;
    const s = this.scratch;
    let k = 0;
    for (let j = 0; j < Math.min(hostLen, HOST_MAX); j++) s[k++] = b[hostOff + j]!;
    s[k++] = 0;
    for (let j = 0; j < methodLen; j++) s[k++] = b[methodOff + j]!;
    s[k++] = 0;
    for (let j = 0; j < uriLen && j < PATH_MAX && b[uriOff + j] !== 0x3f; j++) {
      s[k++] = b[uriOff + j]!;
    }
    const e = this.w.http.entry(s, 0, k, protocol | (hostLen < 0 ? 2 : 0));
    if (e >= 0) this.w.http.values[e]!++;
  }

  /**
   * Window `win` closes at `endSec` (its end): its export, with the reassemblers' losses since
   * the previous close. Then idle reassembly state is swept, and queries sent before `endSec`
   * stop waiting for their answer (response times are measured within a window and its
   * lateness). `win` is cleared for reuse.
   */
  closeWindow(win: AppWindow, endSec: number): AppExport {
    const errors = new Map<string, number>();
    for (let r = 1; r < win.dnsErrors.length; r++) {
      if (win.dnsErrors[r]! > 0) errors.set(DNS_ERROR_NAMES[r]!, win.dnsErrors[r]!);
    }
    const lost: [string, number][] = [
      ["http_lost", this.streams.lost],
      ["dns_tcp_lost", this.dnsStreams.lost],
      ["ip_defrag_lost", this.defrag.lost],
    ];
    for (const [reason, n] of lost) if (n > 0) errors.set(reason, n);
    // The text tables are handed over as they are: their strings are the writer's to make.
    const out: AppExport = {
      dns: win.dns.handOver(),
      http: win.http.handOver(),
      agents: win.agents.handOver(),
      status: win.status.slice(),
      rcodes: win.rcodes.slice(),
      errors,
    };
    win.clear();
    // Zeroed before the sweeps, so what they drop counts in the next window, not in none.
    this.streams.lost = 0, this.dnsStreams.lost = 0, this.defrag.lost = 0;
    this.streams.sweepIdle(), this.dnsStreams.sweepIdle(), this.defrag.sweepIdle();
    this.forgetQueriesBefore(endSec);
    return out;
  }

  /** Closes the own window, dropping its export (one-window use). */
  clear(): void {
    this.closeWindow(this.own, Infinity);
  }

  /** Losses since the last window closed: HTTP messages (limits, sequence gaps). */
  get httpLost(): number {
    return this.streams.lost;
  }

  /** IP datagrams dropped unfinished (limits, cut fragments, idle at a window's close). */
  get defragLost(): number {
    return this.defrag.lost;
  }

  /** DNS messages over TCP lost (limits, gaps, closed unfinished). */
  get dnsTcpLost(): number {
    return this.dnsStreams.lost;
  }

  /** Unanswered queries sent before `sec` are no longer timed. */
  private forgetQueriesBefore(sec: number): void {
    if (this.freeTop === DNS_PENDING_MAX) return;
    if (!(sec < Infinity)) {
      this.pending.clear();
      this.inUse.fill(0);
      for (let s = 0; s < DNS_PENDING_MAX; s++) this.free[s] = DNS_PENDING_MAX - 1 - s;
      this.freeTop = DNS_PENDING_MAX;
      return;
    }
    for (let slot = 0; slot < DNS_PENDING_MAX; slot++) {
      if (this.inUse[slot] === 0 || !(this.sentSec[slot]! < sec)) continue;
      this.pending.remove(slot);
      this.inUse[slot] = 0;
      this.free[this.freeTop++] = slot;
    }
  }
}
