/**
 * Locations of the shared test captures and their tshark truth.
 *
 * @module
 */

export const PCAPS_DIR = new URL("../../shared/testdata/pcaps/", import.meta.url).pathname;

export interface TruthFlow {
  family: "ipv4" | "ipv6";
  src: string;
  dst: string;
  proto: number;
  sport: number | null;
  dport: number | null;
  packets: number;
  bytes: number;
  cap_bytes: number;
}

export interface Truth {
  file: string;
  frame_count: number;
  tshark_error: string | null;
  bytes: { frame_len_sum: number; cap_len_sum: number };
  non_ip_frames: number;
  flows: TruthFlow[];
  first_ts: string | null;
  last_ts: string | null;
  protocol_counts: { outer: { l3: Record<string, number>; l4: Record<string, number> } };
}

/** Every capture of the shared set with its truth, sorted by name. */
export function captures(): { path: string; name: string; truth: Truth }[] {
  const out = [];
  for (const e of Deno.readDirSync(PCAPS_DIR)) {
    if (!e.name.endsWith(".truth.json")) continue;
    const name = e.name.slice(0, -".truth.json".length);
    const truth = JSON.parse(Deno.readTextFileSync(PCAPS_DIR + e.name)) as Truth;
    out.push({ path: PCAPS_DIR + name, name, truth });
  }
  return out.sort((a, b) => a.name < b.name ? -1 : 1);
}

/** The captures tshark could read (the others are the readers' error cases). */
export function usableCaptures(): { path: string; name: string; truth: Truth }[] {
  return captures().filter((c) => !(c.truth.frame_count === 0 && c.truth.tshark_error));
}
