// siplat panel: talks only to the server it came from (the API, the
// server-sent events); charts are SVG drawn here, no library.
"use strict";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];
const $ = (id) => document.getElementById(id);
const state = { rows: [], runId: null, target: 1.0, scenarios: [] };

async function api(path, options) {
  const r = await fetch(path, options);
  const text = await r.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = { error: text }; }
  if (!r.ok) throw new Error((body && body.error) || `HTTP ${r.status}`);
  return body;
}

function el(tag, attrs, text) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// series: [{name, points: [[x, y]], step}], hline: {y, label}
function chart(svg, series, hline) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const W = 600, H = 190, L = 44, R = 110, T = 8, B = 22;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const all = series.flatMap((s) => s.points);
  const xmax = niceMax(Math.max(10, ...all.map((p) => p[0])));
  const ymax = niceMax(Math.max(hline ? hline.y * 1.2 : 0, ...all.map((p) => p[1])));
  const X = (x) => L + (x / xmax) * (W - L - R);
  const Y = (y) => H - B - (y / ymax) * (H - T - B);
  svg.appendChild(el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#999" }));
  svg.appendChild(el("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#999" }));
  for (let i = 0; i <= 4; i++) {
    const y = (ymax * i) / 4;
    svg.appendChild(el("line", { x1: L, y1: Y(y), x2: W - R, y2: Y(y), stroke: "#eee" }));
    svg.appendChild(el("text", { x: L - 4, y: Y(y) + 3, "text-anchor": "end" }, +y.toPrecision(3)));
    const x = (xmax * i) / 4;
    svg.appendChild(el("text", { x: X(x), y: H - 6, "text-anchor": "middle" }, Math.round(x) + " s"));
  }
  let legend = 0;
  const key = (name, color, dash) => {
    const y = T + 10 + legend++ * 14;
    svg.appendChild(el("line", { x1: W - R + 8, y1: y - 3, x2: W - R + 26, y2: y - 3, stroke: color, "stroke-width": 2, "stroke-dasharray": dash || "" }));
    svg.appendChild(el("text", { x: W - R + 30, y }, name));
  };
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    if (s.points.length) {
      const pts = s.points.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(" ");
      svg.appendChild(el("polyline", { points: pts, fill: "none", stroke: color, "stroke-width": 1.6, class: "series" }));
    }
    key(s.name, color);
  });
  if (hline) {
    svg.appendChild(el("line", { x1: L, y1: Y(hline.y), x2: W - R, y2: Y(hline.y), stroke: "#000", "stroke-dasharray": "5,4" }));
    key(hline.label, "#000", "5,4");
  }
  svg.dataset.points = String(series.reduce((n, s) => Math.max(n, s.points.length), 0));
}

function drawRun(rows, target, ids) {
  const pick = (f) => rows.filter((r) => f(r) !== null && f(r) !== undefined).map((r) => [r.t, f(r)]);
  chart($(ids.rate), [
    { name: "offered", points: pick((r) => r.offered) },
    { name: "achieved", points: pick((r) => r.achieved) },
  ]);
  chart($(ids.p99), [{ name: "P99", points: pick((r) => r.p99_s) }], { y: target, label: `target ${target} s` });
  chart($(ids.replicas), [
    { name: "active", points: pick((r) => r.active) },
    { name: "booting", points: pick((r) => r.booting) },
    { name: "limit, x10m", points: pick((r) => r.limit_max_mcpu / 10) },
    { name: "CPU, x10m", points: pick((r) => r.cpu_mcpu / 10) },
  ]);
  chart($(ids.failed), [{ name: "failed", points: pick((r) => r.failed) }]);
}

const LIVE = { rate: "chart-rate", p99: "chart-p99", replicas: "chart-replicas", failed: "chart-failed" };

function redrawLive() { drawRun(state.rows, state.target, LIVE); }

function setStatus(phase, message) {
  const s = $("status");
  s.textContent = message ? `${phase}: ${message}` : phase;
  s.className = "status " + phase;
  const busy = ["starting", "playing", "stopping", "cleaning"].includes(phase);
  $("start").disabled = busy;
  $("stop").disabled = !busy;
}

function fmt(v, digits) { return typeof v === "number" ? v.toFixed(digits) : String(v ?? ""); }

function summaryTable(s, id) {
  const rows = [
    ["policy", s.policy], ["seconds played", s.played_s],
    ["P99 under target", fmt(s.p99_under_target_pct, 1) + " %"],
    ["seconds over target", s.seconds_over_target], ["seconds without data", s.seconds_without_data],
    ["worst P99 (s)", fmt(s.worst_p99_s, 3)], ["replica-seconds", fmt(s.replica_seconds, 0)],
    ["CPU-seconds (allocated)", fmt(s.cpu_seconds, 1)], ["mean replicas", fmt(s.mean_replicas, 2)],
    ["scale actions", s.scale_actions], ["resize actions", s.resize_actions],
    ["failed calls", s.failed_calls], ["mean CPU per ready proxy (mCPU)", fmt(s.mean_cpu_mcpu, 1)],
  ];
  const t = document.createElement("table");
  if (id) t.id = id;
  t.className = "summary";
  for (const [k, v] of rows) {
    const tr = t.insertRow();
    const th = document.createElement("th");
    th.textContent = k;
    tr.appendChild(th);
    tr.insertCell().textContent = v;
  }
  return t;
}

async function showFinished(id, outcome) {
  const box = $("live-summary");
  box.textContent = "";
  const h = document.createElement("h3");
  h.textContent = `Run ${id}: ${outcome.outcome}`;
  box.appendChild(h);
  if (outcome.error) {
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = outcome.error;
    box.appendChild(p);
  }
  try {
    const d = await api(`/api/runs/${encodeURIComponent(id)}`);
    if (d.summary) box.appendChild(summaryTable(d.summary, "summary-table"));
  } catch (e) { $("error").textContent = e.message; }
  loadHistory();
}

function onRunEvent(ev) {
  if (ev.type === "phase") {
    if (ev.id !== state.runId) { state.runId = ev.id; state.rows = []; $("live-summary").textContent = ""; }
    $("live-id").textContent = ev.id;
    setStatus(ev.phase, ev.message);
  } else if (ev.type === "second" && ev.id === state.runId) {
    state.rows.push(ev.row);
    redrawLive();
  } else if (ev.type === "finished") {
    setStatus(ev.outcome.outcome === "failed" ? "failed" : "idle", ev.outcome.outcome === "failed" ? ev.outcome.error : `last run ${ev.outcome.outcome}`);
    showFinished(ev.id, ev.outcome);
  }
}

function connectEvents() {
  const es = new EventSource("/api/events");
  es.addEventListener("snapshot", (m) => {
    const snap = JSON.parse(m.data);
    if (snap) {
      state.runId = snap.id;
      state.rows = snap.rows;
      state.target = snap.spec.p99_target_ms / 1000;
      $("live-id").textContent = snap.id;
      setStatus(snap.phase, snap.message);
      redrawLive();
    }
  });
  es.addEventListener("run", (m) => onRunEvent(JSON.parse(m.data)));
}

function choice() {
  return {
    scenario: $("scenario").value,
    seed: Number($("seed").value),
    compress: Number($("compress").value),
    rate_scale: Number($("rate-scale").value),
  };
}

async function startRun(e) {
  e.preventDefault();
  $("error").textContent = "";
  const spec = Object.assign(choice(), {
    policy: $("policy").value.trim(),
    proxies: Number($("proxies").value),
    cpu_limit: $("cpu-limit").value.trim(),
    p99_target_ms: Number($("p99-target").value),
    warmup_s: Number($("warmup").value),
  });
  try {
    const snap = await api("/api/runs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(spec) });
    state.runId = snap.id;
    state.rows = [];
    state.target = spec.p99_target_ms / 1000;
    $("live-summary").textContent = "";
    $("live-id").textContent = snap.id;
    setStatus(snap.phase, snap.message);
    redrawLive();
  } catch (err) { $("error").textContent = err.message; }
}

async function stopRun() {
  try { await api("/api/runs/stop", { method: "POST" }); } catch (err) { $("error").textContent = err.message; }
}

async function loadScenarios(select) {
  state.scenarios = await api("/api/scenarios");
  const s = $("scenario");
  s.textContent = "";
  for (const sc of state.scenarios) {
    const o = document.createElement("option");
    o.value = sc.id;
    o.textContent = `${sc.kind === "family" ? "family" : "file"}: ${sc.name}`;
    s.appendChild(o);
  }
  if (select) s.value = select;
  describeScenario();
}

function describeScenario() {
  const sc = state.scenarios.find((x) => x.id === $("scenario").value);
  if (!sc) return;
  const c = Number($("compress").value) || 1, k = Number($("rate-scale").value) || 1;
  $("scenario-info").textContent = `${sc.description}; ${sc.duration_s} s, peak ${sc.peak_rate.toFixed(1)} calls/s` +
    ` -> played ${Math.ceil(sc.duration_s / c)} s, peak about ${(sc.peak_rate * k).toFixed(1)} calls/s`;
}

async function upload() {
  const f = $("upload-file").files[0];
  const msg = $("upload-msg");
  if (!f) { msg.textContent = "choose a file first"; return; }
  try {
    const e = await api(`/api/scenarios/${encodeURIComponent(f.name)}`, { method: "PUT", body: await f.text() });
    msg.className = "";
    msg.textContent = `uploaded ${e.name}: ${e.duration_s} s, ${e.description}`;
    await loadScenarios(e.id);
  } catch (err) { msg.className = "error"; msg.textContent = err.message; }
}

async function loadHistory() {
  const items = await api("/api/runs");
  const body = $("history-table").tBodies[0];
  body.textContent = "";
  for (const it of items) {
    const tr = body.insertRow();
    const cb = document.createElement("input");
    cb.type = "checkbox";
    cb.className = "compare";
    cb.value = it.meta.id;
    tr.insertCell().appendChild(cb);
    const s = it.summary;
    const c = it.meta.spec;
    for (const v of [it.meta.id, `${c.scenario} x${c.compress}`, c.policy,
      it.outcome ? it.outcome.outcome + (it.outcome.error ? ": " + it.outcome.error : "") : "playing",
      s ? fmt(s.p99_under_target_pct, 1) + " %" : "", s ? s.failed_calls : "", s ? fmt(s.replica_seconds, 0) : ""]) {
      tr.insertCell().textContent = v;
    }
  }
}

async function compare() {
  const ids = [...document.querySelectorAll("input.compare:checked")].map((c) => c.value).slice(0, 2);
  const view = $("compare-view");
  view.textContent = "";
  if (ids.length < 1) { $("error").textContent = "tick one or two runs in the history"; return; }
  for (const id of ids) {
    const d = await api(`/api/runs/${encodeURIComponent(id)}`);
    const col = document.createElement("div");
    const h = document.createElement("h3");
    h.textContent = id;
    col.appendChild(h);
    if (d.summary) col.appendChild(summaryTable(d.summary));
    if (d.has_plot) {
      const img = document.createElement("img");
      img.src = `/api/runs/${encodeURIComponent(id)}/run.svg`;
      img.alt = `figure of run ${id}`;
      col.appendChild(img);
    }
    view.appendChild(col);
  }
}

async function loadController() {
  try {
    const v = await api("/api/controller");
    const body = $("controller-table").tBodies[0];
    body.textContent = "";
    for (const c of v.clients) {
      const tr = body.insertRow();
      const last = c.reports.length ? c.reports[c.reports.length - 1].created : 0;
      for (const x of [c.id, c.name, c.pool, fmt(c.rate, 2), last]) tr.insertCell().textContent = x;
    }
    $("controller-play").textContent = v.plays.map((p) =>
      `pool ${p.pool}: second ${p.second} of ${p.duration_s}, ${fmt(p.rate, 1)} calls/s over ${v.clients.filter((c) => c.pool === p.pool).length} callers`).join("; ");
  } catch (_) { /* the next poll retries */ }
}

async function controllerStart() {
  $("error").textContent = "";
  try { await api("/api/controller/play", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(choice()) }); }
  catch (err) { $("error").textContent = err.message; }
}

async function controllerStop() {
  try { await api("/api/controller/stop?pool=default", { method: "POST" }); } catch (err) { $("error").textContent = err.message; }
}

async function loadPrometheus() {
  const msg = $("prom-msg");
  msg.textContent = "";
  const q = new URLSearchParams({ url: $("prom-url").value.trim(), minutes: $("prom-minutes").value });
  try {
    const r = await api(`/api/prometheus?${q}`);
    const box = $("prom-charts");
    box.textContent = "";
    const errors = [];
    for (const s of r.series) {
      const fig = document.createElement("figure");
      const cap = document.createElement("figcaption");
      cap.textContent = `${s.name} (${s.unit})`;
      cap.title = s.query;
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      fig.appendChild(cap);
      fig.appendChild(svg);
      box.appendChild(fig);
      const t0 = s.points.length ? s.points[0][0] : 0;
      chart(svg, [{ name: s.name, points: s.points.map((p) => [p[0] - t0, p[1]]) }], s.name === "p99_s" ? { y: state.target, label: `target ${state.target} s` } : null);
      if (s.error) errors.push(`${s.name}: ${s.error}`);
    }
    msg.textContent = errors.join("; ");
  } catch (err) { msg.textContent = err.message; }
}

async function init() {
  $("run-form").addEventListener("submit", startRun);
  $("stop").addEventListener("click", stopRun);
  $("upload-btn").addEventListener("click", upload);
  $("compare").addEventListener("click", () => compare().catch((e) => { $("error").textContent = e.message; }));
  $("controller-start").addEventListener("click", controllerStart);
  $("controller-stop").addEventListener("click", controllerStop);
  $("prom-load").addEventListener("click", loadPrometheus);
  for (const id of ["scenario", "compress", "rate-scale"]) $(id).addEventListener("input", describeScenario);
  $("ws-host").textContent = location.host;
  redrawLive();
  const cfg = await api("/api/config");
  if (cfg.prometheus) $("prom-url").value = cfg.prometheus;
  if (!cfg.root) $("error").textContent = "this panel runs without root: runs on the local testbed will be refused (the controller and the Prometheus view work)";
  await loadScenarios();
  connectEvents();
  await loadHistory();
  loadController();
  setInterval(loadController, 2000);
  document.body.dataset.ready = "1";
}

init().catch((e) => { $("error").textContent = e.message; });
