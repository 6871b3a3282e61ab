/**
 * Differential check against a real tshark (4.0, Debian's `tshark` package; not needed by the
 * test suite): every frame's outer family, addresses, IPv4 protocol and ports as NetSpectra
 * decodes them, next to tshark's per-packet view (the truth README's definitions), on mutated
 * real packets or on given files. Prints the frames that differ.
 *
 *   deno task tshark-diff [--packets N] [--seed S] [FILE...]
 *
 * @module
 */

import { PacketBatch } from "../collector/packet/batch.ts";
import { decodeBatch, ERROR_NAMES } from "../collector/decode/mod.ts";
import { FLAG_HAS_PORTS } from "../collector/packet/batch.ts";
import { rng } from "../collector/gen/gen.ts";
import { ipv4Text, ipv6Text } from "../collector/packet/ip_text.ts";
import { openCapture } from "../collector/reader/mod.ts";
import { parseArgs, parseCount } from "../cli/args.ts";
import { pcapFile } from "./_builders.ts";
import { seedPackets } from "./_fuzz.ts";

interface FrameView {
  family: string;
  src: string;
  dst: string;
  proto: string;
  sport: string;
  dport: string;
}

const NONE: FrameView = { family: "-", src: "", dst: "", proto: "", sport: "", dport: "" };
const EXT = new Set(["ipv6.hopopts", "ipv6.routing", "ipv6.fraghdr", "ipv6.dstopts"]);

type Layers = Record<string, unknown>;
const first = (v: unknown): Record<string, unknown> | undefined =>
  (Array.isArray(v) ? v[0] : v) as Record<string, unknown> | undefined;
const str = (v: unknown): string => v === undefined ? "" : String(Array.isArray(v) ? v[0] : v);

/**
 * tshark's view of one frame, following the truth README's flow definition: the outermost
 * ip/ipv6 layer that has both addresses. An IPv4 header whose options tshark follows (source
 * routes) or cannot finish shows no top-level destination: the truth uses the header's field
 * there, which tshark's output does not carry, so such frames compare source and ports only.
 */
function tsharkView(layers: Layers): FrameView | "partial" {
  const protos = str(first(layers.frame)?.["frame.protocols"]).split(":");
  const seen: Record<string, number> = {};
  for (let at = 0; at < protos.length; at++) {
    const name = protos[at]!;
    if (name !== "ip" && name !== "ipv6") continue;
    const nth = seen[name] = (seen[name] ?? -1) + 1;
    const v4 = name === "ip";
    const all = layers[name];
    const ip = (Array.isArray(all) ? all[nth] : nth === 0 ? all : undefined) as
      | Record<string, unknown>
      | undefined;
    const src = str(ip?.[v4 ? "ip.src" : "ipv6.src"]);
    const dst = str(ip?.[v4 ? "ip.dst" : "ipv6.dst"]);
    if (v4 && src !== "" && dst === "" && Number(str(ip?.["ip.hdr_len"])) > 20) return "partial";
    if (src === "" || dst === "") continue;
    let k = at + 1;
    while (k < protos.length && EXT.has(protos[k]!)) k++;
    const l4 = protos[k];
    let sport = "", dport = "";
    if (l4 === "tcp" || l4 === "udp") {
      const t = first(layers[l4]);
      sport = str(t?.[`${l4}.srcport`]);
      dport = str(t?.[`${l4}.dstport`]);
      if (sport === "" || dport === "") sport = dport = "";
    }
    return {
      family: v4 ? "4" : "6",
      src,
      dst,
      proto: v4 ? str(ip?.["ip.proto"]) : "",
      sport,
      dport,
    };
  }
  return NONE;
}

async function ourViews(path: string): Promise<{ views: FrameView[]; errors: string[] }> {
  const reader = await openCapture(path);
  const batch = new PacketBatch();
  const views: FrameView[] = [];
  const errors: string[] = [];
  while (await reader.fill(batch) > 0) {
    decodeBatch(batch);
    for (let i = 0; i < batch.length; i++) {
      errors.push(ERROR_NAMES[batch.error[i]!]!);
      const fam = batch.family[i]!;
      if (fam === 0) {
        views.push(NONE);
        continue;
      }
      const ports = (batch.flags[i]! & FLAG_HAS_PORTS) !== 0;
      views.push({
        family: String(fam),
        src: fam === 4 ? ipv4Text(batch.src[i * 4]!) : ipv6Text(batch.src, i * 4),
        dst: fam === 4 ? ipv4Text(batch.dst[i * 4]!) : ipv6Text(batch.dst, i * 4),
        proto: fam === 4 ? String(batch.proto[i]) : "",
        sport: ports ? String(batch.srcPort[i]) : "",
        dport: ports ? String(batch.dstPort[i]) : "",
      });
    }
  }
  reader.close();
  return { views, errors };
}

async function tsharkViews(path: string): Promise<(FrameView | "partial")[]> {
  const out = await new Deno.Command("tshark", {
    args: [
      "-n",
      "-r",
      path,
      "-T",
      "json",
      "--no-duplicate-keys",
      "-o",
      "ip.defragment:FALSE",
      "-o",
      "ipv6.defragment:FALSE",
      "-o",
      "tcp.desegment_tcp_streams:FALSE",
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  const packets = JSON.parse(new TextDecoder().decode(out.stdout) || "[]") as {
    _source: { layers: Layers };
  }[];
  return packets.map((p) => tsharkView(p._source.layers));
}

async function compare(path: string, label: string): Promise<number> {
  const [ours, theirs] = await Promise.all([ourViews(path), tsharkViews(path)]);
  let diffs = 0;
  const n = Math.min(ours.views.length, theirs.length);
  if (ours.views.length !== theirs.length) {
    console.log(`${label}: frame count ours ${ours.views.length}, tshark ${theirs.length}`);
  }
  let partial = 0;
  for (let k = 0; k < n; k++) {
    const t = theirs[k]!;
    if (t === "partial") {
      partial++;
      continue;
    }
    const a = JSON.stringify(ours.views[k]), b = JSON.stringify(t);
    if (a === b) continue;
    diffs++;
    if (diffs <= 15) {
      console.log(`${label} frame ${k + 1} (${ours.errors[k]}):\n  ours   ${a}\n  tshark ${b}`);
    }
  }
  console.log(`${label}: ${n} frames, ${diffs} differ (${partial} with IPv4 options not compared)`);
  return diffs;
}

const args = parseArgs(Deno.args, { values: ["packets", "seed"], booleans: [] }, "tshark-diff");
let total = 0;
if (args.positionals.length > 0) {
  for (const f of args.positionals) total += await compare(f, f);
} else {
  const count = parseCount("packets", args.values.get("packets") ?? "3000", 1, 1e6);
  const rand = rng(parseCount("seed", args.values.get("seed") ?? "1", 0, 0xffffffff));
  const seeds = await seedPackets();
  const byLink = new Map<number, typeof seeds>();
  for (const s of seeds) byLink.set(s.link, [...(byLink.get(s.link) ?? []), s]);
  // Link types without a shared capture: wrap the IP packets of the Ethernet seeds.
  const hex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
  const ip = (byLink.get(1) ?? []).map((s) => ({ s, type: (s.bytes[12]! << 8) | s.bytes[13]! }))
    .filter((x) => x.type === 0x0800 || x.type === 0x86dd)
    .map((x) => ({ v6: x.type === 0x86dd, bytes: x.s.bytes.subarray(14), eth: x.s.bytes }));
  const snap = (v6: boolean) => hex(v6 ? "aaaa03000000" + "86dd" : "aaaa03000000" + "0800");
  const cat = (...p: Uint8Array[]) => {
    const o = new Uint8Array(p.reduce((n, x) => n + x.length, 0));
    let k = 0;
    for (const x of p) o.set(x, k), k += x.length;
    return o;
  };
  const wrappers: Record<number, (v6: boolean, pkt: Uint8Array, eth: Uint8Array) => Uint8Array> = {
    6: (v6, p) => cat(hex("1040020000000001020000000002"), snap(v6), p),
    9: (v6, p) => cat(hex(v6 ? "ff030057" : "ff030021"), p),
    10: (v6, p) => cat(hex("50020000000001020000000002"), snap(v6), p),
    11: (v6, p) => cat(snap(v6), p),
    51: (v6, p) =>
      cat(
        hex("11000001" + (p.length + 2).toString(16).padStart(4, "0") + (v6 ? "0057" : "0021")),
        p,
      ),
    104: (v6, p) => cat(hex(v6 ? "0f0086dd" : "0f000800"), p),
    105: (v6, p) =>
      cat(hex("08020000" + "020000000001020000000002020000000003" + "0000"), snap(v6), p),
    107: (v6, p) => cat(hex(v6 ? "0401038e" : "040103cc"), p),
    108: (v6, p) => cat(hex(v6 ? "00000018" : "00000002"), p),
    109: (v6, p) => cat(hex(v6 ? "18000000" : "02000000"), hex("0000000000000000"), p),
    117: (v6, p) => cat(hex(v6 ? "3d18" : "3d02"), new Uint8Array(62), p),
    127: (v6, p) =>
      cat(
        hex("0000080000000000" + "08020000" + "020000000001020000000002020000000003" + "0000"),
        snap(v6),
        p,
      ),
    192: (v6, p, e) =>
      v6 ? cat(hex("0000080001000000"), e) : cat(
        hex("0000080069000000" + "08020000" + "020000000001020000000002020000000003" + "0000"),
        snap(v6),
        p,
      ),
    239: (v6, p) => {
      const len = 4 + p.length;
      const tlv = hex(
        (v6 ? "0a000000" : "02000000") + (len & 255).toString(16).padStart(2, "0") +
          (len >> 8).toString(16).padStart(2, "0") + "0900",
      );
      return cat(tlv, p, new Uint8Array((4 - (len & 3)) & 3));
    },
    240: (_v6, _p, e) => cat(hex("00040000"), e),
    241: (_v6, _p, e) => cat(new Uint8Array(4), hex("55555555555555d5"), e),
    242: (v6, p) => cat(new Uint8Array(40), hex(v6 ? "86dd0000" : "08000000"), p),
  };
  if (ip.length > 0) {
    for (const [link, wrap] of Object.entries(wrappers)) {
      byLink.set(
        Number(link),
        ip.map((x) => {
          const bytes = wrap(x.v6, x.bytes, x.eth);
          return { link: Number(link), bytes, wire: bytes.length };
        }),
      );
    }
  }
  const dir = await Deno.makeTempDir({ prefix: "netspectra-tshark-diff-" });
  const keep = Deno.env.get("KEEP") === "1";
  try {
    for (const [link, list] of byLink) {
      const recs = [];
      for (let k = 0; k < count; k++) {
        const s = list[Math.floor(rand() * list.length)]!;
        const data = s.bytes.slice();
        const edits = 1 + Math.floor(rand() * 3);
        let len = data.length;
        for (let e = 0; e < edits && len > 0; e++) {
          const r = rand();
          const at = Math.floor(rand() * len);
          if (r < 0.5) data[at] = data[at]! ^ (1 << Math.floor(rand() * 8));
          else if (r < 0.8) {
            data[at] = [0, 0xff, 0x06, 0x11, 0x2c, 0x3c, 0x45, 0x60][Math.floor(rand() * 8)]!;
          } else len = Math.floor(rand() * (len + 1));
        }
        recs.push({
          sec: 1_700_000_000 + k,
          frac: 0,
          data: data.subarray(0, len),
          wireLen: Math.max(len, s.wire),
        });
      }
      const path = `${dir}/link${link}.pcap`;
      await Deno.writeFile(path, pcapFile(recs, { linkType: link }));
      total += await compare(path, `link ${link}`);
    }
  } finally {
    if (keep) console.log(`captures kept in ${dir}`);
    else await Deno.remove(dir, { recursive: true });
  }
}
console.log(`${total} frames differ in all`);
