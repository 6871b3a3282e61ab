/**
 * The YAML configuration (configs/netspectra.yaml documents every key): windows, tasks, flow
 * timeouts, store and retention. Validated at start with every problem reported at once.
 *
 * @module
 */

import { UserError } from "../user_error.ts";
import { parse } from "yaml";
import { type TaskSpec, WINDOW_SEC_MAX } from "../engine/mod.ts";
import { FLOWS_MAX_DEFAULT } from "../engine/mod.ts";
import { FLOW_TRACKER_DEFAULTS, type FlowTrackerOptions } from "../engine/mod.ts";
import { defaultTask } from "../ingest/mod.ts";
import { bytes, checkKeys, isObject, keyFields, seconds } from "./_config_values.ts";
import { parseSketchTask } from "./config_sketch.ts";
import { defaultSketches, SKETCH_KINDS, type SketchSpec } from "../engine/mod.ts";

export interface Config {
  windowSec: number;
  tasks: TaskSpec[];
  sketches: SketchSpec[];
  flows: FlowTrackerOptions;
  store: { path: string | null; retention: { maxAgeSec?: number; maxBytes?: number } };
}

/** Largest configuration file read (a config, not a data file). */
export const CONFIG_BYTES_MAX = 1 << 20;
export const TASKS_MAX = 64;
/** All sketch tasks' memory budgets together (each window holds one set). */
export const SKETCH_MEMORY_TOTAL_MAX = 1 << 30;

/** Ends `text` as a complete sentence: a trailing ":" or space goes, a full stop comes. */
function sentence(text: string): string {
  const t = text.trim().replace(/[:;,]+$/, "");
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

export class ConfigError extends UserError {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`Invalid configuration ${file}: ${sentence(problems.join("; "))}`);
    this.name = "ConfigError";
  }
}

export function defaultConfig(): Config {
  return {
    windowSec: 60,
    tasks: [defaultTask()],
    sketches: defaultSketches(),
    flows: { ...FLOW_TRACKER_DEFAULTS },
    store: { path: null, retention: {} },
  };
}

/** Validates a parsed document; returns the config or the list of problems. */
export function validateConfig(doc: unknown): Config | string[] {
  const cfg = defaultConfig();
  const problems: string[] = [];
  if (doc === null || doc === undefined) return cfg;
  if (!isObject(doc)) return ["the top level must be a mapping"];
  checkKeys(doc, ["window", "tasks", "flows", "store"], "top level", problems);
  if (doc.window !== undefined) {
    const w = seconds(doc.window);
    if (w === null || w < 1 || w > WINDOW_SEC_MAX) {
      problems.push(
        `window: a duration from 1s to ${WINDOW_SEC_MAX}s, got ${JSON.stringify(doc.window)}`,
      );
    } else cfg.windowSec = w;
  }
  if (doc.tasks !== undefined) {
    if (!Array.isArray(doc.tasks) || doc.tasks.length === 0 || doc.tasks.length > TASKS_MAX) {
      problems.push(`tasks: a list of 1 to ${TASKS_MAX} tasks`);
    } else {
      cfg.tasks = [];
      cfg.sketches = [];
      const names = new Set<string>();
      doc.tasks.forEach((t: unknown, n: number) => {
        const where = `tasks[${n}]`;
        if (!isObject(t)) return problems.push(`${where}: must be a mapping`);
        const name = t.name;
        if (typeof name !== "string" || !/^[a-z][a-z0-9_]{0,63}$/.test(name)) {
          problems.push(
            `${where}.name: lower-case letters, digits and _ (up to 64), got ${
              JSON.stringify(name)
            }`,
          );
        } else if (names.has(name)) problems.push(`${where}.name: "${name}" is used twice`);
        else names.add(name);
        const fields = keyFields(t.key, `${where}.key`, problems);
        const kind = t.kind ?? "exact";
        if (kind !== "exact") {
          if (!(SKETCH_KINDS as readonly unknown[]).includes(kind)) {
            problems.push(
              `${where}.kind: one of exact, ${SKETCH_KINDS.join(", ")}, got ${
                JSON.stringify(kind)
              }`,
            );
          } else {
            const spec = parseSketchTask(t, where, String(name), fields, problems);
            if (spec !== null) cfg.sketches.push(spec);
          }
          return;
        }
        checkKeys(t, ["name", "kind", "key", "flows_max"], where, problems);
        let flowsMax = FLOWS_MAX_DEFAULT;
        if (t.flows_max !== undefined) {
          if (
            typeof t.flows_max !== "number" || !Number.isInteger(t.flows_max) || t.flows_max < 1 ||
            t.flows_max > 1 << 26
          ) {
            problems.push(`${where}.flows_max: a whole number from 1 to ${1 << 26}`);
          } else flowsMax = t.flows_max;
        }
        cfg.tasks.push({ name: String(name), kind: "exact", key: fields, flowsMax });
      });
      if (cfg.tasks.length === 0) {
        problems.push("tasks: at least one exact task (the report's flows come from it)");
      }
      const sketchBytes = cfg.sketches.reduce(
        (n, t) => n + (t.kind === "distinct" ? 2 ** t.precision : t.memoryBytes),
        0,
      );
      if (sketchBytes > SKETCH_MEMORY_TOTAL_MAX) {
        problems.push(
          `tasks: the sketches' memory adds up to ${sketchBytes} bytes, more than ${SKETCH_MEMORY_TOTAL_MAX}`,
        );
      }
    }
  }
  if (doc.flows !== undefined) {
    if (!isObject(doc.flows)) problems.push("flows: must be a mapping");
    else {
      checkKeys(doc.flows, ["idle_timeout", "active_timeout", "max"], "flows", problems);
      const pairs: [string, keyof FlowTrackerOptions][] = [["idle_timeout", "idleSec"], [
        "active_timeout",
        "activeSec",
      ]];
      for (const [k, field] of pairs) {
        if (doc.flows[k] === undefined) continue;
        const v = seconds(doc.flows[k]);
        if (v === null || v < 1 || v > 86400) problems.push(`flows.${k}: a duration from 1s to 1d`);
        else cfg.flows[field] = v;
      }
      if (doc.flows.max !== undefined) {
        const m = doc.flows.max;
        if (typeof m !== "number" || !Number.isInteger(m) || m < 1 || m > 1 << 24) {
          problems.push(`flows.max: a whole number from 1 to ${1 << 24}`);
        } else cfg.flows.flowsMax = m;
      }
    }
  }
  if (doc.store !== undefined) {
    if (!isObject(doc.store)) problems.push("store: must be a mapping");
    else {
      checkKeys(doc.store, ["path", "retention"], "store", problems);
      if (doc.store.path !== undefined) {
        if (typeof doc.store.path !== "string" || doc.store.path === "") {
          problems.push("store.path: a file name or :memory:");
        } else cfg.store.path = doc.store.path;
      }
      const r = doc.store.retention;
      if (r !== undefined) {
        if (!isObject(r)) problems.push("store.retention: must be a mapping");
        else {
          checkKeys(r, ["max_age", "max_bytes"], "store.retention", problems);
          if (r.max_age !== undefined) {
            const v = seconds(r.max_age);
            if (v === null || v < 1) {
              problems.push("store.retention.max_age: a duration such as 7d");
            } else cfg.store.retention.maxAgeSec = v;
          }
          if (r.max_bytes !== undefined) {
            const v = bytes(r.max_bytes);
            if (v === null || v < 1) {
              problems.push("store.retention.max_bytes: a size such as 10GB");
            } else cfg.store.retention.maxBytes = v;
          }
        }
      }
    }
  }
  return problems.length > 0 ? problems : cfg;
}

/** Reads and validates a YAML file; throws ConfigError listing every problem. */
export async function loadConfig(path: string): Promise<Config> {
  const info = await Deno.stat(path);
  if (info.size > CONFIG_BYTES_MAX) {
    throw new ConfigError(path, [`larger than ${CONFIG_BYTES_MAX} bytes`]);
  }
  let doc: unknown;
  try {
    doc = parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new ConfigError(path, [`not valid YAML: ${(e as Error).message.split("\n")[0]}`]);
  }
  const r = validateConfig(doc);
  if (Array.isArray(r)) throw new ConfigError(path, r);
  return r;
}
