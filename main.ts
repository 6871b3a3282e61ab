/**
 * NetSpectra command line: wiring only. Each command lives in cli/.
 *
 * @module
 */

import { ANALYZE_USAGE, analyzeCommand } from "./cli/analyze_cmd.ts";
import { UsageError } from "./cli/args.ts";
import { DEMO_USAGE, demoCommand } from "./cli/demo_cmd.ts";
import { GEN_USAGE, genCommand } from "./cli/gen_cmd.ts";
import { SQL_USAGE, sqlCommand } from "./cli/sql_cmd.ts";
import { ESTIMATE_USAGE, estimateCommand } from "./cli/estimate_cmd.ts";

export const VERSION = "0.1.0";

const USAGE = `NetSpectra ${VERSION} — network traffic analytics

usage:
  ${ANALYZE_USAGE.replaceAll("\n", "\n  ")}

  ${GEN_USAGE.replaceAll("\n", "\n  ")}

  ${SQL_USAGE.replaceAll("\n", "\n  ")}

  ${ESTIMATE_USAGE.replaceAll("\n", "\n  ")}

  ${DEMO_USAGE.replaceAll("\n", "\n  ")}

  netspectra help | version`;

/** Runs one command line; returns the exit code. User mistakes become one line on stderr. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "analyze":
        return await analyzeCommand(rest);
      case "gen":
        return await genCommand(rest);
      case "sql":
        return await sqlCommand(rest);
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

function reportError(e: unknown): number {
  if (e instanceof UsageError) {
    console.error(`netspectra: ${e.message}`);
    return 2;
  }
  // PcapFormatError and ConfigError are SyntaxErrors: a bad input file, not a bug.
  if (e instanceof SyntaxError || e instanceof TypeError || e instanceof RangeError) {
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
  throw e;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
