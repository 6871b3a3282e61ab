/**
 * The store's schema as forward migrations; `schema_version` records which ran.
 * Every table is documented in storage/README.md.
 *
 * @module
 */

/** Migration n (1-based) brings the schema from version n-1 to n. Never edit a shipped one. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE sources (
    source_id   VARCHAR PRIMARY KEY,
    inputs      VARCHAR NOT NULL,
    window_sec  INTEGER NOT NULL,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    packets     UBIGINT,
    warnings    VARCHAR
  );
  CREATE TABLE window_totals (
    source_id      VARCHAR NOT NULL,
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
    source_id    VARCHAR NOT NULL,
    window_start TIMESTAMP NOT NULL,
    proto        USMALLINT NOT NULL,
    packets      UBIGINT NOT NULL,
    bytes        UBIGINT NOT NULL
  );
  CREATE TABLE window_decode_errors (
    source_id    VARCHAR NOT NULL,
    window_start TIMESTAMP NOT NULL,
    reason       VARCHAR NOT NULL,
    packets      UBIGINT NOT NULL
  );
  CREATE TABLE window_flows (
    source_id    VARCHAR NOT NULL,
    task         VARCHAR NOT NULL,
    window_start TIMESTAMP NOT NULL,
    src_ip       VARCHAR,
    dst_ip       VARCHAR,
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
    source_id    VARCHAR NOT NULL,
    start_ns     HUGEINT,
    end_ns       HUGEINT,
    src_ip       VARCHAR NOT NULL,
    dst_ip       VARCHAR NOT NULL,
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
    close_reason VARCHAR NOT NULL
  );
  CREATE VIEW windows AS
    SELECT window_start, any_value(window_sec) AS window_sec, sum(packets) AS packets,
           sum(bytes) AS bytes, sum(ipv4_packets) AS ipv4_packets,
           sum(ipv6_packets) AS ipv6_packets, sum(non_ip_packets) AS non_ip_packets
    FROM window_totals GROUP BY window_start;
  CREATE VIEW flows AS
    SELECT task, window_start, src_ip, dst_ip, proto, src_port, dst_port, vlan,
           sum(packets) AS packets, sum(bytes) AS bytes, min(first_ns) AS first_ns,
           max(last_ns) AS last_ns, bit_or(tcp_flags) AS tcp_flags
    FROM window_flows
    GROUP BY task, window_start, src_ip, dst_ip, proto, src_port, dst_port, vlan;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
