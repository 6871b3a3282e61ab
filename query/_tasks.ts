/**
 * What a question needs to know of the store first: the exact tasks and their keys (a
 * question may only group or filter by fields its task's key holds), the newest data's end
 * (the anchor of relative times) and the window length.
 *
 * @module
 */

import { UserError } from "../collector/user_error.ts";
import type { Filter } from "./filter.ts";
import { memoized, num, type QueryContext, select } from "./_sql.ts";

export interface StoreFacts {
  /** Exact tasks by name, with the key fields every source stored them with. */
  tasks: Map<string, Set<string>>;
  /** End of the newest stored window, epoch seconds (now when nothing is stored). */
  anchorSec: number;
  /** The newest window's length (null when nothing is stored). */
  windowSec: number | null;
  /** Per exact task: its task number in each source (source numbers by task number). */
  taskNos: Map<string, Map<number, number[]>>;
  /** Task numbers that some source uses for a task of another name. */
  sharedTaskNos: Map<string, Set<number>>;
}

export function storeFacts(ctx: QueryContext): Promise<StoreFacts> {
  return memoized(ctx, "facts", () => readFacts(ctx));
}

async function readFacts(ctx: QueryContext): Promise<StoreFacts> {
  const rows = await select(
    ctx,
    `SELECT name, list(DISTINCT key) AS keys, min(task_no) AS no FROM tasks
     WHERE kind = 'exact' GROUP BY name ORDER BY no`,
    [],
  );
  const tasks = new Map<string, Set<string>>();
  for (const r of rows) {
    // A task stored with different keys by different sources: only the fields all share.
    const keys = (r.keys as string[]).map((k) => new Set(k === "" ? [] : k.split(",")));
    tasks.set(String(r.name), keys.reduce((a, b) => new Set([...a].filter((f) => b.has(f)))));
  }
  const taskNos = new Map<string, Map<number, number[]>>();
  const sharedTaskNos = new Map<string, Set<number>>();
  for (
    const r of await select(
      ctx,
      `SELECT t.name, t.task_no, list(t.source_no ORDER BY t.source_no) AS sources,
         bool_or(EXISTS (SELECT 1 FROM tasks o WHERE o.task_no = t.task_no AND o.name <> t.name))
           AS shared
       FROM tasks t WHERE t.kind = 'exact' GROUP BY t.name, t.task_no`,
      [],
    )
  ) {
    const name = String(r.name), no = num(r.task_no);
    if (!taskNos.has(name)) taskNos.set(name, new Map()), sharedTaskNos.set(name, new Set());
    taskNos.get(name)!.set(no, (r.sources as unknown[]).map(num));
    if (r.shared === true) sharedTaskNos.get(name)!.add(no);
  }
  const [w] = await select(
    ctx,
    `SELECT max(epoch(window_start) + window_sec) AS anchor,
       arg_max(window_sec, window_start) AS window_sec FROM window_totals`,
    [],
  );
  const anchor = w?.anchor;
  return {
    tasks,
    anchorSec: anchor === null || anchor === undefined
      ? Math.floor(Date.now() / 1000)
      : num(anchor),
    windowSec: w?.window_sec === null || w?.window_sec === undefined ? null : num(w.window_sec),
    taskNos,
    sharedTaskNos,
  };
}

/** The key fields a filter names (`ip` and `port` need both sides). */
function filterFields(f: Filter | null, out = new Set<string>(), depth = 0): Set<string> {
  if (f === null || depth > 64) return out;
  switch (f.op) {
    case "and":
    case "or":
      for (const a of f.args) filterFields(a, out, depth + 1);
      break;
    case "not":
      filterFields(f.arg, out, depth + 1);
      break;
    default:
      if (f.field === "ip") out.add("src_ip").add("dst_ip");
      else if (f.field === "port") out.add("src_port").add("dst_port");
      else if (f.field !== "ip_version") out.add(f.field);
  }
  return out;
}

/**
 * The task to answer from: the one named, or the first exact task whose key holds every
 * field asked for. A field no task keeps is the user's mistake, said with what there is.
 */
export function pickTask(
  facts: StoreFacts,
  named: string | undefined,
  groupBy: string[],
  filter: Filter | null,
): string {
  const need = [...new Set([...groupBy, ...filterFields(filter)])];
  const fits = (key: Set<string>) => need.every((f) => key.has(f));
  const list = [...facts.tasks].map(([n, k]) => `${n} (${[...k].join(",")})`).join("; ");
  if (named !== undefined) {
    const key = facts.tasks.get(named);
    if (key === undefined) {
      throw new UserError(`No exact task "${named}" is stored (there are: ${list || "none"})`);
    }
    if (!fits(key)) {
      throw new UserError(
        `Task "${named}" does not keep ${need.filter((f) => !key.has(f)).join(", ")} ` +
          `(its key: ${[...key].join(", ")})`,
      );
    }
    return named;
  }
  for (const [name, key] of facts.tasks) if (fits(key)) return name;
  if (facts.tasks.size === 0) return "flows"; // an empty store: answers are empty, not errors
  throw new UserError(`No stored exact task keeps ${need.join(", ")} (tasks: ${list})`);
}

/**
 * The rows of task `name` as a condition on `alias.source_no` / `alias.task_no`, without a join
 * (a join with tasks cost a third of a 24-hour question): a task number no other task uses is
 * the number alone; else the number with its sources. `add` binds a value.
 */
export function taskCondition(
  facts: StoreFacts,
  name: string,
  alias: string,
  add: (v: number) => string,
): string {
  const nos = facts.taskNos.get(name);
  if (nos === undefined) return "false";
  const shared = facts.sharedTaskNos.get(name)!;
  const parts = [...nos].map(([no, sources]) =>
    shared.has(no)
      ? `(${alias}.task_no = ${add(no)} AND ${alias}.source_no IN (${sources.map(add).join(", ")}))`
      : `${alias}.task_no = ${add(no)}`
  );
  return parts.length === 1 ? parts[0]! : `(${parts.join(" OR ")})`;
}
