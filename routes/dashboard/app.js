// NetSpectra's dashboard: one page over the collector's own API (/api/v1). The panels are
// read when the page opens, when the range, metric or filter change, and when the live
// stream says a window was stored — the page polls nothing on a timer. The session cookie
// (HttpOnly) carries the login; this script never holds a token after posting it.
"use strict";

const API = "/api/v1";
const state = { range: "-1h", metric: "bytes", filter: "", refreshes: 0, windows: 0 };
let chart = null;
let pending = null;
let source = null;

const $ = (id) => document.getElementById(id);

class Unauthorized extends Error {}

async function api(path, params = {}) {
  const url = new URL(API + path, location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
  }
  const res = await fetch(url, { credentials: "same-origin" });
  if (res.status === 401) throw new Unauthorized();
  const body = await res.json();
  if (!res.ok) throw new Error(body.detail || `HTTP ${res.status}`);
  return body;
}

function fmtNum(n) {
  if (n === null || n === undefined) return "";
  const v = Number(n);
  if (Math.abs(v) >= 1e9) return (v / 1e9).toFixed(2) + " G";
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(2) + " M";
  if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(1) + " k";
  return String(Math.round(v * 100) / 100);
}

const PROTO = {
  1: "icmp",
  2: "igmp",
  6: "tcp",
  17: "udp",
  47: "gre",
  50: "esp",
  58: "icmpv6",
  132: "sctp",
};
const protoName = (p) => (p === "other" ? "other" : PROTO[p] ?? String(p));

/** Fills `table` with a header and rows; `cols` are [title, value(row), numeric?]; a bar on `bar`. */
function fill(table, cols, rows, bar) {
  table.replaceChildren();
  const head = table.insertRow();
  for (const [title, , numeric] of cols) {
    const th = document.createElement("th");
    th.textContent = title;
    if (numeric) th.className = "n";
    head.appendChild(th);
  }
  if (bar) head.appendChild(document.createElement("th"));
  // The other row is usually the largest: bars are scaled to the rows shown by name.
  const named = rows.filter((r) => r.other === undefined);
  const max = bar ? named.reduce((m, r) => Math.max(m, Number(bar(r)) || 0), 0) : 0;
  for (const r of rows) {
    const tr = table.insertRow();
    if (r.other !== undefined) tr.className = "other";
    for (const [, value, numeric] of cols) {
      const td = tr.insertCell();
      const v = value(r);
      td.textContent = numeric ? fmtNum(v) : v ?? "";
      if (numeric) td.className = "n";
    }
    if (bar) {
      const td = tr.insertCell();
      td.className = "bar";
      const span = document.createElement("span");
      span.style.width = max > 0 ? `${Math.min(100, (100 * (Number(bar(r)) || 0)) / max)}%` : "0";
      td.appendChild(span);
    }
  }
  if (rows.length === 0) table.insertRow().insertCell().textContent = "nothing in this range";
}

function drawChart(ts) {
  const step = ts.summary.step_sec || 60;
  const data = [ts.times, ...ts.series.map((s) => s.values.map((v) => v / step))];
  const unit = state.metric === "bytes" ? "bytes/s" : "packets/s";
  const series = [
    {},
    ...ts.series.map((s, i) => ({
      label: s.key && s.key.proto !== undefined ? protoName(s.key.proto) : s.label,
      stroke: ["#4a78c2", "#e07b39", "#2e8b57", "#9b59b6", "#c0392b", "#7f8c8d"][i % 6],
      width: 1.5,
      value: (_, v) => (v === null ? "" : fmtNum(v) + " " + unit),
    })),
  ];
  const el = $("chart-rate");
  const width = Math.max(300, el.clientWidth || 800);
  if (chart !== null) chart.destroy();
  chart = new uPlot(
    {
      width,
      height: 240,
      series,
      axes: [{}, { values: (_, ticks) => ticks.map(fmtNum), size: 60 }],
      scales: { x: { time: true } },
    },
    data,
    el,
  );
}

/** Runs `jobs` two at a time (the server answers a few questions at once, an edge box). */
async function inTurns(jobs) {
  const out = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const k = next++;
      out[k] = await jobs[k]();
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

async function refresh() {
  const common = { from: state.range, filter: state.filter, metric: state.metric };
  const [ts, proto, src, conv, dns, http, sk] = await inTurns([
    () => api("/timeseries", { ...common, group_by: "proto", series: 5 }),
    () => api("/top/proto", { ...common, limit: 8 }),
    () => api("/top/src_ip", { ...common, limit: 10 }),
    () => api("/query", { ...common, group_by: "src_ip,dst_ip", limit: 10 }),
    () => api("/dns", { from: state.range, limit: 10 }),
    () => api("/http", { from: state.range, limit: 10 }),
    () => api("/sketches", { from: state.range, limit: 10 }),
  ]);
  const m = state.metric;
  drawChart(ts);
  const s = ts.summary;
  $("coverage").textContent = s.covered === null
    ? "no windows in this range"
    : `${s.windows} windows, ${s.covered.from} – ${s.covered.to}; ${
      fmtNum(s.matched[m])
    } ${m} matched of ${fmtNum(s.totals[m])}`;
  fill(
    $("t-proto"),
    [["protocol", (r) => protoName(r.proto)], [m, (r) => r[m], true]],
    proto.rows,
    (r) => r[m],
  );
  fill(
    $("t-src"),
    [["source", (r) => r.src_ip], ["packets", (r) => r.packets, true], [
      "bytes",
      (r) => r.bytes,
      true,
    ]],
    src.rows,
    (r) => r[m],
  );
  fill(
    $("t-conv"),
    [["source", (r) => r.src_ip], ["destination", (r) => r.dst_ip], [m, (r) => r[m], true]],
    conv.rows,
    (r) => r[m],
  );
  const l = s.losses;
  fill($("t-loss"), [["what", (r) => r.what], ["packets", (r) => r.n, true]], [
    { what: "dropped by the capture buffer", n: l.capture_dropped },
    { what: "dropped by the interface", n: l.capture_if_dropped },
    { what: "not aggregated (table full)", n: l.overflow_packets },
    { what: "late (stored as late parts)", n: l.late_packets },
    { what: "decode errors", n: l.decode_errors },
  ]);
  fill(
    $("t-dns"),
    [["name", (r) => r.qname], ["queries", (r) => r.queries, true], [
      "NXDOMAIN",
      (r) => r.nxdomain,
      true,
    ]],
    dns.names,
    (r) => r.queries,
  );
  fill(
    $("t-http"),
    [["host", (r) => r.host ?? "(none)"], ["requests", (r) => r.requests, true]],
    http.hosts,
    (r) => r.requests,
  );
  const hh = sk.heavy_hitters[0];
  fill(
    $("t-hh"),
    [["key", (r) => keyText(r, hh?.key ?? [])], ["packets", (r) => r.packets, true], [
      "bytes",
      (r) => r.bytes,
      true,
    ]],
    hh ? hh.rows : [],
    (r) => r[m],
  );
  const spread = sk.spread.flatMap((t) => t.rows.map((r) => ({ ...r, task: t.task, key: t.key })));
  fill(
    $("t-spread"),
    [["task", (r) => r.task], ["key", (r) => keyText(r, r.key)], ["spread", (r) => r.spread, true]],
    spread.slice(0, 12),
    (r) => r.spread,
  );
  fill($("t-distinct"), [
    ["task", (r) => r.task],
    ["estimate", (r) => Math.round(r.estimate), true],
    ["± %", (r) => 100 * r.standard_error, true],
    ["exact", (r) => r.exact, true],
  ], sk.distinct);
  state.refreshes++;
  document.body.dataset.refreshes = String(state.refreshes);
}

function keyText(r, key) {
  return key.map((f) => (f === "proto" ? protoName(r[f]) : r[f])).join(" ");
}

/** Runs a refresh; a burst of window events makes one (windows of a second come often). */
function scheduleRefresh(delayMs) {
  if (pending !== null) return;
  pending = setTimeout(() => {
    pending = null;
    refresh().catch(showError);
  }, delayMs);
}

function showError(e) {
  if (e instanceof Unauthorized) return showLogin();
  $("filter-error").hidden = false;
  $("filter-error").textContent = String(e.message || e);
}

function showLogin() {
  $("panels").hidden = true;
  $("login").hidden = false;
  if (source !== null) source.close(), source = null;
}

function recentWindow(w) {
  const t = $("t-windows");
  if (t.rows.length === 0) {
    const head = t.insertRow();
    for (const h of ["window", "source", "packets", "bytes", "dropped"]) {
      const th = document.createElement("th");
      th.textContent = h;
      head.appendChild(th);
    }
  }
  const tr = t.insertRow(1);
  const cells = [
    w.window_start + (w.part > 0 ? ` (late ${w.part})` : ""),
    w.source.slice(0, 16),
    fmtNum(w.packets),
    fmtNum(w.bytes),
    fmtNum(w.capture ? w.capture.dropped : 0),
  ];
  for (const c of cells) tr.insertCell().textContent = c;
  while (t.rows.length > 11) t.deleteRow(t.rows.length - 1);
}

function startLive() {
  source = new EventSource(`${API}/live`);
  source.addEventListener("open", () => $("live").className = "badge on");
  source.addEventListener("error", () => $("live").className = "badge off");
  source.addEventListener("tick", (e) => {
    const t = JSON.parse(e.data);
    $("rate").textContent = `${fmtNum(t.packets_per_sec)} packets/s · ${
      fmtNum(8 * t.bytes_per_sec)
    } bit/s · ${fmtNum(t.dropped_per_sec)} drops/s`;
  });
  source.addEventListener("window", (e) => {
    state.windows++;
    document.body.dataset.windows = String(state.windows);
    recentWindow(JSON.parse(e.data));
    scheduleRefresh(1000);
  });
  source.addEventListener("reset", () => scheduleRefresh(0));
}

async function start() {
  // Asked first, so a page without a session shows the login and no failed request.
  const who = await (await fetch(`${API}/session`, { credentials: "same-origin" })).json();
  if (!who.authenticated) return showLogin();
  $("login").hidden = true;
  $("panels").hidden = false;
  try {
    await refresh();
  } catch (e) {
    showError(e);
    return;
  }
  if (source === null) startLive();
}

function wire() {
  $("range").addEventListener("change", (e) => {
    state.range = e.target.value;
    refresh().catch(showError);
  });
  $("metric").addEventListener("change", (e) => {
    state.metric = e.target.value;
    refresh().catch(showError);
  });
  $("filter-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("filter").value.trim();
    const res = await fetch(`${API}/filter/validate`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ filter: text }),
    });
    const body = await res.json();
    if (!res.ok) {
      $("filter-error").hidden = false;
      $("filter-error").textContent = body.detail;
      return;
    }
    $("filter-error").hidden = true;
    state.filter = text;
    document.body.dataset.filter = text;
    refresh().catch(showError);
  });
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const res = await fetch(`${API}/login`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: $("token").value.trim() }),
    });
    $("token").value = "";
    if (!res.ok) {
      $("login-error").textContent = "That token is not valid here.";
      return;
    }
    start();
  });
}

wire();
start();
