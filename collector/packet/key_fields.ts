/**
 * Key fields of exact aggregation tasks, shared by the CLI, the config and (later) the API.
 *
 * @module
 */

import { UsageError } from "../user_error.ts";

export const KEY_FIELDS = ["src_ip", "dst_ip", "proto", "src_port", "dst_port", "vlan"] as const;
export type KeyField = typeof KEY_FIELDS[number];

/** The classic 5-tuple, the default key. */
export const FIVE_TUPLE: readonly KeyField[] = [
  "src_ip",
  "dst_ip",
  "proto",
  "src_port",
  "dst_port",
];

/**
 * Parses a comma-separated list like `src_ip,dst_port`. Throws one TypeError naming every
 * unknown or repeated field at once.
 */
export function parseKeyFields(text: string): KeyField[] {
  const parts = text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  const problems: string[] = [];
  const out: KeyField[] = [];
  for (const p of parts) {
    if (!(KEY_FIELDS as readonly string[]).includes(p)) problems.push(`unknown field "${p}"`);
    else if (out.includes(p as KeyField)) problems.push(`field "${p}" given twice`);
    else out.push(p as KeyField);
  }
  if (parts.length === 0) problems.push("no fields given");
  if (problems.length > 0) {
    throw new UsageError(
      `Invalid --group-by: ${problems.join("; ")} (fields: ${KEY_FIELDS.join(", ")})`,
    );
  }
  return out;
}
