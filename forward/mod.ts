/**
 * Forwarding closed windows to central databases, exactly once (issue 15): the store's outbox
 * (storage/_outbox.ts) is the spool, a Forwarder per process sends it, a sink per database.
 * See README.md here for the design and the central tables.
 *
 * @module
 */

import type { SinkConfig } from "../collector/config/mod.ts";
import type { Store } from "../storage/mod.ts";
import type { CollectorStatus } from "../collector/ingest/mod.ts";
import { ClickHouseSink, sinkPassword, sinkTls } from "./clickhouse.ts";
import { Forwarder, type ForwardLog } from "./forwarder.ts";

export {
  batchIdOf,
  ClickHouseSink,
  dayIn,
  insertSettings,
  prefixLines,
  type ServerFeatures,
  tableDdl,
} from "./clickhouse.ts";
export {
  BACKOFF_MAX_MS,
  BACKOFF_MIN_MS,
  Forwarder,
  type ForwardLog,
  nextBatch,
} from "./forwarder.ts";

/**
 * Names `sinks` in the store (windows written from now on are queued for them) and starts
 * forwarding to them. Passwords and TLS files are read first: a missing one is the user's
 * mistake.
 */
export async function startForwarding(
  store: Store,
  sinks: readonly SinkConfig[],
  log: ForwardLog,
  status: CollectorStatus | null = null,
): Promise<Forwarder> {
  const made: ClickHouseSink[] = [];
  for (const s of sinks) made.push(new ClickHouseSink(s, await sinkPassword(s), await sinkTls(s)));
  await store.nameSinks(sinks.map((s) => s.name));
  const f = new Forwarder(store, made, log, status);
  f.start();
  return f;
}
