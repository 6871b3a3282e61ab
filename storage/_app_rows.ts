/**
 * A window's DNS and HTTP rows (window_dns, window_http, window_http_status) and the DNS
 * decode problems (window_decode_errors, reasons dns_*), from the engine's app layer.
 * At most one row per distinct key per window, so plain appender calls.
 *
 * @module
 */

import type { DuckDBAppender, DuckDBTimestampValue } from "@duckdb/node-api";
import type { AppExport, TextRows } from "../collector/export/mod.ts";
import { yieldNow } from "./_window_rows.ts";

const LATIN1 = new TextDecoder("latin1");
/** Rows between two yields to the event loop (these rows go value by value: about 5 ms). */
const YIELD_ROWS = 4096;

/** Row e's text (one byte a character, as the engine keeps it). */
export function textOf(t: TextRows, e: number): string {
  const o = t.offsets[e]!;
  return LATIN1.decode(t.arena.subarray(o, o + t.lengths[e]!));
}
import {
  APP_NAMES,
  DNS_ERRORS,
  DNS_NXDOMAIN,
  DNS_QUERIES,
  DNS_RESPONSES,
  DNS_RTT_COUNT,
  DNS_RTT_MAX_US,
  DNS_RTT_SUM_US,
  HTTP_PROTOCOLS,
  STATUS_CODES,
} from "../collector/app/mod.ts";

export async function appendDns(
  a: DuckDBAppender,
  sourceNo: number,
  start: DuckDBTimestampValue,
  app: AppExport,
): Promise<void> {
  const t = app.dns, c = t.counters;
  for (let e = 0; e < t.length; e++) {
    const num = t.nums[e]!, v = t.values, o = e * c;
    a.appendUInteger(sourceNo), a.appendTimestamp(start);
    a.appendVarchar(APP_NAMES[num & 0xff] ?? "dns");
    a.appendVarchar(textOf(t, e));
    a.appendUSmallInt(num >>> 8);
    for (const k of [DNS_QUERIES, DNS_RESPONSES, DNS_NXDOMAIN, DNS_ERRORS, DNS_RTT_COUNT]) {
      a.appendUBigInt(BigInt(v[o + k]!));
    }
    a.appendDouble(v[o + DNS_RTT_SUM_US]!), a.appendDouble(v[o + DNS_RTT_MAX_US]!);
    a.endRow();
    if ((e + 1) % YIELD_ROWS === 0) await yieldNow();
  }
}

export function appendDnsRcodes(
  a: DuckDBAppender,
  sourceNo: number,
  start: DuckDBTimestampValue,
  app: AppExport,
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

export async function appendHttp(
  a: DuckDBAppender,
  sourceNo: number,
  start: DuckDBTimestampValue,
  app: AppExport,
): Promise<void> {
  const t = app.http;
  for (let e = 0; e < t.length; e++) {
    const [host, method, path] = textOf(t, e).split("\0");
    const num = t.nums[e]!;
    a.appendUInteger(sourceNo), a.appendTimestamp(start);
    a.appendVarchar(HTTP_PROTOCOLS[num & 1]!);
    if ((num & 2) !== 0) a.appendNull(); // no Host header
    else a.appendVarchar(host ?? "");
    a.appendVarchar(method ?? ""), a.appendVarchar(path ?? "");
    a.appendUBigInt(BigInt(t.values[e]!));
    a.endRow();
    if ((e + 1) % YIELD_ROWS === 0) await yieldNow();
  }
}

/** Requests per User-Agent (window_http_agents). */
export async function appendHttpAgents(
  a: DuckDBAppender,
  sourceNo: number,
  start: DuckDBTimestampValue,
  app: AppExport,
): Promise<void> {
  const t = app.agents;
  for (let e = 0; e < t.length; e++) {
    a.appendUInteger(sourceNo), a.appendTimestamp(start);
    a.appendVarchar(HTTP_PROTOCOLS[t.nums[e]! & 1]!), a.appendVarchar(textOf(t, e));
    a.appendUBigInt(BigInt(t.values[e]!));
    a.endRow();
    if ((e + 1) % YIELD_ROWS === 0) await yieldNow();
  }
}

export function appendHttpStatus(
  a: DuckDBAppender,
  sourceNo: number,
  start: DuckDBTimestampValue,
  app: AppExport,
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
  app: AppExport,
): void {
  for (const [reason, n] of app.errors) {
    a.appendUInteger(sourceNo), a.appendTimestamp(start), a.appendVarchar(reason);
    a.appendUBigInt(BigInt(n));
    a.endRow();
  }
}
