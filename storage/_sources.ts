/**
 * Sources: each input (a capture file, later an interface) is one, under its identity; a
 * finishing source replaces earlier ones of the same identity (or of a prefix of it), a failed
 * one is removed whole, and file sources a killed process left unfinished are removed at the
 * next open.
 *
 * @module
 */

import { dropSourceExports } from "./_outbox.ts";
import type { SketchSpec, TaskSpec } from "../collector/engine/mod.ts";
import type { Db } from "./_db.ts";
import { rollCompleteHours, unrollHoursWhere } from "./_rollup.ts";
import { WINDOW_TABLES } from "./_retention.ts";

/** Tables with rows per source (deleted when a source is ingested again). */
const SOURCE_TABLES = [...WINDOW_TABLES, "flow_records", "tasks", "sources"];

/** A sketch task's options as stored in tasks.params: only those its kind uses. */
function sketchParams(
  kind: SketchSpec["kind"],
  p: Omit<SketchSpec, "name" | "kind" | "key">,
): Record<string, unknown> {
  const out: Record<string, unknown> = { filter: p.filter };
  if (kind !== "distinct") out.memory_bytes = p.memoryBytes;
  if (kind === "heavy_hitters") out.by = p.by, out.top = p.top;
  if (kind === "count_min") out.by = p.by, out.conservative = p.conservative;
  if (kind === "distinct") out.precision = p.precision;
  if (kind === "spread") out.element = p.element.join(","), out.threshold = p.threshold;
  return out;
}

/** The store file is held by another process (DuckDB allows one writer). */

/**
 * Starts a source and returns its number. It is stored under a provisional id until
 * {@link finishSource} gives it its identity (a capture's content fingerprint is known only
 * once it has been read whole); an unfinished file source is removed at the next open.
 */
export async function beginSource(
  db: Db,
  inputs: string,
  windowSec: number,
  tasks: readonly TaskSpec[],
  sketches: readonly SketchSpec[] = [],
  sensor = "",
  kind = "file",
): Promise<number> {
  return await db.transaction(async () => {
    const next = await db.query("SELECT coalesce(max(source_no), 0) + 1 AS n FROM sources");
    const sourceNo = Number(next[0]!.n);
    await db.con.run(
      "INSERT INTO sources (source_no, source_id, inputs, window_sec, started_at, sensor_id, kind) VALUES ($1, $2, $3, $4, make_timestamp(epoch_us(now())), $5, $6)",
      [sourceNo, `unfinished-${crypto.randomUUID()}`, inputs, windowSec, sensor, kind],
    );
    for (let k = 0; k < tasks.length; k++) {
      const t = tasks[k]!;
      await db.con.run("INSERT INTO tasks VALUES ($1, $2, $3, $4, $5, NULL)", [
        sourceNo,
        k,
        t.name,
        t.kind,
        t.key.join(","),
      ]);
    }
    for (let k = 0; k < sketches.length; k++) {
      const { name, kind, key, ...params } = sketches[k]!;
      await db.con.run("INSERT INTO tasks VALUES ($1, $2, $3, $4, $5, $6)", [
        sourceNo,
        tasks.length + k,
        name,
        kind,
        key.join(","),
        JSON.stringify(sketchParams(kind, params)),
      ]);
    }
    return sourceNo;
  });
}

/**
 * The source's run ended whole: it takes its identity `sourceId`, replacing (in the same
 * transaction) whatever an earlier run of the same identity stored, so the same capture
 * analysed again, or twice in one run, is counted once.
 */
export async function finishSource(
  db: Db,
  sourceNo: number,
  done: {
    sourceId: string;
    packets: number;
    warnings: readonly string[];
    /** Length of the content the identity covers. */
    contentBytes?: number;
    /** Identities of earlier sources this one contains (a grown capture's first part). */
    replaces?: readonly string[];
  },
): Promise<void> {
  await db.transaction(async () => {
    for (const id of [done.sourceId, ...done.replaces ?? []]) {
      const old = await db.query(
        "SELECT source_no FROM sources WHERE source_id = $1 AND source_no <> $2",
        [id, sourceNo],
      );
      for (const r of old) await deleteSourceRows(db, Number(r.source_no));
    }
    await db.con.run(
      "UPDATE sources SET source_id = $2, finished_at = make_timestamp(epoch_us(now())), packets = $3, warnings = $4, content_bytes = $5 WHERE source_no = $1",
      [
        sourceNo,
        done.sourceId,
        done.packets,
        done.warnings.join("\n"),
        done.contentBytes === undefined ? null : done.contentBytes,
      ],
    );
  });
  // Hours whose rollup went with a replaced source are rolled up again.
  await rollCompleteHours(db);
}

/** Finished file sources: identity and content length (for recognising grown captures). */
export async function fileSources(
  db: Db,
): Promise<{ sourceId: string; bytes: number }[]> {
  const r = await db.rows(
    "SELECT source_id, content_bytes FROM sources WHERE finished_at IS NOT NULL AND kind = 'file' AND content_bytes IS NOT NULL",
  );
  return r.map((x) => ({ sourceId: String(x.source_id), bytes: Number(x.content_bytes) }));
}

/** A source's run failed: everything it stored goes, so nothing half-made stays. */
export async function abandonSource(
  db: Db,
  sourceNo: number,
): Promise<void> {
  await db.transaction(() => deleteSourceRows(db, sourceNo));
}

async function deleteSourceRows(
  db: Db,
  sourceNo: number,
): Promise<void> {
  await unrollHoursWhere(db, "source_no = $1", [sourceNo]);
  await dropSourceExports(db, sourceNo);
  for (const t of SOURCE_TABLES) {
    await db.con.run(`DELETE FROM ${t} WHERE source_no = $1`, [sourceNo]);
  }
}

/** Removes file sources a killed run left unfinished (their identity was never known). */
export async function removeUnfinished(
  db: Db,
): Promise<number> {
  const left = await db.query(
    "SELECT source_no FROM sources WHERE finished_at IS NULL AND coalesce(kind, 'file') = 'file'",
  );
  if (left.length === 0) return 0;
  await db.transaction(async () => {
    for (const r of left) await deleteSourceRows(db, Number(r.source_no));
  });
  // The hours they shared with other sources lost their rollup: rolled up again.
  await rollCompleteHours(db);
  return left.length;
}
