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
import { type QueryContext, RangeViews } from "../query/mod.ts";
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
  /** The store's range views (query/range_views.ts); a new set when not given. */
  views?: RangeViews;
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

/** Answers kept at once, and the largest kept (bytes). */
export const CACHE_ENTRIES_MAX = 64;
export const CACHE_BODY_BYTES_MAX = 1 << 20;

interface Cached {
  commits: number;
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

/**
 * Runs one question of the store on a reader connection, within the limit of questions. A
 * GET's answer is kept until the store commits another window: the store is the same until
 * then, relative times included (they count back from the newest window), so the answer is
 * too — a dashboard reloading, or many looking at one range, ask DuckDB once a window.
 */
export class Questions {
  private running = 0;
  /** Windows committed since start: an answer is good while this has not moved. */
  private commits = 0;
  private readonly cache = new Map<string, Cached>();
  /** What questions share until the next commit (QueryContext.memo): a new map at each. */
  private memo = new Map<string, Promise<unknown>>();
  /** Range views (query/range_views.ts): kept across commits, each checked before use. */
  private readonly views: RangeViews;

  constructor(private readonly deps: ApiDeps) {
    this.views = deps.views ?? new RangeViews();
    deps.store.onCommit.add(() => {
      this.commits++;
      this.cache.clear();
      this.memo = new Map();
    });
  }

  /**
   * The answer is a plain Response (json, csv, ndjson or a problem), typed `never` for
   * OpenAPIHono, which would otherwise want each handler's typed JSON. `cacheable`: a GET whose
   * answer depends on the store alone.
   */
  ask(
    c: Context,
    fn: (ctx: QueryContext) => Promise<Response>,
    cacheable = c.req.method === "GET",
  ): Promise<never> {
    return (cacheable ? this.cached(c, fn) : this.run(c, fn)) as Promise<never>;
  }

  private async cached(
    c: Context,
    fn: (ctx: QueryContext) => Promise<Response>,
  ): Promise<Response> {
    const key = c.req.url;
    const hit = this.cache.get(key);
    if (hit !== undefined && hit.commits === this.commits) {
      return new Response(hit.body.slice(), {
        status: hit.status,
        headers: [...hit.headers, ["x-netspectra-cache", "hit"]],
      });
    }
    const commits = this.commits;
    const res = await this.run(c, fn);
    if (res.status !== 200) return res;
    const body = new Uint8Array(await res.arrayBuffer());
    const headers = [...res.headers.entries()];
    if (body.length <= CACHE_BODY_BYTES_MAX && commits === this.commits) {
      if (this.cache.size >= CACHE_ENTRIES_MAX) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, { commits, status: res.status, headers, body });
    }
    return new Response(body, {
      status: res.status,
      headers: [...headers, ["x-netspectra-cache", "miss"]],
    });
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
    // Taken before the connection: a commit between the two leaves what this question
    // learns in a map no later question reads.
    const memo = this.memo;
    const con = await this.deps.store.readerConnection();
    try {
      return await fn({ con, timeoutMs: this.deps.queryTimeoutMs, memo, views: this.views });
    } catch (e) {
      return problemOf(c, e, this.deps.log);
    } finally {
      con.closeSync();
      this.running--;
    }
  }
}
