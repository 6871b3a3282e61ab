/**
 * How `netspectra sql` reaches a running daemon: `run` writes FILE.daemon.json beside its
 * store (owner-only, 0600: the token in it lets its reader query the store, as the file itself
 * would) and removes it at exit. A contact whose process is gone is ignored.
 *
 * @module
 */

export interface DaemonContact {
  pid: number;
  /** The daemon's HTTP address, e.g. http://127.0.0.1:9470/ */
  url: string;
  token: string;
  /** With HTTPS: the server's certificate (PEM) to trust for this one connection. */
  cert?: string;
}

export function contactPath(dbPath: string): string {
  return `${dbPath}.daemon.json`;
}

/** Writes this process's contact for the store at `dbPath` (owner-only), replacing any old one. */
export async function writeContact(
  dbPath: string,
  url: string,
  token: string,
  cert?: string,
): Promise<void> {
  const contact: DaemonContact = { pid: Deno.pid, url, token, ...(cert ? { cert } : {}) };
  const path = contactPath(dbPath), tmp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(contact) + "\n", { mode: 0o600 });
  await Deno.chmod(tmp, 0o600);
  await Deno.rename(tmp, path);
}

/** Removes this process's contact (not one a later daemon wrote). */
export async function removeContact(dbPath: string): Promise<void> {
  const c = await readContact(dbPath);
  if (c?.pid === Deno.pid) await Deno.remove(contactPath(dbPath)).catch(() => {});
}

/** The contact a daemon left for the store at `dbPath` (maybe stale), or null. */
export async function readContact(dbPath: string): Promise<DaemonContact | null> {
  let c: Partial<DaemonContact>;
  try {
    c = JSON.parse(await Deno.readTextFile(contactPath(dbPath)));
  } catch {
    return null;
  }
  if (
    typeof c?.pid !== "number" || typeof c.url !== "string" || typeof c.token !== "string" ||
    (c.cert !== undefined && typeof c.cert !== "string")
  ) return null;
  return c as DaemonContact;
}
