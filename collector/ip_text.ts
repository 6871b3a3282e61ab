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
