/**
 * Bulk rows into an Appender through data chunks: values go into the chunk's vectors (plain
 * typed arrays for fixed-width types) and cross into DuckDB once per 2048 rows, instead of one
 * native call per value as `appendX()` does (measured 2–3× faster on window_flows).
 *
 * @module
 */

import {
  type DuckDBAppender,
  DuckDBDataChunk,
  type DuckDBType,
  type DuckDBValue,
  type DuckDBVector,
} from "@duckdb/node-api";

/** DuckDB's vector size: a chunk holds at most this many rows. */
const CHUNK_ROWS = 2048;

export class ChunkWriter {
  private chunk: DuckDBDataChunk;
  private vectors: DuckDBVector[];
  private row = 0;
  rows = 0;

  constructor(private readonly appender: DuckDBAppender, private readonly types: DuckDBType[]) {
    this.chunk = DuckDBDataChunk.create(types, CHUNK_ROWS);
    this.vectors = types.map((_, c) => this.chunk.getColumnVector(c));
  }

  /** Sets column `col` of the current row. */
  set(col: number, value: DuckDBValue): void {
    this.vectors[col]!.setItem(this.row, value);
  }

  endRow(): void {
    this.row++;
    this.rows++;
    if (this.row === CHUNK_ROWS) this.flush();
  }

  /** Hands the rows so far to the appender. */
  flush(): void {
    if (this.row === 0) return;
    for (const v of this.vectors) v.flush();
    this.chunk.rowCount = this.row;
    this.appender.appendDataChunk(this.chunk);
    this.chunk = DuckDBDataChunk.create(this.types, CHUNK_ROWS);
    this.vectors = this.types.map((_, c) => this.chunk.getColumnVector(c));
    this.row = 0;
  }
}
