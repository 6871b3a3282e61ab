/**
 * A small flag parser: `--name value`, `--name=value`, boolean flags, positionals, and one
 * UsageError listing every problem at once.
 *
 * @module
 */

import { parseSeconds } from "../collector/config/mod.ts";
import { UsageError } from "../collector/user_error.ts";

export { UsageError };

export interface FlagSpec {
  /** Flags that take a value. */
  values: readonly string[];
  /** Flags that are on or off. */
  booleans: readonly string[];
  /** One-letter aliases, e.g. { o: "output" }. */
  aliases?: Record<string, string>;
  /** Value flags that may be given more than once (every value kept, in order, in `lists`). */
  repeated?: readonly string[];
}

export interface ParsedArgs {
  positionals: string[];
  values: Map<string, string>;
  booleans: Set<string>;
  lists: Map<string, string[]>;
}

export function parseArgs(argv: readonly string[], spec: FlagSpec, command: string): ParsedArgs {
  const out: ParsedArgs = {
    positionals: [],
    values: new Map(),
    booleans: new Set(),
    lists: new Map(),
  };
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    // A word with a space is a value (a query starting with a "--" comment), never a flag.
    if (a === "-" || !a.startsWith("-") || /\s/.test(a)) {
      out.positionals.push(a);
      continue;
    }
    let name = a.startsWith("--") ? a.slice(2) : a.slice(1);
    let inline: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) inline = name.slice(eq + 1), name = name.slice(0, eq);
    if (!a.startsWith("--")) name = spec.aliases?.[name] ?? name;
    if (spec.booleans.includes(name)) {
      if (inline !== undefined) problems.push(`--${name} takes no value`);
      out.booleans.add(name);
    } else if (spec.values.includes(name)) {
      const v = inline ?? argv[++i];
      if (v === undefined) problems.push(`--${name} needs a value`);
      else {
        out.values.set(name, v);
        if (spec.repeated?.includes(name)) out.lists.set(name, [...out.lists.get(name) ?? [], v]);
      }
    } else {
      problems.push(`unknown flag ${a}`);
    }
  }
  if (problems.length > 0) {
    throw new UsageError(`${command}: ${problems.join("; ")} (see: netspectra help)`);
  }
  return out;
}

/**
 * Parses a whole-number flag value (accepts 2M, 500k, 1.5k style suffixes; the value itself
 * must be whole: "1.5" is refused, not rounded).
 */
export function parseCount(name: string, text: string, min: number, max: number): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(text.trim());
  const unit = m?.[2]?.toLowerCase();
  const mult = unit === "k" ? 1e3 : unit === "m" ? 1e6 : unit === "g" ? 1e9 : 1;
  // Rounded to 9 digits only to undo binary fractions (1.1k is 1100, not 1100.0000000000002).
  const v = m ? Math.round(Number(m[1]) * mult * 1e9) / 1e9 : NaN;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return v;
}

/** A store path flag: a file name, or ":memory:"; never empty. */
export function parseDbPath(text: string | undefined): string | undefined {
  if (text !== undefined && text.trim() === "") {
    throw new UsageError('--db needs a file name (or ":memory:" to keep nothing)');
  }
  return text;
}

/** Parses a duration like 10s, 5m, 1h, 2d or plain seconds into whole seconds. */
export function parseDuration(name: string, text: string, min: number, max: number): number {
  const v = parseSeconds(text) ?? NaN;
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new UsageError(
      `--${name} must be a duration from ${min}s to ${max}s (e.g. 10s, 5m, 1h), got "${text}"`,
    );
  }
  return v;
}
