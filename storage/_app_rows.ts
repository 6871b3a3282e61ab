/**
 * A window's DNS and HTTP rows (window_dns, window_http, window_http_status) and the DNS
 * decode problems (window_decode_errors, reasons dns_*), from the engine's app layer.
 * At most one row per distinct key per window, so plain appender calls.
 *
 * @module
 */

import type { DuckDBAppender, DuckDBTimestampValue } from "@duckdb/node-api";
import {
  APP_NAMES,
  type AppLayer,
  DNS_ERRORS,
  DNS_NXDOMAIN,
  DNS_QUERIES,
  DNS_RESPONSES,
  DNS_RTT_COUNT,
  DNS_RTT_MAX_US,
  DNS_RTT_SUM_US,
  HTTP_PROTOCOLS,
  STATUS_CODES,
} from "../collector/app_layer.ts";
import { DNS_ERROR_NAMES } from "../collector/decode/dns.ts";

export function appendDns(
  a: DuckDBAppender,
  sourceNo: number,
  start: DuckDBTimestampValue,
  app: AppLayer,
): void {
  const t = app.dns, c = t.counters;
  for (let e = 0; e < t.size; e++) {
    const num = t.keyNum[e]!, v = t.values, o = e * c;
    a.appendUInteger(sourceNo), a.appendTimestamp(start);
    a.appendVarchar(APP_NAMES[num & 0xff] ?? "dns");
    a.appendVarchar(t.keyText(e));
    a.appendUSmallInt(num >>> 8);
    for (const k of [DNS_QUERIES, DNS_RESPONSES, DNS_NXDOMAIN, DNS_ERRORS, DNS_RTT_COUNT]) {
      a.appendUBigInt(BigInt(v[o + k]!));
    }
    a.appendDouble(v[o + DNS_RTT_SUM_US]!), a.appendDouble(v[o + DNS_RTT_MAX_US]!);
    a.endRow();
  }
}

export function appendDnsRcodes(
  a: DuckDBAppender,
  sourceNo: number,
  start: DuckDBTimestampValue,
  app: AppLayer,
): void {
  for (let k = 0; k < app.rcodes.length; k++) {
    const n = app.rcodes[k]!;
    if (n === 0) continue;
    a.appendUInteger(sourceNo), a.appendTimestamp(start);
    a.appendVarchar(APP_NAMES[k >>> 4] ?? "dns"), a.appendUTinyInt(k & 15);
    a.appendUBigInt(BigInt(n));
    a.endRow();
  }
}

export function appendHttp(
  a: DuckDBAppender,
  sourceNo: number,
  start: DuckDBTimestampValue,
  app: AppLayer,
): void {
  const t = app.http;
  for (let e = 0; e < t.size; e++) {
    const [host, method, path] = t.keyText(e).split("\0");
    const num = t.keyNum[e]!;
    a.appendUInteger(sourceNo), a.appendTimestamp(start);
    a.appendVarchar(HTTP_PROTOCOLS[num & 1]!);
    if ((num & 2) !== 0) a.appendNull(); // no Host header
    else a.appendVarchar(host ?? "");
    a.appendVarchar(method ?? ""), a.appendVarchar(path ?? "");
    a.appendUBigInt(BigInt(t.values[e]!));
    a.endRow();
  }
}

/** Requests per User-Agent (window_http_agents). */
export function appendHttpAgents(
  a: DuckDBAppender,
  sourceNo: number,
  start: DuckDBTimestampValue,
  app: AppLayer,
): void {
  const t = app.agents;
  for (let e = 0; e < t.size; e++) {
    a.appendUInteger(sourceNo), a.appendTimestamp(start);
    a.appendVarchar(HTTP_PROTOCOLS[t.keyNum[e]! & 1]!), a.appendVarchar(t.keyText(e));
    a.appendUBigInt(BigInt(t.values[e]!));
    a.endRow();
  }
}

export function appendHttpStatus(
  a: DuckDBAppender,
  sourceNo: number,
  start: DuckDBTimestampValue,
  app: AppLayer,
): void {
  for (let k = 0; k < app.status.length; k++) {
    const n = app.status[k]!;
    if (n === 0) continue;
    a.appendUInteger(sourceNo), a.appendTimestamp(start);
    a.appendVarchar(HTTP_PROTOCOLS[Math.floor(k / STATUS_CODES)]!);
    a.appendUSmallInt(k % STATUS_CODES), a.appendUBigInt(BigInt(n));
    a.endRow();
  }
}

/**
 * DNS decode problems (reasons dns_*) and messages lost to reassembly limits or sequence gaps
 * (http_lost; dns_tcp_lost for DNS over TCP; ip_defrag_lost for IP datagrams never whole) as
 * window_decode_errors rows.
 */
export function appendAppErrors(
  a: DuckDBAppender,
  sourceNo: number,
  start: DuckDBTimestampValue,
  app: AppLayer,
): void {
  for (let r = 1; r < app.dnsErrors.length; r++) {
    if (app.dnsErrors[r] === 0) continue;
    a.appendUInteger(sourceNo), a.appendTimestamp(start), a.appendVarchar(DNS_ERROR_NAMES[r]!);
    a.appendUBigInt(BigInt(app.dnsErrors[r]!));
    a.endRow();
  }
  const lost: [string, number][] = [
    ["http_lost", app.httpLost],
    ["dns_tcp_lost", app.dnsTcpLost],
    ["ip_defrag_lost", app.defragLost],
  ];
  for (const [reason, n] of lost) {
    if (n === 0) continue;
    a.appendUInteger(sourceNo), a.appendTimestamp(start), a.appendVarchar(reason);
    a.appendUBigInt(BigInt(n));
    a.endRow();
  }
}
