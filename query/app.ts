/**
 * DNS and HTTP over a time range, for the API: the busiest query names (with their answers'
 * outcome and round-trip times) and response codes; HTTP hosts, status codes and User-Agents.
 * The same sums as the store's views (storage/README.md), restricted to the range.
 *
 * @module
 */

import { type QueryContext, type Row, select } from "./_sql.ts";
import { iso, resolveRange } from "./_time.ts";
import { storeFacts } from "./_tasks.ts";
import { SqlParams } from "./filter_sql.ts";

export interface AppQuestion {
  from?: string;
  to?: string;
  limit: number;
}

export interface AppAnswer {
  range: { from: string; to: string };
  [table: string]: Row[] | { from: string; to: string } | number;
}

/** Runs each of `tables` (name → SELECT over window rows `w`, sorted) over the range. */
async function perRange(
  ctx: QueryContext,
  q: AppQuestion,
  tables: Record<string, (where: string, limit: string) => string>,
): Promise<AppAnswer> {
  const t0 = performance.now();
  const range = resolveRange(q.from, q.to, (await storeFacts(ctx)).anchorSec);
  const out: AppAnswer = { range: { from: iso(range.fromSec), to: iso(range.toSec) } };
  for (const [name, sql] of Object.entries(tables)) {
    const p = new SqlParams();
    const where = p.within("w.window_start", range);
    out[name] = await select(ctx, sql(where, p.add(q.limit)), p.values);
  }
  out.took_ms = Math.round((performance.now() - t0) * 10) / 10;
  return out;
}

export function queryDns(ctx: QueryContext, q: AppQuestion): Promise<AppAnswer> {
  return perRange(ctx, q, {
    names: (where, limit) =>
      `SELECT protocol, qname, qtype, sum(queries) AS queries, sum(responses) AS responses,
         sum(nxdomain) AS nxdomain, sum(errors) AS errors,
         round(sum(rtt_sum_us) / nullif(sum(rtt_count), 0) / 1000, 3) AS avg_rtt_ms,
         round(max(CASE WHEN rtt_count > 0 THEN rtt_max_us END) / 1000, 3) AS max_rtt_ms
       FROM window_dns w WHERE ${where}
       GROUP BY ALL ORDER BY sum(queries) + sum(responses) DESC, qname, qtype, protocol LIMIT ${limit}`,
    rcodes: (where, limit) =>
      `SELECT protocol, rcode, sum(responses) AS responses FROM window_dns_rcodes w
       WHERE ${where} GROUP BY ALL ORDER BY responses DESC, rcode LIMIT ${limit}`,
  });
}

export function queryHttp(ctx: QueryContext, q: AppQuestion): Promise<AppAnswer> {
  return perRange(ctx, q, {
    hosts: (where, limit) =>
      `SELECT protocol, host, sum(requests) AS requests FROM window_http w WHERE ${where}
       GROUP BY ALL ORDER BY requests DESC, host NULLS LAST LIMIT ${limit}`,
    requests: (where, limit) =>
      `SELECT protocol, host, method, path, sum(requests) AS requests FROM window_http w
       WHERE ${where} GROUP BY ALL ORDER BY requests DESC, host, method, path LIMIT ${limit}`,
    status: (where, limit) =>
      `SELECT protocol, code, sum(responses) AS responses FROM window_http_status w
       WHERE ${where} GROUP BY ALL ORDER BY responses DESC, code LIMIT ${limit}`,
    user_agents: (where, limit) =>
      `SELECT protocol, user_agent, sum(requests) AS requests FROM window_http_agents w
       WHERE ${where} GROUP BY ALL ORDER BY requests DESC, user_agent LIMIT ${limit}`,
  });
}
