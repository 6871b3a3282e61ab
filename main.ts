/**
 * NetSpectra command line: wiring only. Each command lives in cli/.
 *
 * @module
 */

import { ANALYZE_USAGE, analyzeCommand } from "./cli/analyze_cmd.ts";
import { UsageError } from "./cli/args.ts";
import { UserError } from "./collector/user_error.ts";
import { SketchFormatError } from "./sketches/mod.ts";
import { DEMO_USAGE, demoCommand } from "./cli/demo_cmd.ts";
import { GEN_USAGE, genCommand } from "./cli/gen_cmd.ts";
import { SQL_USAGE, sqlCommand } from "./cli/sql_cmd.ts";
import { ESTIMATE_USAGE, estimateCommand } from "./cli/estimate_cmd.ts";
import { RUN_USAGE, runCommand } from "./cli/run_cmd.ts";
import { SERVE_USAGE, serveCommand } from "./cli/serve_cmd.ts";
import { TOKEN_USAGE, tokenCommand } from "./cli/api_access.ts";
import { VERSION } from "./collector/version.ts";
import { EXPORT_USAGE, exportCommand } from "./cli/export_cmd.ts";

export { VERSION };

/** Each command's own usage, for `netspectra COMMAND --help` and `netspectra help COMMAND`. */
const COMMAND_USAGE: Record<string, string> = {
  analyze: ANALYZE_USAGE,
  run: RUN_USAGE,
  serve: SERVE_USAGE,
  gen: GEN_USAGE,
  sql: SQL_USAGE,
  estimate: ESTIMATE_USAGE,
  token: TOKEN_USAGE,
  export: EXPORT_USAGE,
  demo: DEMO_USAGE,
};

const USAGE = `NetSpectra ${VERSION} — network traffic analytics

usage:
${
  Object.values(COMMAND_USAGE).map((u) => `  ${u.replaceAll("\n", "\n  ")}\n\n`).join("")
}  netspectra help | version`;

/** Runs one command line; returns the exit code. User mistakes become one line on stderr. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  // `COMMAND --help` (a flag before any `--`), and `help COMMAND`: that command's usage.
  const flags = rest.indexOf("--") < 0 ? rest : rest.slice(0, rest.indexOf("--"));
  const asked = command === "help"
    ? rest[0]
    : flags.some((a) => a === "--help" || a === "-h")
    ? command
    : undefined;
  if (asked !== undefined && COMMAND_USAGE[asked] !== undefined) {
    console.log(`usage: ${COMMAND_USAGE[asked]}`);
    return 0;
  }
  try {
    switch (command) {
      case "analyze":
        return await analyzeCommand(rest);
      case "run":
        return await runCommand(rest);
      case "gen":
        return await genCommand(rest);
      case "sql":
        return await sqlCommand(rest);
      case "serve":
        return await serveCommand(rest);
      case "token":
        return tokenCommand(rest);
      case "export":
        return await exportCommand(rest);
      case "estimate":
        return await estimateCommand(rest);
      case "demo":
        return await demoCommand(rest);
      case "version":
      case "--version":
        console.log(VERSION);
        return 0;
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}" (see: netspectra help)`);
    }
  } catch (e) {
    return reportError(e);
  }
}

/** Exit code of an internal error (a bug): EX_SOFTWARE of sysexits.h. */
export const EXIT_INTERNAL = 70;

/**
 * User mistakes (UserError and its kinds, files that cannot be opened) become one line and
 * exit 1 (2 for usage); anything else is a bug, reported as such with its stack, exit 70.
 */
export function reportError(e: unknown): number {
  if (e instanceof UsageError) {
    console.error(`netspectra: ${e.message}`);
    return 2;
  }
  if (e instanceof UserError || e instanceof SketchFormatError) {
    console.error(`netspectra: ${e.message}`);
    return 1;
  }
  if (e instanceof Deno.errors.NotFound) {
    // Deno says "No such file or directory (os error 2): open '/x.pcap'": keep the name only.
    const name = /'([^']*)'\s*$/.exec(e.message)?.[1];
    console.error(`netspectra: no such file: ${name ?? e.message}`);
    return 1;
  }
  if (e instanceof Deno.errors.NotCapable) {
    // Run without the permissions the store needs (deno run without --allow-ffi/--allow-write).
    console.error(
      `netspectra: ${e.message.split("\n")[0]} (or run it as: deno task netspectra …)`,
    );
    return 1;
  }
  if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.IsADirectory) {
    console.error(`netspectra: ${e.message}`);
    return 1;
  }
  if (e instanceof Error && e.name === "BrokenPipe") return 0;
  // A full disk is the machine's state, not a bug: one line, nothing half-made left.
  if (e instanceof Error && /No space left on device|disk is full/i.test(e.message)) {
    console.error(`netspectra: cannot write: no space left on device (${firstLine(e)})`);
    return 1;
  }
  return internalError(e);
}

function firstLine(e: Error): string {
  return e.message.split("\n")[0]!;
}

function internalError(e: unknown): number {
  const what = e instanceof Error ? `${firstLine(e)}\n${e.stack ?? ""}` : String(e);
  console.error(`netspectra: internal error: ${what}`);
  return EXIT_INTERNAL;
}

if (import.meta.main) {
  // A promise nobody awaited that failed is a bug: say so plainly, never "Uncaught (in promise)".
  globalThis.addEventListener("unhandledrejection", (ev) => {
    ev.preventDefault();
    Deno.exit(reportError(ev.reason));
  });
  Deno.exit(await main(Deno.args));
}
