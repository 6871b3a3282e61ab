/**
 * Who may use the API, decided at start, and `netspectra token`. Tokens come from the
 * configuration (`http.tokens`, hashed). With none there, the server is still closed: an admin
 * token is made at first start and kept beside the store in FILE.token, readable by its owner
 * only, and said once where (as Jupyter does); and it then refuses an address that is not
 * loopback. TLS certificate and key files are read here too.
 *
 * @module
 */

import type { ApiToken } from "../collector/config/mod.ts";
import { UserError } from "../collector/user_error.ts";
import { Auth, isLoopback, type Listen, newToken, sha256Hex, type Tls } from "../routes/mod.ts";
import { parseArgs, UsageError } from "./args.ts";

export const TOKEN_USAGE = `netspectra token [--scope read|admin] [--name NAME]
  make an API token: prints it once, and the entry for the configuration's http.tokens
  (only its SHA-256 is kept there)`;

export function tokenFilePath(dbPath: string): string {
  return `${dbPath}.token`;
}

export interface AccessOptions {
  tokens: readonly ApiToken[];
  tls?: { certFile: string; keyFile: string };
  dbPath: string;
  listen: Listen;
  /** Says something once (the daemon's log, or stderr). */
  say: (msg: string, fields: Record<string, unknown>) => void;
}

export async function apiAccess(o: AccessOptions): Promise<{ auth: Auth; tls: Tls | null }> {
  const tls = o.tls === undefined ? null : {
    cert: await readPem(o.tls.certFile, "certificate"),
    key: await readPem(o.tls.keyFile, "private key"),
  };
  if (o.tokens.length > 0) return { auth: new Auth(o.tokens), tls };
  if (!isLoopback(o.listen.hostname)) {
    throw new UserError(
      `Listening on ${o.listen.hostname}:${o.listen.port} needs API tokens in the configuration ` +
        `(http.tokens; make one with: netspectra token); without any, only 127.0.0.1 is served`,
    );
  }
  const token = await firstStartToken(o.dbPath, o.say);
  return {
    auth: new Auth([{ name: "first-start", scope: "admin", sha256: sha256Hex(token) }]),
    tls,
  };
}

/** The admin token kept beside the store: read, or made once (mode 0600). */
async function firstStartToken(
  dbPath: string,
  say: AccessOptions["say"],
): Promise<string> {
  if (dbPath === ":memory:") {
    const token = newToken();
    say("an admin token for this run's API (nothing is kept)", { token });
    return token;
  }
  const path = tokenFilePath(dbPath);
  try {
    const st = await Deno.stat(path);
    if (st.mode !== null && (st.mode & 0o077) !== 0) {
      throw new UserError(
        `${path} can be read by others (mode ${(st.mode & 0o777).toString(8)}): ` +
          `chmod 600 it, or remove it for a new token`,
      );
    }
    const token = (await Deno.readTextFile(path)).trim();
    if (!/^[0-9a-f]{64}$/.test(token)) {
      throw new UserError(`${path} holds no token: remove it for a new one`);
    }
    return token;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const token = newToken();
  try {
    await Deno.writeTextFile(path, token + "\n", { mode: 0o600, createNew: true });
  } catch (e) {
    // Another process made it first: use that one.
    if (e instanceof Deno.errors.AlreadyExists) return await firstStartToken(dbPath, say);
    throw e;
  }
  await Deno.chmod(path, 0o600); // the umask may have taken bits the mode asked for
  say("an admin token for the API was written (readable by its owner only)", { file: path });
  return token;
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    const text = await Deno.readTextFile(file);
    if (!text.includes("-----BEGIN")) throw new UserError(`${file} is not a PEM ${what}`);
    return text;
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`Cannot read the TLS ${what} ${file}: ${(e as Error).message}`);
  }
}

export function tokenCommand(argv: readonly string[]): number {
  const args = parseArgs(argv, { values: ["scope", "name"], booleans: [] }, "token");
  if (args.positionals.length > 0) throw new UsageError("token: takes no arguments");
  const scope = args.values.get("scope") ?? "read";
  if (scope !== "read" && scope !== "admin") {
    throw new UsageError(`token: --scope must be read or admin, got "${scope}"`);
  }
  const name = args.values.get("name") ?? `${scope}-${new Date().toISOString().slice(0, 10)}`;
  if (!/^[\w.-]{1,64}$/.test(name)) {
    throw new UsageError("token: --name must be 1-64 letters, digits, _ . or -");
  }
  const token = newToken();
  console.log(`${token}

Give it as the header "Authorization: Bearer ${token.slice(0, 8)}…", or log in with it in the
dashboard. It is shown only now; the configuration keeps its hash. Add to http.tokens:

    - name: ${name}
      scope: ${scope}
      sha256: ${sha256Hex(token)}`);
  return 0;
}
