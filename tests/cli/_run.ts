/**
 * Runs `netspectra` as a user does — a separate `deno run` process with the task's store
 * permissions — in `cwd`, and returns its exit code and output.
 */

export const MAIN = new URL("../../main.ts", import.meta.url).pathname;
export const PERMS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
  "--allow-net=127.0.0.1",
];

export async function runCli(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, MAIN, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A `netspectra` process started in the background, and what its log said up to a line. */
export interface Started {
  child: Deno.ChildProcess;
  /** The first group of `pattern`'s match (e.g. the URL it listens on). */
  found: string;
  /** stderr up to that line. */
  said: string;
}

/**
 * Starts `netspectra ARGS` in `cwd` and waits (60 s at most) for `pattern` on its stderr, which
 * is drained from then on so the child never blocks on a full pipe. `prefix`: a command that
 * runs it (e.g. `ip netns exec NS`).
 */
export async function startCli(
  args: string[],
  cwd: string,
  pattern: RegExp,
  prefix: string[] = [],
): Promise<Started> {
  const cmd = [...prefix, Deno.execPath(), "run", ...PERMS, MAIN, ...args];
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    cwd,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    said += value;
    const m = pattern.exec(said);
    if (m) {
      (async () => {
        while (!(await reader.read()).done) { /* drain */ }
      })();
      return { child, found: m[1]!, said };
    }
  }
  child.kill("SIGKILL");
  await child.status;
  throw new Error(`netspectra ${args[0]}: no line matching ${pattern}: ${said}`);
}

/** The "listening" line of run's JSON log. */
export const RUN_LISTENING = /"msg":"listening","url":"([^"]+)"/;

/** run replaying g.pcap at its pace with 1 s windows into r.duckdb, HTTP on a free port. */
export const REPLAY_RUN_ARGS = [
  "run",
  "--replay",
  "g.pcap",
  "--speed",
  "1",
  "--window",
  "1s",
  "--db",
  "r.duckdb",
  "--listen",
  "127.0.0.1:0",
];
