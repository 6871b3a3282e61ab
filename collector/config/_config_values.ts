/**
 * Value parsers shared by the configuration's sections: durations, sizes, mappings, key
 * field lists. Each returns null (or adds to `problems`) instead of throwing, so a config is
 * checked whole and every problem reported at once.
 *
 * @module
 */

import { KEY_FIELDS, type KeyField } from "../packet/mod.ts";

const DURATION = /^(\d+)\s*(s|m|h|d)?$/;
const SIZE = /^(\d+)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB)?$/i;

/**
 * A duration — whole seconds as a number, or text like 10s, 5m, 1h, 2d, 30 — in seconds; null
 * when it is none. The one duration grammar of the configuration and the command line.
 */
export function seconds(v: unknown): number | null {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
  const m = typeof v === "string" ? DURATION.exec(v.trim()) : null;
  if (!m) return null;
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600, d: 86400 }[m[2] ?? "s"] ?? 1);
}

export function bytes(v: unknown): number | null {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
  const m = typeof v === "string" ? SIZE.exec(v.trim()) : null;
  if (!m) return null;
  const unit = (m[2] ?? "B").toUpperCase();
  const units: Record<string, number> = {
    B: 1,
    KB: 1e3,
    MB: 1e6,
    GB: 1e9,
    TB: 1e12,
    KIB: 1024,
    MIB: 1024 * 1024,
    GIB: 1024 * 1024 * 1024,
  };
  return Number(m[1]) * (units[unit] ?? 1);
}

/** A list of key fields, each known and given once; problems are added to `problems`. */
export function keyFields(key: unknown, where: string, problems: string[]): KeyField[] {
  const fields: KeyField[] = [];
  if (!Array.isArray(key) || key.length === 0) {
    problems.push(`${where}: a list of key fields (${KEY_FIELDS.join(", ")})`);
    return fields;
  }
  for (const f of key) {
    if (!(KEY_FIELDS as readonly unknown[]).includes(f)) {
      problems.push(`${where}: unknown field ${JSON.stringify(f)}`);
    } else if (fields.includes(f as KeyField)) problems.push(`${where}: ${f} given twice`);
    else fields.push(f as KeyField);
  }
  return fields;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function checkKeys(
  obj: Record<string, unknown>,
  allowed: string[],
  where: string,
  problems: string[],
) {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      problems.push(`${where}: unknown key "${k}" (known: ${allowed.join(", ")})`);
    }
  }
}
