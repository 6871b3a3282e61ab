/**
 * The application layer: DNS and HTTP/1.x per window, with TCP reassembly for both and IP
 * defragmentation; counted into per-window text tables handed over at each close.
 *
 * @module
 */

export {
  APP_NAMES,
  AppLayer,
  AppWindow,
  DNS_ERRORS,
  DNS_NXDOMAIN,
  DNS_QUERIES,
  DNS_RESPONSES,
  DNS_RTT_COUNT,
  DNS_RTT_MAX_US,
  DNS_RTT_SUM_US,
  HTTP_PROTOCOLS,
  STATUS_CODES,
} from "./app_layer.ts";
