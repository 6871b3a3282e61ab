/**
 * What every API route shares: the store to ask (a reader connection of its own per
 * question, beside the writer), the limits, and the app type the routes are written on.
 *
 * @module
 */

import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { Store } from "../storage/mod.ts";
import type { CollectorStatus } from "../collector/ingest/mod.ts";
import type { QueryContext } from "../query/mod.ts";
import type { Auth, Scope } from "./auth.ts";
import { problem, problemOf, validationProblem } from "./_problem.ts";

export type ApiEnv = { Variables: { scope: Scope } };

export interface ApiDeps {
  store: Store;
  /** The store's file (what /status reports). */
  storePath: string;
  auth: Auth;
  /** A running collector's status (null for a stored analysis: `serve`). */
  status: CollectorStatus | null;
  /** Each question is interrupted after this long. */
  queryTimeoutMs: number;
  /** Questions of the store running at once; more get 429 (an edge box has 2 cores). */
  queriesMax: number;
  /** Where our own errors go (the daemon's log). */
  log: (e: unknown) => void;
}

/** A routes group: OpenAPIHono whose failed validation is a problem object. */
export function apiApp(): OpenAPIHono<ApiEnv> {
  return new OpenAPIHono<ApiEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return validationProblem(c, result.error.issues);
    },
  });
}

/** Runs one question of the store on a reader connection, within the limit of questions. */
export class Questions {
  private running = 0;
  constructor(private readonly deps: ApiDeps) {}

  /**
   * The answer is a plain Response (json, csv, ndjson or a problem), typed `never` for
   * OpenAPIHono, which would otherwise want each handler's typed JSON.
   */
  ask(c: Context, fn: (ctx: QueryContext) => Promise<Response>): Promise<never> {
    return this.run(c, fn) as Promise<never>;
  }

  private async run(c: Context, fn: (ctx: QueryContext) => Promise<Response>): Promise<Response> {
    if (this.running >= this.deps.queriesMax) {
      return problem(
        c,
        429,
        `${this.deps.queriesMax} questions are running already; ask again in a moment.`,
        {},
        { "retry-after": "1" },
      );
    }
    this.running++;
    const con = await this.deps.store.readerConnection();
    try {
      return await fn({ con, timeoutMs: this.deps.queryTimeoutMs });
    } catch (e) {
      return problemOf(c, e, this.deps.log);
    } finally {
      con.closeSync();
      this.running--;
    }
  }
}
