/**
 * The flags every command that writes windows into a store shares (`analyze`, `run`): the
 * store, the window and its lateness, the sensor id, how long to wait for the store's lock —
 * each from its flag, else the configuration, else the default.
 *
 * @module
 */

import type { Config } from "../collector/config/mod.ts";
import { WINDOW_SEC_MAX } from "../collector/engine/mod.ts";
import { WINDOW_SEC_DEFAULT } from "../collector/ingest/mod.ts";
import { parseCount, type ParsedArgs, parseDbPath, parseDuration, UsageError } from "./args.ts";

/** The store `analyze` and `run` write unless `--db` or the config names another. */
export const DB_DEFAULT = "netspectra.duckdb";

/** How long to wait for another process to release the store before giving up. */
export const DB_WAIT_SEC_DEFAULT = 30;

/** The value flags storeFlags reads. */
export const STORE_FLAGS = ["db", "window", "lateness", "sensor", "db-wait"] as const;

export interface StoreFlags {
  dbPath: string;
  windowSec: number;
  /** Undefined: the engine's default. */
  latenessSec?: number;
  /** Undefined: the host name. */
  sensor?: string;
  waitSec: number;
}

export function storeFlags(args: ParsedArgs, cfg: Config | null, command: string): StoreFlags {
  const dbPath = parseDbPath(args.values.get("db")) ?? cfg?.store.path ?? DB_DEFAULT;
  const windowText = args.values.get("window");
  const windowSec = windowText === undefined
    ? cfg?.windowSec ?? WINDOW_SEC_DEFAULT
    : parseDuration("window", windowText, 1, WINDOW_SEC_MAX);
  const latenessText = args.values.get("lateness");
  const latenessSec = latenessText === undefined
    ? cfg?.latenessSec
    : parseDuration("lateness", latenessText, 0, 7 * windowSec);
  if (latenessSec !== undefined && latenessSec > 7 * windowSec) {
    throw new UsageError(`${command}: the lateness may be at most 7 windows (${7 * windowSec}s)`);
  }
  const sensor = args.values.get("sensor") ?? cfg?.sensor;
  if (sensor !== undefined && (sensor.length === 0 || sensor.length > 128)) {
    throw new UsageError(`${command}: --sensor needs a name of 1 to 128 characters`);
  }
  const waitSec = parseDuration(
    "db-wait",
    args.values.get("db-wait") ?? `${DB_WAIT_SEC_DEFAULT}s`,
    0,
    3600,
  );
  return { dbPath, windowSec, latenessSec, sensor, waitSec };
}

export interface Retention {
  maxAgeSec?: number;
  maxBytes?: number;
}

/** Retention from --retain / --retain-bytes, else the configuration's (none by default). */
export function retentionOf(args: ParsedArgs, cfg: Config | null): Retention {
  const age = args.values.get("retain"), size = args.values.get("retain-bytes");
  return {
    maxAgeSec: age === undefined
      ? cfg?.store.retention.maxAgeSec
      : parseDuration("retain", age, 1, 100 * 365 * 86400),
    maxBytes: size === undefined
      ? cfg?.store.retention.maxBytes
      : parseCount("retain-bytes", size, 1, 1e15),
  };
}
