/**
 * Timestamps of capture records as whole seconds + nanoseconds, exact for nanosecond
 * resolution (a Float64 of nanoseconds since 1970 would lose the last digits).
 *
 * @module
 */

import type { PacketBatch } from "../packet/mod.ts";

const LIMB = 65536;

/**
 * Stores `units` = hi·2³² + lo, counted in the pcapng `if_tsresol` unit `resolution`
 * (RFC draft-ietf-opsawg-pcapng §4.2: high bit clear = 10^-n, set = 2^-n), plus
 * `offsetSec` (`if_tsoffset`), into slot `i` of the batch.
 */
export function storeUnits(
  hi: number,
  lo: number,
  resolution: number,
  offsetSec: number,
  out: PacketBatch,
  i: number,
): void {
  const exp = resolution & 0x7f;
  if ((resolution & 0x80) === 0 && exp <= 9) {
    const divisor = 10 ** exp;
    // Long division over four 16-bit limbs keeps every step below 2^53.
    let rem = 0;
    let q = 0;
    const limbs0 = hi >>> 16, limbs1 = hi & 0xffff, limbs2 = lo >>> 16, limbs3 = lo & 0xffff;
    rem = limbs0;
    q = Math.floor(rem / divisor);
    rem -= q * divisor;
    let cur = rem * LIMB + limbs1;
    let d = Math.floor(cur / divisor);
    q = q * LIMB + d;
    rem = cur - d * divisor;
    cur = rem * LIMB + limbs2;
    d = Math.floor(cur / divisor);
    q = q * LIMB + d;
    rem = cur - d * divisor;
    cur = rem * LIMB + limbs3;
    d = Math.floor(cur / divisor);
    q = q * LIMB + d;
    rem = cur - d * divisor;
    out.tsSec[i] = q + offsetSec;
    out.tsNsec[i] = rem * 10 ** (9 - exp);
    return;
  }
  if ((resolution & 0x80) !== 0 && exp <= 32) {
    const scale = 2 ** exp;
    const whole = exp === 32 ? hi : hi * 2 ** (32 - exp) + Math.floor(lo / scale);
    const frac = exp === 32 ? lo : lo % scale;
    out.tsSec[i] = whole + offsetSec;
    out.tsNsec[i] = Math.floor((frac * 1e9) / scale);
    return;
  }
  // Finer than nanoseconds (rare writers): exact in BigInt, off the common path.
  const units = (BigInt(hi) << 32n) | BigInt(lo);
  const per = (resolution & 0x80) !== 0 ? 1n << BigInt(exp) : 10n ** BigInt(exp);
  out.tsSec[i] = Number(units / per) + offsetSec;
  out.tsNsec[i] = Number(((units % per) * 1_000_000_000n) / per);
}

/** Classic pcap: seconds + micro/nanoseconds; an out-of-range fraction carries over. */
export function storeSecFrac(
  sec: number,
  frac: number,
  fracPerSec: number,
  out: PacketBatch,
  i: number,
): void {
  let s = sec;
  let f = frac;
  if (f >= fracPerSec) {
    s += Math.floor(f / fracPerSec);
    f %= fracPerSec;
  }
  out.tsSec[i] = s;
  out.tsNsec[i] = fracPerSec === 1_000_000 ? f * 1000 : f;
}
