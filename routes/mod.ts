/**
 * The HTTP side of the collector: routes over the engine's and the store's exported types.
 *
 * @module
 */

export { opsRoutes } from "./ops.ts";
export { labelValue, renderMetrics } from "./metrics.ts";
export {
  isLoopback,
  type Listen,
  LISTEN_DEFAULT,
  parseListen,
  serve,
  type Server,
  type Tls,
} from "./server.ts";
export {
  SQL_BODY_BYTES_MAX,
  SQL_ROWS_MAX,
  SQL_TIMEOUT_MS_MAX,
  type SqlAnswer,
  sqlRoutes,
} from "./sql.ts";
export { API_BASE, API_BODY_BYTES_MAX, apiRoutes } from "./api.ts";
export { type ApiDeps } from "./_api_env.ts";
export { Auth, newToken, type Scope, SESSION_COOKIE, sha256Hex } from "./auth.ts";
export { type AppParts, httpApp, QUERIES_MAX } from "./app.ts";
