/**
 * main's error reporting: a user's mistake is one line (exit 1, or 2 for usage), a bug is an
 * internal error with its stack (exit 70), never dressed up as the user's mistake.
 *
 * @module
 */

import assert from "node:assert/strict";
import { EXIT_INTERNAL, main, reportError } from "../../main.ts";
import { UsageError, UserError } from "../../collector/user_error.ts";
import { PcapFormatError } from "../../collector/reader/mod.ts";

/** Runs `fn` with console.error captured; returns what it printed. */
function captured(fn: () => number): { code: number; text: string } {
  const lines: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    return { code: fn(), text: lines.join("\n") };
  } finally {
    console.error = orig;
  }
}

Deno.test("reportError: user mistakes one line with their exit code, bugs are internal errors", () => {
  const cases: [unknown, number, RegExp][] = [
    [new UsageError("analyze: --x must be y"), 2, /^netspectra: analyze: --x must be y$/],
    [new UserError("Cannot read a.pcap: it is a directory"), 1, /^netspectra: Cannot read/],
    [new PcapFormatError("Cannot read x.pcap: unknown magic 0x1", 0), 1, /^netspectra: Cannot/],
    [new TypeError("x.y is not a function"), EXIT_INTERNAL, /^netspectra: internal error: x\.y/],
    [new RangeError("Invalid array length"), EXIT_INTERNAL, /^netspectra: internal error: /],
    [new Error("IO Error: No space left on device"), 1, /no space left on device/],
  ];
  for (const [e, code, pattern] of cases) {
    const r = captured(() => reportError(e));
    assert.equal(r.code, code, String(e));
    assert.match(r.text, pattern);
    const internal = code === EXIT_INTERNAL;
    assert.equal(r.text.split("\n").length > 1, internal, `stack only for bugs: ${r.text}`);
  }
});

Deno.test("COMMAND --help and help COMMAND print that command's usage, exit 0", async () => {
  const cases: [string[], RegExp][] = [
    [["run", "--help"], /^usage: netspectra run \[--config FILE\]/],
    [["run", "--interface", "lo", "-h"], /^usage: netspectra run /],
    [["analyze", "--help"], /^usage: netspectra analyze FILE/],
    [["help", "sql"], /^usage: netspectra sql /],
    [["help", "gen"], /^usage: netspectra gen /],
  ];
  for (const [argv, re] of cases) {
    const out: string[] = [];
    const orig = console.log;
    console.log = (...a: unknown[]) => void out.push(a.join(" "));
    try {
      assert.equal(await main(argv), 0, argv.join(" "));
    } finally {
      console.log = orig;
    }
    assert.match(out.join("\n"), re, argv.join(" "));
  }
});
