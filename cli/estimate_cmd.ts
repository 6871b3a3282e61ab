/**
 * `netspectra estimate --task NAME FIELD=VALUE,…`: point queries on stored Count-Min sketches.
 *
 * The key is hashed exactly as the pipeline hashes it (a one-packet batch through the sketch
 * bank's hashing), then looked up in each stored window's sketch; windows are also merged
 * (a plain sum, which for standard sketches is exactly the sketch of the whole span).
 *
 * @module
 */

import {
  FAMILY_IPV4,
  FAMILY_IPV6,
  FLAG_HAS_PORTS,
  PacketBatch,
  VLAN_NONE,
} from "../collector/packet/mod.ts";
import { parseIp } from "../collector/packet/mod.ts";
import { KEY_FIELDS, type KeyField } from "../collector/packet/mod.ts";
import { laneOfPacket } from "../collector/engine/mod.ts";
import { CountMin } from "../sketches/mod.ts";
import { parseArgs, parseDbPath, parseDuration, UsageError } from "./args.ts";
import { DB_DEFAULT } from "./analyze_cmd.ts";

export const ESTIMATE_USAGE =
  `netspectra estimate --task NAME FIELD=VALUE[,FIELD=VALUE...] [options]
  point query on a count_min task's stored sketches, per window and over all of them
  e.g. netspectra estimate --task dst_packets dst_ip=198.51.100.20
  --db FILE        the store (default ./${DB_DEFAULT})
  --db-wait DUR    wait this long for a process writing the store to finish (default 5s)`;

/** A one-packet batch carrying the key `text` (FIELD=VALUE,...); checks the fields. */
function keyBatch(text: string): { fields: KeyField[]; batch: PacketBatch } {
  const batch = new PacketBatch(1);
  batch.length = 1;
  batch.vlan[0] = VLAN_NONE;
  const fields: KeyField[] = [];
  let family = 0;
  for (const part of text.split(",")) {
    const [f, v] = part.split("=").map((s) => s.trim());
    if (!(KEY_FIELDS as readonly string[]).includes(f ?? "") || v === undefined || v === "") {
      throw new UsageError(
        `estimate: "${part}" is not FIELD=VALUE (fields: ${KEY_FIELDS.join(", ")})`,
      );
    }
    const field = f as KeyField;
    fields.push(field);
    if (field === "src_ip" || field === "dst_ip") {
      const ip = parseIp(v);
      if (ip === null) throw new UsageError(`estimate: ${field}=${v} is not an IP address`);
      if (family !== 0 && family !== ip[0]) throw new UsageError("estimate: mixed IPv4 and IPv6");
      family = ip[0];
      (field === "src_ip" ? batch.src : batch.dst).set(ip[1]);
      continue;
    }
    const n = Number(v);
    const max = field === "proto" ? 255 : field === "vlan" ? 4095 : 65535;
    if (!Number.isInteger(n) || n < 0 || n > max) {
      throw new UsageError(`estimate: ${field}=${v} is not a whole number 0..${max}`);
    }
    if (field === "proto") batch.proto[0] = n;
    else if (field === "vlan") batch.vlan[0] = n;
    else {
      batch.flags[0] = FLAG_HAS_PORTS;
      if (field === "src_port") batch.srcPort[0] = n;
      else batch.dstPort[0] = n;
    }
  }
  batch.family[0] = family === 6 ? FAMILY_IPV6 : FAMILY_IPV4;
  return { fields, batch };
}

export async function estimateCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, { values: ["task", "db", "db-wait"], booleans: [] }, "estimate");
  const task = args.values.get("task");
  if (task === undefined || args.positionals.length !== 1) {
    throw new UsageError("estimate: give --task NAME and one key, e.g. dst_ip=198.51.100.20");
  }
  const { fields, batch } = keyBatch(args.positionals[0]!);
  const waitSec = parseDuration("db-wait", args.values.get("db-wait") ?? "5s", 0, 3600);
  const { Store } = await import("../storage/mod.ts");
  const store = await Store.open(parseDbPath(args.values.get("db")) ?? DB_DEFAULT, {
    readOnly: true,
    waitMs: waitSec * 1000,
  });
  try {
    const tasks = await store.rows(
      "SELECT DISTINCT kind, key FROM tasks WHERE name = $1",
      [task],
    );
    if (tasks.length === 0) throw new UsageError(`estimate: no task "${task}" in the store`);
    const t = tasks[0]!;
    if (t.kind !== "count_min") {
      throw new UsageError(`estimate: task "${task}" is ${t.kind}, not count_min`);
    }
    const key = String(t.key).split(",");
    if (key.length !== fields.length || !key.every((f) => fields.includes(f as KeyField))) {
      throw new UsageError(
        `estimate: task "${task}" is keyed by ${key.join(",")}; give those fields`,
      );
    }
    const rows = await store.rows(
      `SELECT w.window_start::VARCHAR AS w, w.sketch FROM window_sketches w
       JOIN tasks t USING (source_no, task_no) WHERE t.name = $1 ORDER BY w.window_start`,
      [task],
    );
    let total: CountMin | null = null;
    const lines = ["window               estimate"];
    for (const r of rows) {
      const cm = CountMin.deserialize((r.sketch as { bytes: Uint8Array }).bytes);
      // The key hashed as the sketch's own lanes were: with its seed.
      const [a, b] = laneOfPacket(fields, batch, 0, cm.seed);
      lines.push(`${String(r.w).padEnd(19)}  ${String(cm.query(a, b)).padStart(8)}`);
      if (total === null) total = cm;
      else total.merge(cm);
    }
    const all = total === null ? 0 : total.query(...laneOfPacket(fields, batch, 0, total.seed));
    lines.push(`${"all windows".padEnd(19)}  ${String(all).padStart(8)}`);
    console.log(lines.join("\n"));
    return 0;
  } finally {
    store.closeSync();
  }
}
