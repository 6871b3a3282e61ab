/**
 * The store's schema as forward migrations; `schema_version` records which ran.
 * Every table is documented in storage/README.md.
 *
 * Wide tables hold only fixed-width columns (small source and task numbers, addresses as
 * UHUGEINT, a close-reason code) because the Appender takes those as raw buffers, while every
 * string costs a native call per value: on the benchmark's 525k rows a window that was 1.2 s of
 * DuckDB writes. The views give the same data with names and address text.
 *
 * @module
 */

/** IPv6 groups as "x:x:x:x:x:x:x:x" (lower-case hex, no leading zeros). */
const IP6_FULL = [112, 96, 80, 64, 48, 32, 16, 0]
  .map((s) => `((a >> ${s}) & 65535)::INTEGER`)
  .join(", ");

/** RFC 5952: the longest run of two or more zero groups (the first on a tie) becomes "::". */
function compressCase(): string {
  const arms = [];
  for (let n = 8; n >= 2; n--) {
    const run = ":0".repeat(n) + ":";
    arms.push(`WHEN contains(s, '${run}') THEN regexp_replace(s, '(:0){${n}}:', '::')`);
  }
  return `CASE ${arms.join(" ")} ELSE s END`;
}

/** Migration n (1-based) brings the schema from version n-1 to n. Never edit a shipped one. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE sources (
    source_no   UINTEGER PRIMARY KEY,
    source_id   VARCHAR NOT NULL UNIQUE,
    inputs      VARCHAR NOT NULL,
    window_sec  INTEGER NOT NULL,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    packets     UBIGINT,
    warnings    VARCHAR
  );
  CREATE TABLE tasks (
    source_no UINTEGER NOT NULL,
    task_no   USMALLINT NOT NULL,
    name      VARCHAR NOT NULL,
    kind      VARCHAR NOT NULL,
    key       VARCHAR NOT NULL,
    PRIMARY KEY (source_no, task_no)
  );
  CREATE TABLE window_totals (
    source_no      UINTEGER NOT NULL,
    window_start   TIMESTAMP NOT NULL,
    window_sec     INTEGER NOT NULL,
    packets        UBIGINT NOT NULL,
    bytes          UBIGINT NOT NULL,
    cap_bytes      UBIGINT NOT NULL,
    ipv4_packets   UBIGINT NOT NULL,
    ipv6_packets   UBIGINT NOT NULL,
    non_ip_packets UBIGINT NOT NULL,
    first_ns       HUGEINT,
    last_ns        HUGEINT
  );
  CREATE TABLE window_protocols (
    source_no    UINTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    proto        USMALLINT NOT NULL,
    packets      UBIGINT NOT NULL,
    bytes        UBIGINT NOT NULL
  );
  CREATE TABLE window_decode_errors (
    source_no    UINTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    reason       VARCHAR NOT NULL,
    packets      UBIGINT NOT NULL
  );
  CREATE TABLE window_tasks (
    source_no        UINTEGER NOT NULL,
    task_no          USMALLINT NOT NULL,
    window_start     TIMESTAMP NOT NULL,
    keys             UBIGINT NOT NULL,
    overflow_packets UBIGINT NOT NULL,
    overflow_bytes   UBIGINT NOT NULL
  );
  CREATE TABLE window_flows (
    source_no    UINTEGER NOT NULL,
    task_no      USMALLINT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    ip_version   UTINYINT,
    src_addr     UHUGEINT,
    dst_addr     UHUGEINT,
    proto        USMALLINT,
    src_port     INTEGER,
    dst_port     INTEGER,
    vlan         USMALLINT,
    packets      UBIGINT NOT NULL,
    bytes        UBIGINT NOT NULL,
    first_ns     HUGEINT,
    last_ns      HUGEINT,
    tcp_flags    USMALLINT NOT NULL
  );
  CREATE TABLE flow_records (
    source_no    UINTEGER NOT NULL,
    start_ns     HUGEINT,
    end_ns       HUGEINT,
    ip_version   UTINYINT NOT NULL,
    src_addr     UHUGEINT NOT NULL,
    dst_addr     UHUGEINT NOT NULL,
    src_port     INTEGER,
    dst_port     INTEGER,
    proto        USMALLINT NOT NULL,
    vlan         USMALLINT,
    packets_fwd  UBIGINT NOT NULL,
    bytes_fwd    UBIGINT NOT NULL,
    packets_rev  UBIGINT NOT NULL,
    bytes_rev    UBIGINT NOT NULL,
    tcp_flags    USMALLINT NOT NULL,
    syn          UINTEGER NOT NULL,
    syn_ack      UINTEGER NOT NULL,
    fin          UINTEGER NOT NULL,
    rst          UINTEGER NOT NULL,
    close_code   UTINYINT NOT NULL
  );
  CREATE MACRO ip4_text(a) AS
    concat_ws('.', (a >> 24) & 255, (a >> 16) & 255, (a >> 8) & 255, a & 255);
  CREATE MACRO ip6_text(a) AS CASE
    WHEN a >> 32 = 65535 THEN '::ffff:' || ip4_text(a & 4294967295)
    WHEN a >> 32 = 0 AND a >> 16 <> 0 THEN '::' || ip4_text(a)
    ELSE list_transform(
      [list_transform(
        [':' || printf('%x:%x:%x:%x:%x:%x:%x:%x', ${IP6_FULL}) || ':'],
        lambda s: ${compressCase()})[1]],
      lambda r: CASE
        WHEN starts_with(r, '::') AND ends_with(r, '::') THEN r
        WHEN starts_with(r, '::') THEN r[1:-2]
        WHEN ends_with(r, '::') THEN r[2:]
        ELSE r[2:-2] END)[1]
    END;
  CREATE MACRO ip_text(a, v) AS CASE WHEN v = 4 THEN ip4_text(a) WHEN v = 6 THEN ip6_text(a) END;
  CREATE MACRO close_reason(c) AS ['fin', 'rst', 'idle', 'active', 'end'][c];
  CREATE VIEW windows AS
    SELECT window_start, any_value(window_sec) AS window_sec, sum(packets) AS packets,
           sum(bytes) AS bytes, sum(ipv4_packets) AS ipv4_packets,
           sum(ipv6_packets) AS ipv6_packets, sum(non_ip_packets) AS non_ip_packets
    FROM window_totals GROUP BY window_start;
  CREATE VIEW flows AS
    SELECT t.name AS task, window_start, ip_text(src_addr, ip_version) AS src_ip,
           ip_text(dst_addr, ip_version) AS dst_ip, proto, src_port, dst_port, vlan,
           sum(packets) AS packets, sum(bytes) AS bytes, min(first_ns) AS first_ns,
           max(last_ns) AS last_ns, bit_or(tcp_flags) AS tcp_flags
    FROM window_flows f JOIN tasks t USING (source_no, task_no)
    GROUP BY t.name, window_start, ip_version, src_addr, dst_addr, proto, src_port, dst_port, vlan;
  CREATE VIEW connections AS
    SELECT s.source_id, start_ns, end_ns, ip_text(src_addr, ip_version) AS src_ip, src_port,
           ip_text(dst_addr, ip_version) AS dst_ip, dst_port, proto, vlan, packets_fwd, bytes_fwd,
           packets_rev, bytes_rev, tcp_flags, syn, syn_ack, fin, rst,
           close_reason(close_code) AS close_reason
    FROM flow_records JOIN sources s USING (source_no);
  `,
  // 2: sketch tasks (issue 5).
  `
  ALTER TABLE tasks ADD COLUMN params VARCHAR;
  CREATE TABLE window_sketches (
    source_no    UINTEGER NOT NULL,
    task_no      USMALLINT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    packets      UBIGINT NOT NULL,
    estimate     DOUBLE,
    sketch       BLOB NOT NULL
  );
  CREATE TABLE window_sketch_keys (
    source_no    UINTEGER NOT NULL,
    task_no      USMALLINT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    rank         UINTEGER NOT NULL,
    ip_version   UTINYINT,
    src_addr     UHUGEINT,
    dst_addr     UHUGEINT,
    proto        USMALLINT,
    src_port     INTEGER,
    dst_port     INTEGER,
    vlan         USMALLINT,
    packets      UBIGINT,
    bytes        UBIGINT,
    spread       DOUBLE
  );
  CREATE VIEW sketch_keys AS
    SELECT t.name AS task, t.kind, window_start, rank, ip_text(src_addr, ip_version) AS src_ip,
           ip_text(dst_addr, ip_version) AS dst_ip, proto, src_port, dst_port, vlan, packets,
           bytes, spread
    FROM window_sketch_keys JOIN tasks t USING (source_no, task_no);
  CREATE VIEW distinct_counts AS
    SELECT t.name AS task, t.key, window_start, estimate
    FROM window_sketches JOIN tasks t USING (source_no, task_no) WHERE t.kind = 'distinct';
  `,
  // 3: DNS and HTTP per window (issue 6).
  `
  CREATE TABLE window_dns (
    source_no    UINTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    protocol     VARCHAR NOT NULL,
    qname        VARCHAR NOT NULL,
    qtype        USMALLINT NOT NULL,
    queries      UBIGINT NOT NULL,
    responses    UBIGINT NOT NULL,
    nxdomain     UBIGINT NOT NULL,
    errors       UBIGINT NOT NULL,
    rtt_count    UBIGINT NOT NULL,
    rtt_sum_us   DOUBLE NOT NULL,
    rtt_max_us   DOUBLE NOT NULL
  );
  CREATE TABLE window_dns_rcodes (
    source_no    UINTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    protocol     VARCHAR NOT NULL,
    rcode        UTINYINT NOT NULL,
    responses    UBIGINT NOT NULL
  );
  CREATE TABLE window_http (
    source_no    UINTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    protocol     VARCHAR NOT NULL,
    host         VARCHAR,
    method       VARCHAR NOT NULL,
    path         VARCHAR NOT NULL,
    requests     UBIGINT NOT NULL
  );
  CREATE TABLE window_http_status (
    source_no    UINTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    protocol     VARCHAR NOT NULL,
    code         USMALLINT NOT NULL,
    responses    UBIGINT NOT NULL
  );
  CREATE VIEW dns_names AS
    SELECT protocol, qname, qtype, sum(queries) AS queries, sum(responses) AS responses,
           sum(nxdomain) AS nxdomain, sum(errors) AS errors,
           round(sum(rtt_sum_us) / nullif(sum(rtt_count), 0) / 1000, 3) AS avg_rtt_ms,
           round(max(CASE WHEN rtt_count > 0 THEN rtt_max_us END) / 1000, 3) AS max_rtt_ms
    FROM window_dns GROUP BY protocol, qname, qtype;
  CREATE VIEW http_requests AS
    SELECT protocol, host, method, path, sum(requests) AS requests
    FROM window_http GROUP BY protocol, host, method, path;
  `,
  // v4: HTTP requests per User-Agent.
  `
  CREATE TABLE window_http_agents (
    source_no    UINTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    protocol     VARCHAR NOT NULL,
    user_agent   VARCHAR NOT NULL,
    requests     UBIGINT NOT NULL
  );
  CREATE VIEW http_user_agents AS
    SELECT protocol, user_agent, sum(requests) AS requests
    FROM window_http_agents GROUP BY protocol, user_agent;
  `,
  // v5: window identities, late packets, records committed with their window (issue 12).
  `
  ALTER TABLE sources ADD COLUMN sensor_id VARCHAR;
  ALTER TABLE sources ADD COLUMN kind VARCHAR;
  ALTER TABLE sources ADD COLUMN content_bytes UBIGINT;
  ALTER TABLE window_totals ADD COLUMN late_packets UBIGINT DEFAULT 0;
  ALTER TABLE window_totals ADD COLUMN late_bytes UBIGINT DEFAULT 0;
  ALTER TABLE window_totals ADD COLUMN tracker_overflow_packets UBIGINT DEFAULT 0;
  ALTER TABLE window_totals ADD COLUMN part USMALLINT DEFAULT 0;
  ALTER TABLE flow_records ADD COLUMN window_start TIMESTAMP;
  CREATE OR REPLACE VIEW windows AS
    SELECT window_start, any_value(window_sec) AS window_sec, sum(packets) AS packets,
           sum(bytes) AS bytes, sum(ipv4_packets) AS ipv4_packets,
           sum(ipv6_packets) AS ipv6_packets, sum(non_ip_packets) AS non_ip_packets,
           sum(late_packets) AS late_packets
    FROM window_totals GROUP BY window_start;
  CREATE VIEW window_ids AS
    SELECT s.sensor_id, s.source_id, w.window_start, w.window_sec, w.part, t.name AS task,
           t.task_no
    FROM window_totals w JOIN sources s USING (source_no) JOIN tasks t USING (source_no);
  `,
  // v6: store-wide settings (the sketches' hash seed).
  `
  CREATE TABLE settings (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
  );
  `,
  // v7: a live source's capture counts per window (NULL for files and late parts; issue 13).
  `
  ALTER TABLE window_totals ADD COLUMN capture_received UBIGINT;
  ALTER TABLE window_totals ADD COLUMN capture_dropped UBIGINT;
  ALTER TABLE window_totals ADD COLUMN capture_skipped UBIGINT;
  ALTER TABLE window_totals ADD COLUMN capture_if_dropped UBIGINT;
  CREATE OR REPLACE VIEW windows AS
    SELECT window_start, any_value(window_sec) AS window_sec, sum(packets) AS packets,
           sum(bytes) AS bytes, sum(ipv4_packets) AS ipv4_packets,
           sum(ipv6_packets) AS ipv6_packets, sum(non_ip_packets) AS non_ip_packets,
           sum(late_packets) AS late_packets, sum(capture_received) AS capture_received,
           sum(capture_dropped) AS capture_dropped, sum(capture_if_dropped) AS capture_if_dropped
    FROM window_totals GROUP BY window_start;
  `,
  // v8: the order windows were committed in, for the live stream's resume (issue 14). Rows
  // stored before have none. The counter moves in each window's own transaction: a window
  // written again after a failure gets the same number, and none is ever reused.
  `
  ALTER TABLE window_totals ADD COLUMN commit_seq UBIGINT;
  INSERT INTO settings VALUES ('commit_seq', '0');
  `,
  // v9: hourly rollups of the exact tables, for questions over long ranges (issue 14;
  // storage/_rollup.ts). An hour in rollup_hours has every window_flows row of it summed here.
  `
  CREATE TABLE rollup_flows_hour (
    source_no    UINTEGER NOT NULL,
    task_no      USMALLINT NOT NULL,
    hour_start   TIMESTAMP NOT NULL,
    ip_version   UTINYINT,
    src_addr     UHUGEINT,
    dst_addr     UHUGEINT,
    proto        USMALLINT,
    src_port     INTEGER,
    dst_port     INTEGER,
    vlan         USMALLINT,
    packets      UBIGINT NOT NULL,
    bytes        UBIGINT NOT NULL
  );
  CREATE TABLE rollup_hours (hour_start TIMESTAMP PRIMARY KEY);
  `,
  // v10: the export outbox (issue 15; storage/_outbox.ts). A window written while sinks are
  // named gets, in its own transaction, its rows to send (export_payloads, one per table) and
  // one entry per sink; the forwarder sends them in commit order and marks them sent.
  `
  CREATE TABLE export_sinks (sink VARCHAR PRIMARY KEY, named_at TIMESTAMP NOT NULL);
  CREATE TABLE export_outbox (
    sink         VARCHAR NOT NULL,
    commit_seq   UBIGINT NOT NULL,
    source_no    UINTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    part         USMALLINT NOT NULL,
    state        VARCHAR NOT NULL,
    attempts     UINTEGER NOT NULL,
    last_error   VARCHAR,
    rows         UBIGINT NOT NULL,
    checksum     VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    sent_at      TIMESTAMP,
    PRIMARY KEY (sink, commit_seq)
  );
  CREATE TABLE export_payloads (
    commit_seq UBIGINT NOT NULL,
    tbl        VARCHAR NOT NULL,
    rows       UBIGINT NOT NULL,
    body       BLOB NOT NULL,
    PRIMARY KEY (commit_seq, tbl)
  );
  `,
  // v11: each payload's size kept beside it: the backlog's bytes and a batch's limits are
  // read without loading the payloads themselves.
  `
  ALTER TABLE export_payloads ADD COLUMN bytes UBIGINT;
  UPDATE export_payloads SET bytes = octet_length(body);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
