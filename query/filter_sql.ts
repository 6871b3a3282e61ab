/**
 * A filter's syntax tree as a DuckDB condition over the store's key columns (`ip_version`,
 * `src_addr`, `dst_addr` as UHUGEINT, `proto`, `src_port`, `dst_port`, `vlan`; connection
 * records also `close_code`, `start_ns`/`end_ns` and the per-direction counts). Every value is
 * a bound parameter (`$n`); the SQL text is made only of this file's own words. Each test is
 * two-valued (a missing port or address is "no match", never NULL), so `not` means what a
 * person reads: `not port = 53` keeps ICMP.
 *
 * @module
 */

import type { Filter, Value } from "./filter.ts";

/** Parameters of one statement: `add` binds a value and gives its placeholder. */
export class SqlParams {
  readonly values: (string | number)[] = [];

  add(v: string | number | bigint): string {
    this.values.push(typeof v === "bigint" ? v.toString() : v);
    return `$${this.values.length}`;
  }

  /** A bound epoch-seconds time as a UTC TIMESTAMP (window_start's type). */
  timestamp(sec: number): string {
    return `make_timestamp(${this.add(Math.round(sec * 1e6))}::BIGINT)`;
  }

  /** `column` in [fromSec, toSec): the one form of a range condition. */
  within(column: string, range: { fromSec: number; toSec: number }): string {
    return `${column} >= ${this.timestamp(range.fromSec)} AND ${column} < ${
      this.timestamp(range.toSec)
    }`;
  }
}

/** `alias.` before every column, for queries that join (empty: none). */
export function filterSql(f: Filter | null, params: SqlParams, alias = ""): string {
  if (f === null) return "true";
  return condition(f, params, alias === "" ? "" : `${alias}.`);
}

function condition(f: Filter, p: SqlParams, a: string): string {
  switch (f.op) {
    case "and":
    case "or":
      return `(${f.args.map((x) => condition(x, p, a)).join(` ${f.op.toUpperCase()} `)})`;
    case "not":
      return `(NOT ${condition(f.arg, p, a)})`;
    case "cmp": {
      const negate = f.cmp === "!=";
      const test = either(
        f.field,
        a,
        (col) => compare(f.kind, col, negate ? "=" : f.cmp, f.value, p, a),
      );
      return negate ? `(NOT ${test})` : test;
    }
    case "in": {
      const test = either(
        f.field,
        a,
        (col) => f.values.map((v) => compare(f.kind, col, "=", v, p, a)).join(" OR "),
      );
      return f.negated ? `(NOT ${test})` : test;
    }
  }
}

/** `ip` and `port` match either side; other fields their own column. */
function either(field: string, a: string, test: (column: string) => string): string {
  const columns = field === "ip"
    ? ["src_addr", "dst_addr"]
    : field === "port"
    ? ["src_port", "dst_port"]
    : [COLUMN[field] ?? field];
  return `coalesce(${columns.map((c) => `(${test(`${a}${c}`)})`).join(" OR ")}, false)`;
}

const COLUMN: Record<string, string> = {
  src_ip: "src_addr",
  dst_ip: "dst_addr",
  close_reason: "close_code",
};

/** One comparison of one column with one value. */
function compare(
  kind: string,
  column: string,
  cmp: string,
  v: Value,
  p: SqlParams,
  a: string,
): string {
  if (v.kind === "ip") {
    const version = `${a}ip_version = ${v.version}`;
    return v.lo === v.hi
      ? `${version} AND ${column} = ${p.add(v.lo)}::UHUGEINT`
      : `${version} AND ${column} BETWEEN ${p.add(v.lo)}::UHUGEINT AND ${p.add(v.hi)}::UHUGEINT`;
  }
  const value = p.add(v.n);
  switch (kind) {
    case "seconds":
      return `(${a}end_ns - ${a}start_ns) ${cmp} ${value}::DOUBLE * 1000000000`;
    case "count": {
      const sum = column.endsWith("bytes") ? "bytes" : "packets";
      return `(${a}${sum}_fwd + ${a}${sum}_rev) ${cmp} ${value}::UBIGINT`;
    }
    default:
      return `${column} ${cmp} ${value}::BIGINT`;
  }
}
