/**
 * The collector's HTTP server: Hono on Deno.serve, on 127.0.0.1 unless told otherwise
 * with a limit on request bodies.
 *
 * @module
 */

import type { Hono } from "hono";
import { UserError } from "../collector/user_error.ts";
import { listenAddress } from "../collector/config/mod.ts";

export const LISTEN_DEFAULT = "127.0.0.1:9470";

export interface Listen {
  hostname: string;
  port: number;
}

/** "HOST:PORT", "[V6]:PORT" or ":PORT" (127.0.0.1); port 0 picks a free one. */
export function parseListen(text: string): Listen {
  const a = listenAddress(text);
  if (a === null) {
    throw new UserError(
      `Invalid listen address "${text}": give HOST:PORT, e.g. ${LISTEN_DEFAULT} (port 0: any free).`,
    );
  }
  return a;
}

export interface Server {
  /** Where it listens (the port chosen when 0 was asked). */
  readonly hostname: string;
  readonly port: number;
  close(): Promise<void>;
}

/** A certificate and its private key, PEM text. */
export interface Tls {
  cert: string;
  key: string;
}

/** Whether `hostname` is this machine only (127.0.0.0/8, ::1, localhost). */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** Serves `app` at `listen` (HTTPS with `tls`); a port in use or an address not here is a UserError. */
export function serve(app: Hono, listen: Listen, tls: Tls | null = null): Server {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: listen.hostname,
      port: listen.port,
      onListen: () => {},
      ...(tls === null ? {} : { cert: tls.cert, key: tls.key }),
    }, app.fetch);
  } catch (e) {
    if (tls !== null && !(e instanceof Deno.errors.AddrInUse)) {
      throw new UserError(
        `Cannot serve HTTPS with the certificate and key given: ${(e as Error).message}.`,
      );
    }
    if (e instanceof Deno.errors.AddrInUse || e instanceof Deno.errors.AddrNotAvailable) {
      throw new UserError(
        `Cannot listen on ${listen.hostname}:${listen.port}: ${(e as Error).message}.`,
      );
    }
    throw e;
  }
  return {
    hostname: server.addr.hostname,
    port: server.addr.port,
    close: () => server.shutdown(),
  };
}
