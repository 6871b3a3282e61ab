/**
 * Sketches: fixed-memory summaries of a packet stream, one algorithm per file, each over typed
 * arrays with no allocation per update, each serialisable with a version header.
 *
 * - `HyperLogLog` (hll.ts): distinct counts; mergeable byte for byte.
 * - `CountMin` (count_min.ts): point queries, optional conservative update; standard sketches
 *   mergeable byte for byte.
 * - `HeavyHitters` (heavy_hitters.ts): top keys by packets or bytes.
 * - `SpreadSketch` (spread.ts): keys meeting many distinct elements (super-spreaders, scans).
 * - hash.ts: the 64-bit hashing (two 32-bit lanes) they all take.
 *
 * Accuracy: bench/ACCURACY.md. The collector drives them through collector/sketch_bank.ts.
 *
 * @example
 * ```ts
 * import { hashWords, HyperLogLog } from "./mod.ts";
 * const h = new HyperLogLog(14), lanes = new Int32Array(2);
 * for (let i = 0; i < 100_000; i++) {
 *   hashWords(Int32Array.of(i), 0, 1, lanes);
 *   h.add(lanes[0]!, lanes[1]!);
 * }
 * console.log(Math.round(h.estimate())); // about 100000
 * ```
 *
 * @module
 */

export { HLL_P_MAX, HLL_P_MIN, HyperLogLog } from "./hll.ts";
export { CountMin } from "./count_min.ts";
export { HeavyHitters, HH_KEY_WORDS, type KeySource } from "./heavy_hitters.ts";
export { SpreadSketch } from "./spread.ts";
export { hashWords } from "./hash.ts";
export { SketchFormatError, SketchKind } from "./_serial.ts";
export { LANE_INDEX_MAX, LaneIndex } from "./_lane_index.ts";
export {
  addrLaneA,
  addrLaneB,
  finishA,
  finishB,
  hashBytes,
  laneA,
  laneB,
  stepA,
  stepB,
} from "./hash.ts";
export { HH_MEMORY_MAX, HH_MEMORY_MIN } from "./heavy_hitters.ts";
export { SPREAD_MEMORY_MAX, SPREAD_MEMORY_MIN } from "./spread.ts";
