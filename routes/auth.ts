/**
 * Who may ask: bearer tokens with a scope, `read` or `admin`, that the configuration
 * holds only as SHA-256 hashes; browsers log in once by posting a token and then carry an
 * HttpOnly, SameSite=Strict session cookie (so the page's scripts never hold the token).
 * Tokens are never taken from URLs, where they would end up in logs and browser history.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import type { ApiToken } from "../collector/config/mod.ts";
import { problem } from "./_problem.ts";

export type Scope = "read" | "admin";

/** Query parameters a client might put a token in: refused, never read. */
const TOKEN_PARAMS = ["token", "access_token", "api_key", "apikey", "auth", "bearer", "key"];
export const SESSION_COOKIE = "netspectra_session";
export const SESSION_SEC = 12 * 3600;
/** Sessions held at once; the oldest goes first (a bounded map, not a leak). */
export const SESSIONS_MAX = 1024;

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** A fresh random token (256 bits, hex). */
export function newToken(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(32)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

export class Auth {
  private hashes: { scope: Scope; hash: Uint8Array }[] = [];
  private readonly sessions = new Map<string, { scope: Scope; untilMs: number }>();

  constructor(tokens: readonly ApiToken[]) {
    this.setTokens(tokens);
  }

  /** The tokens from now on (a configuration read again); every session logs in anew. */
  setTokens(tokens: readonly ApiToken[]): void {
    this.hashes = tokens.map((t) => ({ scope: t.scope, hash: hexBytes(t.sha256) }));
    this.sessions.clear();
  }

  /** The scope `token` gives, or null; compared in time that does not depend on the bytes. */
  scopeOf(token: string): Scope | null {
    const h = createHash("sha256").update(token).digest();
    let scope: Scope | null = null;
    for (const t of this.hashes) {
      if (timingSafeEqual(h, t.hash) && scope !== "admin") scope = t.scope;
    }
    return scope;
  }

  /** A session for a valid token (its id for the cookie), or null. */
  login(token: string): { id: string; scope: Scope } | null {
    const scope = this.scopeOf(token);
    if (scope === null) return null;
    if (this.sessions.size >= SESSIONS_MAX) {
      this.sessions.delete(this.sessions.keys().next().value!);
    }
    const id = newToken();
    this.sessions.set(id, { scope, untilMs: Date.now() + SESSION_SEC * 1000 });
    return { id, scope };
  }

  logout(id: string): void {
    this.sessions.delete(id);
  }

  sessionScope(id: string): Scope | null {
    const s = this.sessions.get(id);
    if (s === undefined) return null;
    if (s.untilMs < Date.now()) {
      this.sessions.delete(id);
      return null;
    }
    return s.scope;
  }

  /** The scope of a request: its bearer token, else its session cookie. */
  scopeOfRequest(c: Context): Scope | null {
    const auth = c.req.header("authorization");
    if (auth !== undefined) return auth.startsWith("Bearer ") ? this.scopeOf(auth.slice(7)) : null;
    const id = getCookie(c, SESSION_COOKIE);
    return id === undefined ? null : this.sessionScope(id);
  }
}

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!.map((b) => parseInt(b, 16)));
}

/**
 * Guards a group of routes: a token in the URL is refused (400), no valid credentials is 401,
 * a read token on an admin route 403. `public` paths (login, the OpenAPI document) pass.
 */
export function requireScope(
  auth: Auth,
  adminOnly: (path: string) => boolean,
  isPublic: (path: string) => boolean,
): MiddlewareHandler<{ Variables: { scope: Scope } }> {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const leaked = TOKEN_PARAMS.find((p) => url.searchParams.has(p));
    if (leaked !== undefined) {
      return problem(
        c,
        400,
        `Tokens are not taken in URLs ("${leaked}" was given): send the header ` +
          `"Authorization: Bearer TOKEN", or log in at /api/v1/login for a cookie.`,
      );
    }
    if (isPublic(url.pathname)) return await next();
    const scope = auth.scopeOfRequest(c);
    if (scope === null) {
      return problem(c, 401, 'A valid token is needed: send "Authorization: Bearer TOKEN".', {}, {
        "www-authenticate": 'Bearer realm="netspectra"',
      });
    }
    if (adminOnly(url.pathname) && scope !== "admin") {
      return problem(c, 403, "This needs a token of scope admin; the one given is read only.");
    }
    c.set("scope", scope);
    await next();
  };
}
