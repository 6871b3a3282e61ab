/**
 * Live capture: frames from a network device, through an AF_PACKET ring read in place,
 * into the same PacketBatch as the capture files, so decoding and everything after it is shared.
 *
 * @module
 */

export {
  BUFFER_BYTES_DEFAULT,
  BUFFER_BYTES_MAX,
  BUFFER_BYTES_MIN,
  type LiveOptions,
  LiveRing,
  type LiveStats,
  SNAPLEN_DEFAULT,
} from "./ring.ts";
export { compileFilter, FILTER_CHARS_MAX } from "./bpf.ts";
