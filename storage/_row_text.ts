/**
 * Store values as report text: epoch nanoseconds as "sec.nnnnnnnnn", UHUGEINT addresses as
 * IPv4/IPv6 text, key fields as the store's column names. Shared by the report queries.
 *
 * @module
 */

import type { DuckDBValue } from "@duckdb/node-api";
import type { KeyField } from "../collector/packet/mod.ts";
import { ipv4Text, ipv6Text } from "../collector/packet/mod.ts";

/** "sec.nnnnnnnnn" from epoch nanoseconds (bigint from DuckDB). */
export function nsText(v: DuckDBValue): string | null {
  if (v === null || v === undefined) return null;
  const ns = BigInt(v as bigint);
  // Before 1970 (only a crafted capture): the sign, then the distance as after it.
  const abs = ns < 0n ? -ns : ns;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, "0");
  return `${ns < 0n ? "-" : ""}${abs / 1_000_000_000n}.${frac}`;
}

/** Address text from a UHUGEINT column value and the row's ip_version. */
export function addrOf(v: DuckDBValue, version: DuckDBValue): string | null {
  if (v === null || v === undefined) return null;
  const x = BigInt(v as bigint);
  if (Number(version) === 4) return ipv4Text(Number(x));
  const words = [0, 1, 2, 3].map((k) => Number((x >> BigInt(96 - 32 * k)) & 0xffffffffn));
  return ipv6Text(words);
}

/** Key fields as store columns: addresses are stored as numbers with their IP version. */
export function keyColumns(keys: readonly KeyField[]): string {
  const cols: string[] = [];
  if (keys.includes("src_ip") || keys.includes("dst_ip")) cols.push("ip_version");
  for (const f of keys) cols.push(f === "src_ip" ? "src_addr" : f === "dst_ip" ? "dst_addr" : f);
  return cols.join(", ");
}
