/**
 * Range views: every group's packets and bytes over a range, for one task and one key field,
 * kept between questions and moved with the range (a materialized view, kept in memory).
 *
 * Why: a top-N over 24 hours computed from the store reads every group of every rolled hour and
 * of the windows at the range's ends (3 M rows into 72k groups in the bench's store: ~130 ms on
 * two cores), yet the next question over 24 hours differs from the last by a window at each
 * end. A view answers it by adding the windows that came into the range and subtracting those
 * that left (one small question of the store), then picking the top rows from what it holds.
 *
 * Exact by construction: a view knows which windows it holds (per source and start, with the
 * commit numbers of their parts). Before each answer it compares that list with the store's;
 * a window that is gone or was written again (a late part, a source replaced, retention) or too
 * many changes at once make it build itself anew from the store. Answers equal the computed
 * ones row for row (tests/query/range_views_test.ts).
 *
 * This module holds the data and the rules; the questions to the store come from the caller
 * (`ViewIO`), so it imports nothing of the query layer.
 *
 * @module
 */

/** Views kept at once (least recently used goes first). */
export const VIEWS_MAX = 8;
/**
 * Groups all views hold together (~72 bytes each on the JS heap, measured on the bench's
 * IPv4/IPv6 mix: 10.4 MB for 144k groups): the least recently used views go to keep under it,
 * and a view that alone would hold more is not kept (its questions are computed) for
 * DECLINED_MS.
 */
export const VIEW_GROUPS_MAX = 500_000;
export const DECLINED_MS = 10 * 60_000;
/** More windows than this entering or leaving at once: the view is built anew instead. */
export const MOVE_WINDOWS_MAX = 64;

/** One source's window in the store: its start and its parts' commit numbers (`print`). */
export interface ViewWindow {
  source: number;
  startUs: number;
  print: string;
}

/** Groups' sums, as parallel columns. */
export interface GroupSums {
  keys: GroupKey[];
  packets: number[];
  bytes: number[];
}

/** The store's side of a view, for one task and key field. */
export interface ViewIO {
  /** Runs `fn` in one read transaction, so its questions see one state of the store. */
  consistent<T>(fn: () => Promise<T>): Promise<T>;
  /** The windows of sources that have the task, starting in [fromSec, toSec). */
  windows(fromSec: number, toSec: number): Promise<ViewWindow[]>;
  /**
   * Every group's sums over [fromSec, toSec) (hourly rollups allowed), or any `max` + 1 of
   * them when there are more (then the view is not kept: no need to read them all).
   */
  all(fromSec: number, toSec: number, max: number): Promise<GroupSums>;
  /** Per group, the sums of the windows `enter` less those of the windows `leave`. */
  change(enter: ViewWindow[], leave: ViewWindow[]): Promise<GroupSums>;
}

/**
 * A group's key: a number (an IPv4 address, or the value of a number field), or text for the
 * rest — "version|high:low" (the address's two 64-bit halves) for other addresses, "|" for
 * NULL. Numbers where possible: DuckDB turns a UHUGEINT into text at ~20 µs a value, and JS
 * makes a BigInt's text at ~1 µs; a number key costs neither.
 */
export type GroupKey = number | string;

const ADDRESS_COLUMNS: Record<string, string> = { src_ip: "src_addr", dst_ip: "dst_addr" };
const NUMBER_FIELDS = ["proto", "src_port", "dst_port", "vlan"];

/**
 * SQL of a group's key on rows of alias `a`, as two columns: the number (DOUBLE) and the text
 * (VARCHAR), one of them NULL. The columns to group by come first. Null: `field` has no view.
 */
export function viewKeySql(
  field: string,
  a: string,
): { group: string[]; number: string; text: string } | null {
  const addr = ADDRESS_COLUMNS[field];
  if (addr !== undefined) {
    const v = `${a}.ip_version`, x = `${a}.${addr}`;
    return {
      group: [v, x],
      number: `CASE WHEN ${v} = 4 AND ${x} IS NOT NULL THEN ${x}::DOUBLE END`,
      text:
        `CASE WHEN ${v} IS DISTINCT FROM 4 OR ${x} IS NULL THEN coalesce(${v}::VARCHAR, '') || '|' ||
        coalesce((${x} >> 64)::UBIGINT::VARCHAR || ':' ||
          (${x} & 18446744073709551615)::UBIGINT::VARCHAR, '') END`,
    };
  }
  if (!NUMBER_FIELDS.includes(field)) return null;
  const x = `${a}.${field}`;
  return { group: [x], number: `${x}::DOUBLE`, text: `CASE WHEN ${x} IS NULL THEN '|' END` };
}

/** An address key's parts: version (null: NULL) and address (null: NULL). */
export function addressParts(key: GroupKey): [number | null, bigint | null] {
  if (typeof key === "number") return [4, BigInt(key)];
  const [v, addr] = key.split("|") as [string, string];
  if (addr === "") return [v === "" ? null : Number(v), null];
  const [hi, lo] = addr.split(":") as [string, string];
  return [v === "" ? null : Number(v), (BigInt(hi) << 64n) | BigInt(lo)];
}

/**
 * Keys in the order the computed answer breaks ties: by version, then address (or by the
 * number), ascending, NULLs last (the store's ORDER BY ... NULLS LAST).
 */
export function compareKeys(a: GroupKey, b: GroupKey): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  const [va, xa] = addressParts(a), [vb, xb] = addressParts(b);
  if (va !== vb) return va === null ? 1 : vb === null ? -1 : va - vb;
  if (xa === xb) return 0;
  return xa === null ? 1 : xb === null ? -1 : xa < xb ? -1 : 1;
}

/** How an answer came: from the view as it was, moved by a few windows, or built anew. */
export type ViewUse = "kept" | "moved" | "built";

/** What a view tells about its range. */
export interface ViewTop {
  /** The rows shown, best first. */
  keys: GroupKey[];
  packets: number[];
  bytes: number[];
  /** Over every group: how many, and their sums. */
  groups: number;
  totalPackets: number;
  totalBytes: number;
}

class View {
  fromSec = 0;
  toSec = 0;
  built = false;
  /** The windows held: "source/startUs" → print. */
  windows = new Map<string, string>();
  private readonly slots = new Map<GroupKey, number>();
  private keys: GroupKey[] = [];
  private packets = new Float64Array(1024);
  private bytes = new Float64Array(1024);
  private readonly free: number[] = [];
  totalPackets = 0;
  totalBytes = 0;
  /** Questions of this view wait for each other (one moves it at a time). */
  busy: Promise<unknown> = Promise.resolve();

  get groups(): number {
    return this.slots.size;
  }

  clear(): void {
    this.built = false;
    this.windows.clear();
    this.slots.clear();
    this.keys = [];
    this.free.length = 0;
    this.packets = new Float64Array(1024);
    this.bytes = new Float64Array(1024);
    this.totalPackets = this.totalBytes = 0;
  }

  /**
   * Adds signed sums (a group's change). False when the result cannot be right: a group going
   * below zero, or one with bytes and no packets (every stored row counts a packet), or a sum
   * beyond 2^53; then the view is built anew or not kept.
   */
  apply(s: GroupSums): boolean {
    for (let i = 0; i < s.keys.length; i++) {
      const k = s.keys[i]!, p = s.packets[i]!, b = s.bytes[i]!;
      let slot = this.slots.get(k);
      if (slot === undefined) {
        if (p === 0 && b === 0) continue;
        slot = this.free.pop() ?? this.keys.length;
        if (slot === this.keys.length) this.keys.push(k), this.grow();
        else this.keys[slot] = k;
        this.slots.set(k, slot);
        this.packets[slot] = 0, this.bytes[slot] = 0;
      }
      const np = this.packets[slot]! + p, nb = this.bytes[slot]! + b;
      if (np < 0 || nb < 0 || np > Number.MAX_SAFE_INTEGER || nb > Number.MAX_SAFE_INTEGER) {
        return false;
      }
      this.packets[slot] = np, this.bytes[slot] = nb;
      if (np === 0) {
        if (nb !== 0) return false;
        this.slots.delete(k), this.free.push(slot);
      }
      this.totalPackets += p, this.totalBytes += b;
    }
    return this.totalPackets <= Number.MAX_SAFE_INTEGER &&
      this.totalBytes <= Number.MAX_SAFE_INTEGER;
  }

  private grow(): void {
    if (this.keys.length <= this.packets.length) return;
    const n = this.packets.length * 2;
    const p = new Float64Array(n), b = new Float64Array(n);
    p.set(this.packets), b.set(this.bytes);
    this.packets = p, this.bytes = b;
  }

  /** The best `limit` groups by `sort` (`desc`: largest first), ties by key (compareKeys). */
  top(limit: number, sort: "packets" | "bytes", desc: boolean): number[] {
    const m = sort === "packets" ? this.packets : this.bytes;
    const keys = this.keys;
    // a better than b: the order the answer lists them in.
    const better = (a: number, b: number) => {
      const d = m[a]! - m[b]!;
      if (d !== 0) return desc ? d > 0 : d < 0;
      return compareKeys(keys[a]!, keys[b]!) < 0;
    };
    // A heap of the best so far with the worst of them on top.
    const heap: number[] = [];
    const up = (i: number) => {
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!better(heap[parent]!, heap[i]!)) break;
        [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
        i = parent;
      }
    };
    const down = (i: number) => {
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let w = i;
        if (l < heap.length && better(heap[w]!, heap[l]!)) w = l;
        if (r < heap.length && better(heap[w]!, heap[r]!)) w = r;
        if (w === i) return;
        [heap[w], heap[i]] = [heap[i]!, heap[w]!];
        i = w;
      }
    };
    if (limit <= 0) return [];
    for (const slot of this.slots.values()) {
      if (heap.length < limit) heap.push(slot), up(heap.length - 1);
      else if (better(slot, heap[0]!)) heap[0] = slot, down(0);
    }
    return heap.sort((a, b) => (better(a, b) ? -1 : 1));
  }

  answer(limit: number, sort: "packets" | "bytes", desc: boolean): ViewTop {
    const shown = this.top(limit, sort, desc);
    return {
      keys: shown.map((s) => this.keys[s]!),
      packets: shown.map((s) => this.packets[s]!),
      bytes: shown.map((s) => this.bytes[s]!),
      groups: this.groups,
      totalPackets: this.totalPackets,
      totalBytes: this.totalBytes,
    };
  }
}

const windowKey = (w: ViewWindow) => `${w.source}/${w.startUs}`;

/** How often views were used and how, since start (for /metrics). */
export interface ViewCounts {
  kept: number;
  moved: number;
  built: number;
  /** Questions a view could have answered but that were computed (too many groups). */
  declined: number;
}

/** The views of one store, kept across its commits (the caller keeps one per store). */
export class RangeViews {
  private readonly views = new Map<string, View>();
  /** Views that would be too big: their id and until when they are not tried again. */
  private readonly declined = new Map<string, number>();
  readonly counts: ViewCounts = { kept: 0, moved: 0, built: 0, declined: 0 };
  private readonly viewsMax: number;
  private readonly groupsMax: number;

  /** The limits are VIEWS_MAX and VIEW_GROUPS_MAX unless given (tests give small ones). */
  constructor(limits: { views?: number; groups?: number } = {}) {
    this.viewsMax = limits.views ?? VIEWS_MAX;
    this.groupsMax = limits.groups ?? VIEW_GROUPS_MAX;
  }

  /**
   * The top `limit` groups over [fromSec, toSec) of the view `id` (one task, key field and
   * range length), moved there or built first; null when no view can be kept for it.
   */
  async top(
    id: string,
    range: { fromSec: number; toSec: number },
    io: ViewIO,
    limit: number,
    sort: "packets" | "bytes",
    desc: boolean,
  ): Promise<ViewTop | null> {
    if ((this.declined.get(id) ?? 0) > Date.now()) return this.counts.declined++, null;
    let view = this.views.get(id);
    if (view === undefined) {
      if (this.views.size >= this.viewsMax) this.views.delete(this.views.keys().next().value!);
      view = new View();
    }
    this.views.delete(id), this.views.set(id, view); // most recently used last
    const v = view;
    const turn = v.busy.then(async () => {
      const use = await io.consistent(() =>
        moveTo(v, range.fromSec, range.toSec, io, this.groupsMax)
      );
      if (use === null) {
        this.views.delete(id), this.declined.set(id, Date.now() + DECLINED_MS);
        this.counts.declined++;
        return null;
      }
      this.counts[use]++;
      this.within(v);
      return v.answer(limit, sort, desc);
    });
    v.busy = turn.catch(() => v.clear());
    return await turn;
  }

  /** Drops the least recently used views other than `keep` while all hold too many groups. */
  private within(keep: View): void {
    let groups = 0;
    for (const v of this.views.values()) groups += v.groups;
    for (const [id, v] of this.views) {
      if (groups <= this.groupsMax) return;
      if (v === keep) continue;
      groups -= v.groups;
      this.views.delete(id);
    }
  }
}

/** Brings `v` to [from, to); null when the view would hold too many groups. */
async function moveTo(
  v: View,
  from: number,
  to: number,
  io: ViewIO,
  groupsMax: number,
): Promise<ViewUse | null> {
  if (v.built) {
    const seen = new Map<string, ViewWindow>();
    for (const w of await io.windows(Math.min(v.fromSec, from), Math.max(v.toSec, to))) {
      seen.set(windowKey(w), w);
    }
    const inRange = (w: ViewWindow) => w.startUs >= from * 1e6 && w.startUs < to * 1e6;
    let same = true;
    const leave: ViewWindow[] = [], enter: ViewWindow[] = [];
    for (const [k, print] of v.windows) {
      const w = seen.get(k);
      if (w === undefined || w.print !== print) {
        same = false; // gone, or written again since the view took it
        break;
      }
      if (!inRange(w)) leave.push(w);
    }
    if (same) { for (const [k, w] of seen) if (inRange(w) && !v.windows.has(k)) enter.push(w); }
    if (same && leave.length + enter.length <= MOVE_WINDOWS_MAX) {
      if (leave.length + enter.length === 0 && v.fromSec === from && v.toSec === to) {
        return "kept";
      }
      const ok = enter.length + leave.length === 0 || v.apply(await io.change(enter, leave));
      if (ok && v.groups <= groupsMax) {
        for (const w of leave) v.windows.delete(windowKey(w));
        for (const w of enter) v.windows.set(windowKey(w), w.print);
        v.fromSec = from, v.toSec = to;
        return "moved";
      }
    }
  }
  v.clear();
  const windows = await io.windows(from, to);
  const sums = await io.all(from, to, groupsMax);
  if (sums.keys.length > groupsMax || !v.apply(sums)) return v.clear(), null;
  for (const w of windows) v.windows.set(windowKey(w), w.print);
  v.fromSec = from, v.toSec = to, v.built = true;
  return "built";
}
