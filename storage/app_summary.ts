/**
 * The DNS and HTTP part of the report, read back from the store for one source: totals, the
 * most queried names, the most requested host/method/path, and status codes.
 *
 * @module
 */

import type { DuckDBValue } from "@duckdb/node-api";
import type { AppSummary } from "./report_types.ts";
import type { Store } from "./store.ts";

const num = (v: DuckDBValue | undefined): number => v === null || v === undefined ? 0 : Number(v);

export async function summarizeApp(
  store: Store,
  sourceNo: string,
  limit: number | undefined,
): Promise<AppSummary> {
  const lim = limit === undefined ? "" : `LIMIT ${Math.floor(limit)}`;
  const src = [sourceNo];
  const [d] = await store.rows(
    `SELECT sum(queries) AS q, sum(responses) AS r, sum(nxdomain) AS nx, sum(errors) AS e
     FROM window_dns WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER)`,
    src,
  );
  const bad = await store.rows(
    `SELECT reason, sum(packets) AS n FROM window_decode_errors
     WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) AND starts_with(reason, 'dns_') GROUP BY reason ORDER BY reason`,
    src,
  );
  const names = await store.rows(
    `SELECT protocol, qname, qtype, sum(queries) AS queries, sum(responses) AS responses,
            sum(nxdomain) AS nxdomain,
            round(sum(rtt_sum_us) / nullif(sum(rtt_count), 0) / 1000, 3) AS avg_rtt_ms
     FROM window_dns WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) GROUP BY ALL
     ORDER BY sum(queries) + sum(responses) DESC, qname, qtype, protocol ${lim}`,
    src,
  );
  const top = await store.rows(
    `SELECT protocol, host, method, path, sum(requests) AS requests FROM window_http
     WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) GROUP BY ALL ORDER BY sum(requests) DESC, host, method, path ${lim}`,
    src,
  );
  const status = await store.rows(
    `SELECT protocol, code, sum(responses) AS responses FROM window_http_status
     WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) GROUP BY ALL ORDER BY sum(responses) DESC, code`,
    src,
  );
  const agents = await store.rows(
    `SELECT protocol, user_agent, sum(requests) AS requests FROM window_http_agents
     WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) GROUP BY ALL ORDER BY sum(requests) DESC, user_agent ${lim}`,
    src,
  );
  const [h] = await store.rows(
    `SELECT (SELECT sum(requests) FROM window_http WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER)) AS req,
            (SELECT sum(responses) FROM window_http_status WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER)) AS res,
            (SELECT sum(packets) FROM window_decode_errors
              WHERE source_no IN (SELECT unnest(string_split($1, ','))::UINTEGER) AND reason = 'http_lost') AS lost`,
    src,
  );
  const q = num(d!.q), r = num(d!.r);
  return {
    dns: {
      messages: q + r,
      queries: q,
      responses: r,
      nxdomain: num(d!.nx),
      error_responses: num(d!.e),
      malformed: Object.fromEntries(bad.map((x) => [String(x.reason), num(x.n)])),
      names: names.map((x) => ({
        protocol: String(x.protocol),
        qname: String(x.qname),
        qtype: num(x.qtype),
        queries: num(x.queries),
        responses: num(x.responses),
        nxdomain: num(x.nxdomain),
        avg_rtt_ms: x.avg_rtt_ms === null ? null : num(x.avg_rtt_ms),
      })),
    },
    http: {
      requests: num(h!.req),
      responses: num(h!.res),
      lost: num(h!.lost),
      top: top.map((x) => ({
        protocol: String(x.protocol),
        host: x.host === null ? null : String(x.host),
        method: String(x.method),
        path: String(x.path),
        requests: num(x.requests),
      })),
      status: status.map((x) => ({
        protocol: String(x.protocol),
        code: num(x.code),
        responses: num(x.responses),
      })),
      user_agents: agents.map((x) => ({
        protocol: String(x.protocol),
        user_agent: String(x.user_agent),
        requests: num(x.requests),
      })),
    },
  };
}
