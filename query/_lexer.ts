/**
 * The filter language's tokens: words (field names, keywords, names such as `tcp`), numbers,
 * addresses with an optional prefix length, operators, parentheses and commas. Each token
 * keeps its offset so an error can say where the text is wrong.
 *
 * @module
 */

import { FilterError } from "./_filter_error.ts";

export type TokenKind = "word" | "number" | "address" | "op" | "(" | ")" | "," | "end";

export interface Token {
  kind: TokenKind;
  text: string;
  /** Offset of the token's first character in the filter text. */
  at: number;
}

/** A filter longer than this is refused before it is read (a filter is typed by a person). */
export const FILTER_CHARS_MAX = 4096;

const OPS = ["!=", "<=", ">=", "=", "<", ">"];
/** A number, an IPv4 or IPv6 address, maybe with /prefix: checked for real by the parser. */
const ADDRESS = /^[0-9a-fA-F:.]*[:.][0-9a-fA-F:.]*(\/\d{1,3})?/;
const NUMBER = /^\d+(\.\d+)?/;
const WORD = /^[A-Za-z_][A-Za-z0-9_-]*/;

export function tokenize(text: string): Token[] {
  if (text.length > FILTER_CHARS_MAX) {
    throw new FilterError(`the filter is over ${FILTER_CHARS_MAX} characters`, 0);
  }
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    const rest = text.slice(i);
    const t = single(c, i) ?? operator(rest, i) ?? literal(rest, i);
    if (t === null) throw new FilterError(`unexpected character "${c}"`, i);
    out.push(t);
    i += t.text.length;
  }
  out.push({ kind: "end", text: "", at: text.length });
  return out;
}

function single(c: string, at: number): Token | null {
  return c === "(" || c === ")" || c === "," ? { kind: c, text: c, at } : null;
}

function operator(rest: string, at: number): Token | null {
  const op = OPS.find((o) => rest.startsWith(o));
  return op === undefined ? null : { kind: "op", text: op, at };
}

function literal(rest: string, at: number): Token | null {
  // An address before a word: "fe80::1" and "abcd::" start like words.
  const a = ADDRESS.exec(rest);
  if (a !== null && /[0-9]/.test(a[0]) || a !== null && a[0].includes("::")) {
    // "1.5" is a number with a fraction, not an address.
    if (!/^\d+\.\d+$/.test(a[0])) return { kind: "address", text: a[0], at };
  }
  const n = NUMBER.exec(rest);
  if (n !== null) return { kind: "number", text: n[0], at };
  const w = WORD.exec(rest);
  if (w !== null) return { kind: "word", text: w[0], at };
  return null;
}
