/**
 * The filter language of the API and the dashboard: one small expression language,
 *
 *     src_ip in 10.0.0.0/8 and dst_port = 443 and proto = tcp
 *     not (port in (53, 5353) or ip = fe80::1) and vlan != 10
 *
 * with `= != < <= > >= in (not in)`, addresses and CIDR blocks, protocol and close-reason
 * names, `and or not` and parentheses. A filter is parsed into a syntax tree whose every field
 * is checked against the fields the queried table has; values are checked and normalised here
 * (an address becomes its range), so the SQL made from it (filter_sql.ts) binds every value as
 * a parameter and never holds the user's text.
 *
 * @example
 * ```ts
 * import { FLOW_FIELDS, parseFilter } from "./filter.ts";
 * const f = parseFilter("dst_port = 443 and src_ip in 10.0.0.0/8", FLOW_FIELDS);
 * console.log(f?.op); // "and"
 * ```
 *
 * @module
 */

import { FilterError } from "./_filter_error.ts";
import { type Token, tokenize } from "./_lexer.ts";
import { type FieldKind, FLOW_FIELDS, parseValue, type Value } from "./_fields.ts";

export { FilterError };
export {
  type FieldKind,
  type FieldSet,
  FLOW_FIELDS,
  RECORD_FIELDS,
  type Value,
} from "./_fields.ts";
export { FILTER_CHARS_MAX } from "./_lexer.ts";

/** Parentheses and `not`s nested deeper than this are refused (no unbounded recursion). */
export const FILTER_DEPTH_MAX = 32;
/** Values in one `in (…)` list. */
export const FILTER_LIST_MAX = 1024;

export type Comparison = "=" | "!=" | "<" | "<=" | ">" | ">=";

export type Filter =
  | { op: "and" | "or"; args: Filter[] }
  | { op: "not"; arg: Filter }
  | { op: "cmp"; field: string; kind: FieldKind; cmp: Comparison; value: Value }
  | { op: "in"; field: string; kind: FieldKind; values: Value[]; negated: boolean };

/** Parses `text` for a table with `fields`; null for an empty filter (everything). */
export function parseFilter(
  text: string,
  fields: ReadonlyMap<string, FieldKind> = FLOW_FIELDS,
): Filter | null {
  const p = new Parser(tokenize(text), fields);
  if (p.peek().kind === "end") return null;
  const f = p.expression(0);
  const t = p.peek();
  if (t.kind !== "end") throw new FilterError(`unexpected "${t.text}"`, t.at);
  return f;
}

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly fields: ReadonlyMap<string, FieldKind>,
  ) {}

  peek(): Token {
    return this.tokens[this.i]!;
  }

  private next(): Token {
    return this.tokens[this.i++]!;
  }

  private keyword(word: string): boolean {
    const t = this.peek();
    if (t.kind !== "word" || t.text.toLowerCase() !== word) return false;
    this.i++;
    return true;
  }

  /** or-terms of and-terms, read in loops: only parentheses and `not` recurse. */
  expression(depth: number): Filter {
    const ors: Filter[] = [];
    do {
      const ands: Filter[] = [];
      do ands.push(this.unary(depth)); while (this.keyword("and"));
      ors.push(ands.length === 1 ? ands[0]! : { op: "and", args: ands });
    } while (this.keyword("or"));
    return ors.length === 1 ? ors[0]! : { op: "or", args: ors };
  }

  private unary(depth: number): Filter {
    const t = this.peek();
    if (depth >= FILTER_DEPTH_MAX && (t.kind === "(" || isWord(t, "not"))) {
      throw new FilterError(`nested more than ${FILTER_DEPTH_MAX} deep`, t.at);
    }
    if (this.keyword("not")) return { op: "not", arg: this.unary(depth + 1) };
    if (t.kind === "(") {
      this.i++;
      const f = this.expression(depth + 1);
      const close = this.next();
      if (close.kind !== ")") throw new FilterError(`expected ")" ${found(close)}`, close.at);
      return f;
    }
    return this.comparison();
  }

  private comparison(): Filter {
    const f = this.next();
    if (f.kind !== "word") throw new FilterError(`expected a field name ${found(f)}`, f.at);
    const field = f.text.toLowerCase();
    const kind = this.fields.get(field);
    if (kind === undefined) {
      throw new FilterError(
        `unknown field "${f.text}" (known: ${[...this.fields.keys()].join(", ")})`,
        f.at,
      );
    }
    const negated = this.keyword("not");
    if (negated || isWord(this.peek(), "in")) {
      if (!this.keyword("in")) throw new FilterError(`expected "in" after "not"`, this.peek().at);
      return { op: "in", field, kind, values: this.list(kind), negated };
    }
    const op = this.next();
    if (op.kind !== "op") {
      throw new FilterError(
        `expected an operator (= != < <= > >= in) after "${f.text}" ${found(op)}`,
        op.at,
      );
    }
    const cmp = op.text as Comparison;
    if ((kind === "ip" || kind === "close_reason") && cmp !== "=" && cmp !== "!=") {
      throw new FilterError(`"${cmp}" does not apply to ${f.text}: use = != in`, op.at);
    }
    return { op: "cmp", field, kind, cmp, value: this.value(kind) };
  }

  /** `in VALUE` or `in (VALUE, …)`. */
  private list(kind: FieldKind): Value[] {
    if (this.peek().kind !== "(") return [this.value(kind)];
    this.i++;
    const values: Value[] = [];
    for (;;) {
      if (values.length === FILTER_LIST_MAX) {
        throw new FilterError(`more than ${FILTER_LIST_MAX} values in one list`, this.peek().at);
      }
      values.push(this.value(kind));
      const t = this.next();
      if (t.kind === ")") return values;
      if (t.kind !== ",") throw new FilterError(`expected "," or ")" ${found(t)}`, t.at);
    }
  }

  private value(kind: FieldKind): Value {
    const t = this.next();
    if (t.kind !== "word" && t.kind !== "number" && t.kind !== "address") {
      throw new FilterError(`expected a value ${found(t)}`, t.at);
    }
    const v = parseValue(kind, t.text);
    if (typeof v === "string") throw new FilterError(v, t.at);
    return v;
  }
}

function isWord(t: Token, word: string): boolean {
  return t.kind === "word" && t.text.toLowerCase() === word;
}

function found(t: Token): string {
  return t.kind === "end" ? "at the end" : `before "${t.text}"`;
}
