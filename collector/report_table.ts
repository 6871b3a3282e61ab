/**
 * The human-readable report of `netspectra analyze` (default `--format table`).
 *
 * @module
 */

import type { AnalyzeResult } from "./analyze.ts";
import { ERROR_NAMES } from "./decode/mod.ts";
import { FlowTable } from "./flow_table.ts";
import { flowRows, protoName } from "./report.ts";

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
  const cells = [head, ...body.map((r) => r.map(String))];
  const widths = head.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  const numeric = head.map((_, c) =>
    body.length > 0 && body.every((r) => typeof r[c] === "number")
  );
  return cells.map((r) =>
    "  " + r.map((v, c) => numeric[c] ? v.padStart(widths[c]!) : v.padEnd(widths[c]!)).join("  ")
      .trimEnd()
  );
}

function endpoint(ip: string | null | undefined, port: number | null | undefined): string {
  if (ip === undefined || ip === null) {
    return port === undefined || port === null ? "*" : `*:${port}`;
  }
  const host = ip.includes(":") ? `[${ip}]` : ip;
  return port === undefined || port === null ? host : `${host}:${port}`;
}

export function toTable(res: AnalyzeResult, limit: number): string {
  const rows = flowRows(res.flows, res.groupBy, limit);
  const t = res.totals;
  const out: string[] = [];
  const duration = Number.isFinite(t.firstSec)
    ? (t.lastSec - t.firstSec) + (t.lastNsec - t.firstNsec) / 1e9
    : 0;
  out.push(`NetSpectra analysis of ${res.files.length} file(s)`);
  out.push(
    ...table(
      ["file", "format", "link types", "records"],
      res.files.map((f) => [f.name, f.format, f.linkTypes.join(",") || "-", f.records]),
    ),
  );
  out.push("", "Summary");
  out.push(`  frames    ${t.frames}  (${t.ipv4Frames + t.ipv6Frames} IP, ${t.nonIpFrames} non-IP)`);
  out.push(
    `  bytes     ${t.wireBytes} on the wire (${si(t.wireBytes, "B")}), ${t.capBytes} captured`,
  );
  out.push(`  duration  ${duration.toFixed(3)} s`);
  if (duration > 0) {
    out.push(
      `  rates     ${si(t.frames / duration, "pkt/s")}, ${
        si((8 * t.wireBytes) / duration, "bit/s")
      }`,
    );
  }
  out.push("", "Protocol mix");
  const ip = t.ipv4Frames + t.ipv6Frames;
  out.push(
    ...table(["layer", "protocol", "frames", "share"], [
      ["L3", "IPv4", t.ipv4Frames, pct(t.ipv4Frames, t.frames)],
      ["L3", "IPv6", t.ipv6Frames, pct(t.ipv6Frames, t.frames)],
      ["L3", "non-IP", t.nonIpFrames, pct(t.nonIpFrames, t.frames)],
      ...[...t.protoFrames.entries()].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1])
        .map(([p, n]) => ["L4", protoName(p), n, pct(n, ip)]),
    ]),
  );
  const errs = [...t.errors.entries()].filter(([c, n]) => c > 0 && n > 0);
  out.push("", "Decode problems");
  if (errs.length === 0) out.push("  none");
  else out.push(...table(["reason", "frames"], errs.map(([c, n]) => [ERROR_NAMES[c]!, n])));
  if (res.flows.overflowPackets > 0) {
    out.push(`  flow table full: ${res.flows.overflowPackets} packets not aggregated`);
  }
  if (res.groupBy.includes("src_ip")) {
    const talkers = new FlowTable(["src_ip"], res.flows.flowsMax);
    res.flows.rollupInto(talkers);
    const top = flowRows(talkers, ["src_ip"], limit, "bytes");
    out.push("", `Top talkers (sources by bytes, ${top.length} of ${talkers.size})`);
    out.push(
      ...table(
        ["source", "packets", "bytes", "share"],
        top.map((r) => [r.src_ip ?? "", r.packets, r.bytes, pct(r.bytes, t.wireBytes)]),
      ),
    );
  }
  out.push(
    "",
    `Top flows (${res.groupBy.join(", ")}; by packets, ${rows.length} of ${res.flows.size})`,
  );
  out.push(
    ...table(
      ["from", "to", "proto", "packets", "bytes"],
      rows.map((r) => [
        endpoint(r.src_ip, r.src_port),
        endpoint(r.dst_ip, r.dst_port),
        r.proto === undefined || r.proto === null ? "*" : protoName(r.proto),
        r.packets,
        r.bytes,
      ]),
    ),
  );
  if (res.warnings.length > 0) {
    out.push("", "Warnings");
    for (const w of res.warnings) out.push(`  ${w}`);
  }
  return out.join("\n") + "\n";
}
