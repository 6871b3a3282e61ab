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
