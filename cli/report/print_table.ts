/**
 * The one table printer of the CLI: columns padded to their widest cell, numbers
 * right-aligned, text left-aligned. Widths are found with a loop, never a spread, so a table
 * of a million rows prints like one of ten.
 *
 * @module
 */

/** `head` and `rows` (cells as text) as aligned lines; `numeric[c]` right-aligns column c. */
export function alignRows(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  numeric: readonly boolean[],
  indent = "",
): string[] {
  const widths = head.map((h) => h.length);
  for (const r of rows) {
    for (let c = 0; c < widths.length; c++) {
      const n = r[c]?.length ?? 0;
      if (n > widths[c]!) widths[c] = n;
    }
  }
  const line = (r: readonly string[]) =>
    indent +
    r.map((v, c) => numeric[c] ? v.padStart(widths[c]!) : v.padEnd(widths[c]!)).join("  ")
      .trimEnd();
  const out = [line(head)];
  for (const r of rows) out.push(line(r));
  return out;
}
