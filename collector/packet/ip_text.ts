/**
 * Addresses as text: IPv4 dotted quad, IPv6 in RFC 5952 form (lower case, longest zero run
 * compressed, first one on a tie, a single zero group never compressed), with the IPv4 tail
 * of mapped/compatible addresses written dotted, as inet_ntop and tshark do.
 *
 * @module
 */

/** `a` is the address as an unsigned 32-bit number. */
export function ipv4Text(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** `words` holds the address as four big-endian 32-bit words starting at `at`. */
export function ipv6Text(words: ArrayLike<number>, at = 0): string {
  const g: number[] = [];
  for (let k = 0; k < 4; k++) {
    const w = words[at + k]! >>> 0;
    g.push(w >>> 16, w & 0xffff);
  }
  let bestBase = -1, bestLen = 0, curBase = -1, curLen = 0;
  for (let k = 0; k < 8; k++) {
    if (g[k] === 0) {
      if (curBase < 0) curBase = k, curLen = 1;
      else curLen++;
      if (curLen > bestLen) bestBase = curBase, bestLen = curLen;
    } else curBase = -1, curLen = 0;
  }
  if (bestLen < 2) bestBase = -1;
  const tailV4 = bestBase === 0 && (bestLen === 6 || (bestLen === 5 && g[5] === 0xffff));
  let s = "";
  for (let k = 0; k < 8; k++) {
    if (k === bestBase) {
      s += ":";
      k += bestLen - 1;
      if (k === 7) s += ":";
      continue;
    }
    if (k > 0) s += ":";
    if (k === 6 && tailV4) {
      s += ipv4Text(words[at + 3]! >>> 0);
      break;
    }
    s += g[k]!.toString(16);
  }
  return s;
}

/**
 * Parses an address written as text: IPv4 dotted quad, or IPv6 with at most one "::" and an
 * optional dotted IPv4 tail. Returns [family, four big-endian words] or null.
 */
export function parseIp(text: string): [4 | 6, Uint32Array] | null {
  const v4 = (s: string): number | null => {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
    if (m === null) return null;
    const o = m.slice(1).map(Number);
    if (o.some((x) => x > 255)) return null;
    return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
  };
  const a4 = v4(text);
  if (a4 !== null) return [4, Uint32Array.of(a4, 0, 0, 0)];
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.split("::").length > 2) return null;
  const groupsOf = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let k = 0; k < parts.length; k++) {
      const p = parts[k]!;
      if (k === parts.length - 1 && p.includes(".")) {
        const t = v4(p);
        if (t === null) return null;
        out.push(t >>> 16, t & 0xffff);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return null;
    }
    return out;
  };
  const [head, tail] = text.split("::");
  const h = groupsOf(head!), t = tail === undefined ? [] : groupsOf(tail);
  if (h === null || t === null) return null;
  const fill = 8 - h.length - t.length;
  if (tail === undefined ? fill !== 0 : fill < 1) return null;
  const g = [...h, ...new Array(tail === undefined ? 0 : fill).fill(0), ...t];
  const w = new Uint32Array(4);
  for (let k = 0; k < 4; k++) w[k] = ((g[2 * k]! << 16) | g[2 * k + 1]!) >>> 0;
  return [6, w];
}
