/**
 * Value parsers for what people write as text: durations and sizes. Each returns null instead
 * of throwing, so the schema (schema.ts) reports every problem at once.
 *
 * @module
 */

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

/** An HTTP listen address: "HOST:PORT", "[V6]:PORT" or ":PORT" (127.0.0.1); null when none. */
export function listenAddress(v: unknown): { hostname: string; port: number } | null {
  const m = typeof v === "string"
    ? /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s\[\]]*)):(\d{1,5})$/.exec(v.trim())
    : null;
  if (m === null || !(Number(m[3]) <= 65535)) return null;
  return { hostname: m[1] ?? (m[2] === "" ? "127.0.0.1" : m[2]!), port: Number(m[3]) };
}
