/**
 * Questions asked of the store's history for people and the API: the filter language and,
 * built on it, the queries behind the API's answers.
 *
 * @module
 */

export {
  type Comparison,
  type FieldKind,
  type FieldSet,
  type Filter,
  FILTER_CHARS_MAX,
  FILTER_DEPTH_MAX,
  FILTER_LIST_MAX,
  FilterError,
  FLOW_FIELDS,
  parseFilter,
  RECORD_FIELDS,
  type Value,
} from "./filter.ts";
export { filterSql, SqlParams } from "./filter_sql.ts";
export {
  type FlowAnswer,
  type FlowQuestion,
  GROUP_FIELDS,
  type GroupField,
  LIMIT_DEFAULT,
  LIMIT_MAX,
  type Losses,
  type Metric,
  METRICS,
  POINTS_DEFAULT,
  POINTS_MAX,
  queryFlows,
  type Summary,
} from "./flows.ts";
export { QUERY_TIMEOUT_MS_DEFAULT, type QueryContext, type Row } from "./_sql.ts";
export { SERIES_DEFAULT, SERIES_MAX, type SeriesAnswer, timeSeries, topFlows } from "./series.ts";
export {
  queryRecords,
  RECORDS_LIMIT_MAX,
  type RecordsAnswer,
  type RecordsQuestion,
} from "./records.ts";
export { type AppAnswer, type AppQuestion, queryDns, queryHttp } from "./app.ts";
export { querySources, queryStoreStatus, type StoreStatus } from "./store_info.ts";
export { commitRange, EVENT_TOP, type WindowEvent, windowEvents } from "./live_events.ts";
export { querySketches, type SketchAnswer } from "./sketches.ts";
export { RangeViews, type ViewCounts } from "./range_views.ts";
