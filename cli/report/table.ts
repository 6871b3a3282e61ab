/**
 * The human-readable report of `netspectra analyze` (default `--format table`).
 *
 * @module
 */

import { alignRows } from "./print_table.ts";
import { protoName } from "./report.ts";
import type { AppSummary, KeyedRow, RunInfo, SketchesSummary, Summary } from "../../storage/mod.ts";

function si(n: number, unit: string): string {
  const steps = ["", "k", "M", "G", "T"];
  let v = n;
  let k = 0;
  while (Math.abs(v) >= 1000 && k < steps.length - 1) v /= 1000, k++;
  return `${k === 0 ? String(Math.round(v * 100) / 100) : v.toFixed(1)} ${steps[k]}${unit}`;
}

function pct(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : "-";
}

/** Left-aligned text columns, right-aligned numbers. */
function table(head: string[], body: (string | number)[][]): string[] {
  const numeric = head.map((_, c) =>
    body.length > 0 && body.every((r) => typeof r[c] === "number")
  );
  return alignRows(head, body.map((r) => r.map(String)), numeric, "  ");
}

function endpoint(ip: string | null | undefined, port: number | null | undefined): string {
  if (ip === undefined || ip === null) {
    return port === undefined || port === null ? "*" : `*:${port}`;
  }
  const host = ip.includes(":") ? `[${ip}]` : ip;
  return port === undefined || port === null ? host : `${host}:${port}`;
}

/** Seconds between two "sec.nnnnnnnnn" texts. */
function span(first: string | null, last: string | null): number {
  if (first === null || last === null) return 0;
  const [fs, fn] = first.split(".");
  const [ls, ln] = last.split(".");
  return Number(ls) - Number(fs) + (Number(ln) - Number(fn)) / 1e9;
}

/** A key row as text: the key's fields joined (addresses with ports where both are there). */
function keyText(r: KeyedRow, key: readonly string[]): string {
  const parts: string[] = [];
  if (key.includes("src_ip") || key.includes("src_port")) {
    parts.push(endpoint(r.src_ip as string | null | undefined, r.src_port as number | undefined));
  }
  if (key.includes("dst_ip") || key.includes("dst_port")) {
    parts.push(endpoint(r.dst_ip as string | null | undefined, r.dst_port as number | undefined));
  }
  if (key.includes("proto")) parts.push(r.proto === null ? "*" : protoName(Number(r.proto)));
  if (key.includes("vlan")) parts.push(r.vlan === null ? "no vlan" : `vlan ${r.vlan}`);
  return parts.join(" → ");
}

function kib(n: number): string {
  return `${Math.round(n / 1024)} KiB`;
}

/** Relative error of an estimate against an exact count, as text. */
function errText(est: number, exact: number | null): string {
  if (exact === null) return "-";
  if (exact === 0) return est === 0 ? "0.00%" : "-";
  return `${((100 * (est - exact)) / exact).toFixed(2)}%`;
}

const QTYPES: Record<number, string> = {
  1: "A",
  2: "NS",
  5: "CNAME",
  6: "SOA",
  12: "PTR",
  15: "MX",
  16: "TXT",
  28: "AAAA",
  33: "SRV",
  65: "HTTPS",
  255: "ANY",
};

function appLines(a: AppSummary): string[] {
  const out: string[] = [];
  const d = a.dns;
  const malformed = Object.values(d.malformed).reduce((x, y) => x + y, 0);
  if (d.messages > 0 || malformed > 0) {
    out.push(
      "",
      `DNS (${d.queries} queries, ${d.responses} responses: ${d.nxdomain} NXDOMAIN, ${d.error_responses} other errors; ${malformed} malformed)`,
    );
    if (malformed > 0) {
      out.push(
        "  malformed: " + Object.entries(d.malformed).map(([r, n]) => `${r} × ${n}`).join(", "),
      );
    }
    out.push(
      ...table(
        ["name", "type", "queries", "responses", "NXDOMAIN", "avg ms"],
        d.names.map((n) => [
          n.protocol === "dns" ? n.qname || "(no question)" : `${n.qname} (${n.protocol})`,
          QTYPES[n.qtype] ?? String(n.qtype),
          n.queries,
          n.responses,
          n.nxdomain,
          n.avg_rtt_ms === null ? "-" : n.avg_rtt_ms.toFixed(1),
        ]),
      ),
    );
  }
  const h = a.http;
  if (h.requests > 0 || h.responses > 0) {
    const lost = h.lost > 0 ? `; ${h.lost} lost to reassembly limits or gaps` : "";
    out.push("", `HTTP (${h.requests} requests, ${h.responses} responses${lost})`);
    out.push(
      ...table(
        ["host", "method", "path", "requests"],
        h.top.map((r) => [
          r.protocol === "http" ? r.host ?? "(no Host)" : `${r.host ?? "(no Host)"} (ssdp)`,
          r.method,
          r.path,
          r.requests,
        ]),
      ),
    );
    if (h.status.length > 0) {
      out.push(
        "  status: " +
          h.status.map((x) => `${x.code}${x.protocol === "ssdp" ? " (ssdp)" : ""} × ${x.responses}`)
            .join(", "),
      );
    }
    if (h.user_agents.length > 0) {
      out.push(
        ...table(
          ["user agent", "requests"],
          h.user_agents.map((x) => [
            x.protocol === "http" ? x.user_agent : `${x.user_agent} (ssdp)`,
            x.requests,
          ]),
        ),
      );
    }
  }
  return out;
}

/**
 * The sketch panels. With `truncated` (the exact table overflowed) the table's counts are not
 * called exact and no error is computed against them: they are lower bounds.
 */
function sketchLines(k: SketchesSummary, truncated: boolean): string[] {
  const out: string[] = [];
  const exactHead = truncated ? "table (incomplete)" : "exact";
  const err = (est: number, exact: number | null) => truncated ? "-" : errText(est, exact);
  for (const h of k.heavyHitters) {
    const exact = h.exactTask === null ? "" : `; exact from task ${h.exactTask}`;
    out.push(
      "",
      `Heavy hitters (sketch ${h.task}: ${h.key.join(", ")} by ${h.by}, ${
        kib(h.memoryBytes)
      }${exact})`,
    );
    const v = (r: typeof h.rows[number]) => h.by === "bytes" ? r.bytes : r.packets;
    const ex = (r: typeof h.rows[number]) => h.by === "bytes" ? r.exact_bytes : r.exact_packets;
    out.push(
      ...table(
        ["key", `${h.by} (sketch)`, `${h.by} (${exactHead})`, "error"],
        h.rows.map((r) => [keyText(r, h.key), v(r), ex(r) ?? "-", err(v(r), ex(r))]),
      ),
    );
  }
  if (k.distinct.length > 0) {
    out.push("", "Distinct counts (HyperLogLog; exact where an exact task covers the key)");
    out.push(
      ...table(
        ["task", "key", "estimate", exactHead, "error"],
        k.distinct.map((d) => [
          d.task,
          d.key.join(","),
          Math.round(d.estimate),
          d.exact ?? "-",
          err(d.estimate, d.exact),
        ]),
      ),
    );
  }
  for (const p of k.spread) {
    const filter = p.filter === "tcp_syn" ? ", TCP SYNs only" : "";
    out.push(
      "",
      `Spread (sketch ${p.task}: ${p.key.join(", ")} meeting ≥ ${p.threshold} distinct ${
        p.element.join(", ")
      }${filter}; ${p.rows.length} found)`,
    );
    if (p.rows.length === 0) out.push("  none");
    else {
      out.push(
        ...table(
          ["key", "spread"],
          p.rows.map((r) => [keyText(r, p.key), Math.round(r.spread)]),
        ),
      );
    }
  }
  for (const c of k.countMin) {
    out.push(
      "",
      `Count-Min sketch ${c.task} (${c.key.join(", ")} by ${c.by}, ${
        kib(c.memoryBytes)
      }): ${c.packets} packets; point queries from the stored sketches`,
    );
  }
  return out;
}

export function toTable(run: RunInfo, s: Summary): string {
  const t = s.totals;
  const out: string[] = [];
  const duration = span(t.firstTs, t.lastTs);
  const where = s.storePath === ":memory:" ? "" : ` in ${s.storePath}`;
  const stored = s.sourceId === null ? "" : ` — stored${where} as source ${s.sourceId}`;
  out.push(`NetSpectra analysis of ${run.files.length} file(s)${stored}`);
  out.push(
    ...table(
      ["file", "format", "link types", "records"],
      run.files.map((f) => [f.name, f.format, f.linkTypes.join(",") || "-", f.records]),
    ),
  );
  const ipFrames = t.ipv4Frames + t.ipv6Frames;
  const truncated = s.overflowPackets > 0;
  if (truncated) {
    out.push(
      "",
      `WARNING: the exact table of task ${s.task} was full: ${s.overflowPackets} packets (${
        pct(s.overflowPackets, ipFrames)
      } of IP packets) are counted in an "other" row, not per key.`,
      "  Top talkers, top flows and the table counts beside the sketches leave them out;",
      "  raise --flows-max (or --memory) to count every key.",
    );
  }
  if (t.latePackets > 0) {
    out.push(
      "",
      `Note: ${t.latePackets} packets came after their window had closed (timestamps going back ` +
        "more than the lateness); they are stored as late parts of their windows.",
    );
  }
  out.push("", "Summary");
  out.push(`  frames    ${t.frames}  (${t.ipv4Frames + t.ipv6Frames} IP, ${t.nonIpFrames} non-IP)`);
  out.push(`  bytes     ${t.bytes} on the wire (${si(t.bytes, "B")}), ${t.capBytes} captured`);
  const windows = s.windowSec > 0 ? ` in ${s.windows} window(s) of ${s.windowSec} s` : "";
  out.push(`  duration  ${duration.toFixed(3)} s${windows}`);
  if (duration > 0) {
    out.push(
      `  rates     ${si(t.frames / duration, "pkt/s")}, ${si((8 * t.bytes) / duration, "bit/s")}`,
    );
  }
  out.push("", "Protocol mix");
  const ip = ipFrames;
  out.push(
    ...table(["layer", "protocol", "frames", "share"], [
      ["L3", "IPv4", t.ipv4Frames, pct(t.ipv4Frames, t.frames)],
      ["L3", "IPv6", t.ipv6Frames, pct(t.ipv6Frames, t.frames)],
      ["L3", "non-IP", t.nonIpFrames, pct(t.nonIpFrames, t.frames)],
      ...s.protocols.map((p) => ["L4", protoName(p.proto), p.packets, pct(p.packets, ip)]),
    ]),
  );
  out.push("", "Decode problems");
  if (s.decodeErrors.length === 0) out.push("  none");
  else out.push(...table(["reason", "frames"], s.decodeErrors.map((e) => [e.reason, e.packets])));
  if (truncated) {
    out.push(`  flow table full: ${s.overflowPackets} packets in the "other" row, not per key`);
  }
  if (s.talkers !== null) {
    const partial = truncated ? "; incomplete: the table was full" : "";
    out.push("", `Top talkers (sources by bytes, ${s.talkers.length} shown${partial})`);
    out.push(
      ...table(
        ["source", "packets", "bytes", "share"],
        s.talkers.map((r) => [r.src_ip ?? "", r.packets, r.bytes, pct(r.bytes, t.bytes)]),
      ),
    );
  }
  out.push(
    "",
    `Top flows (task ${s.task}: ${
      s.groupBy.join(", ")
    }; by packets, ${s.flows.length} of ${s.flowCount})`,
  );
  out.push(
    ...table(
      ["from", "to", "proto", "packets", "bytes"],
      s.flows.map((r) => [
        endpoint(r.src_ip, r.src_port),
        endpoint(r.dst_ip, r.dst_port),
        r.proto === undefined || r.proto === null ? "*" : protoName(r.proto),
        r.packets,
        r.bytes,
      ]),
    ),
  );
  if (!run.flowRecords) out.push("", "Flow records: none kept (--no-records)");
  else if (s.flowRecords.length > 0) {
    out.push("", "Flow records (bidirectional, by close reason)");
    out.push(...table(["reason", "records"], s.flowRecords.map((r) => [r.reason, r.records])));
  }
  if (s.app !== null) out.push(...appLines(s.app));
  if (s.sketches !== null) out.push(...sketchLines(s.sketches, truncated));
  if (run.warnings.length > 0) {
    out.push("", "Warnings");
    for (const w of run.warnings) out.push(`  ${w}`);
  }
  return out.join("\n") + "\n";
}
