/**
 * Deterministic synthetic traffic (`netspectra gen`): Zipf flows, DNS, HTTP, scans and
 * floods, as a pcap.
 *
 * @module
 */

export { SCANS_MAX } from "./attacks.ts";
export { GEN_DEFAULTS, GEN_FLOWS_MAX, GEN_PACKETS_MAX, generate } from "./gen.ts";
