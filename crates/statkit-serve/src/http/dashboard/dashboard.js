// statkit dashboard: reads the JSON API and draws each chart as SVG.
"use strict";

const CARDS = 24; // charts on screen at once; the filter narrows the rest
const PROCESS_ROWS = 50; // rows of the process table on screen
const PROCESS_VALUES = 8; // values shown in a row; the rest are counted
const COLORS = ["#2f6fde", "#c2410c", "#15803d", "#7c3aed", "#0891b2"];
// What each kind charts: the history fields drawn and the headline value.
const PLOTS = {
  counter: { lines: ["rate"], headline: "rate", unit: "/s" },
  gauge: { lines: ["value"], headline: "value", unit: "" },
  set: { lines: ["members"], headline: "members", unit: "" },
  timer: { lines: ["median", "pct", "upper"], headline: "pct", unit: " ms" },
};
const state = { range: 900, filter: "", pct: "90", own: false };

const $ = (id) => document.getElementById(id);

function fmt(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(2) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(2) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
  if (Number.isInteger(v)) return String(v);
  return v.toPrecision(4).replace(/\.?0+$/, "");
}

async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}

function el(tag, attrs, text) {
  const ns = ["svg", "polyline", "line", "text"].includes(tag) ? "http://www.w3.org/2000/svg" : null;
  const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

async function health() {
  const h = await getJSON("/api/v1/health");
  const dropped = h.sinks.reduce((n, s) => n + s.dropped_flushes, 0);
  const items = [
    ["status", h.status, h.status !== "up"],
    ["packets", fmt(h.ingest.packets)],
    ["lines", fmt(h.ingest.lines)],
    ["bad lines", fmt(h.ingest.bad_lines), h.ingest.bad_lines > 0],
    ["UDP drops", fmt(h.ingest.udp_kernel_drops), h.ingest.udp_kernel_drops > 0],
    ["refused", fmt(h.ingest.refused_series + h.ingest.refused_samples)],
    ["series", fmt(h.series)],
    ["dropped flushes", fmt(dropped), dropped > 0],
    ["uptime", fmt(h.uptime_seconds) + " s"],
  ];
  const dl = $("health");
  dl.replaceChildren(...items.map(([k, v, bad]) => {
    const d = el("div", { "data-stat": k });
    d.append(el("dt", {}, k), el("dd", bad ? { class: "bad" } : {}, v));
    return d;
  }));
}

function chart(history, lines) {
  const W = 300, H = 90, PAD = 14;
  const svg = el("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none" });
  const t = history.t;
  const series = lines.map((f) => history[f] || []);
  const all = series.flat().filter((v) => v !== null);
  svg.setAttribute("data-points", String(t.length));
  if (t.length === 0 || all.length === 0) {
    svg.append(el("text", { x: 4, y: H / 2 }, "no data in this range"));
    return svg;
  }
  let lo = Math.min(0, ...all), hi = Math.max(...all);
  if (hi === lo) hi = lo + 1;
  // The axis spans the data inside the range (a new series fills it).
  const t0 = t[0], t1 = Math.max(t[t.length - 1], t0 + 1);
  const x = (s) => ((s - t0) / (t1 - t0)) * W;
  const y = (v) => H - PAD - ((v - lo) / (hi - lo)) * (H - 2 * PAD);
  series.forEach((values, i) => {
    const pts = [];
    values.forEach((v, j) => { if (v !== null) pts.push(`${x(t[j]).toFixed(1)},${y(v).toFixed(1)}`); });
    svg.append(el("polyline", { points: pts.join(" "), stroke: COLORS[i % COLORS.length], "data-field": lines[i] }));
  });
  const clock = (s) => new Date(s * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  svg.append(
    el("text", { x: 2, y: 10 }, fmt(hi)),
    el("text", { x: 2, y: H - 2 }, fmt(lo)),
    el("text", { x: W - 2, y: H - 2, "text-anchor": "end" }, clock(t0) + " – " + clock(t1)),
  );
  return svg;
}

function label(field) {
  return field === "pct" ? "p" + state.pct : field;
}

async function card(m) {
  const plot = PLOTS[m.kind];
  const c = el("section", { class: "card", "data-key": m.key, "data-kind": m.kind });
  const tags = Object.entries(m.tags).map(([k, v]) => (v ? `${k}:${v}` : k)).join(", ");
  c.append(el("h2", {}, m.name));
  c.append(el("div", { class: "meta" }, m.kind + (tags ? " · " + tags : "")));
  const value = el("div", { class: "value" });
  c.append(value);
  const resolution = state.range > 3600 ? "minute" : "flush";
  const since = Math.floor(Date.now() / 1000 - state.range);
  const q = new URLSearchParams({ kind: m.kind, name: m.key, resolution, since });
  let headline = m.last[plot.headline];
  try {
    const history = await getJSON("/api/v1/history?" + q);
    // A timer's newest flush may have had no values: show the newest that did.
    if (headline === null) headline = (history[plot.headline] || []).filter((v) => v !== null).pop();
    c.append(chart(history, plot.lines));
  } catch (e) {
    c.append(el("div", { class: "meta" }, String(e)));
  }
  value.textContent = fmt(headline) + plot.unit + (m.kind === "timer" ? " " + label("pct") : "");
  if (plot.lines.length > 1) {
    const legend = el("div", { class: "legend" });
    plot.lines.forEach((f, i) => legend.append(el("span", { style: "color:" + COLORS[i] }, label(f))));
    c.append(legend);
  }
  return c;
}

async function charts() {
  const q = new URLSearchParams({ filter: state.filter, limit: CARDS, own: state.own });
  const list = await getJSON("/api/v1/metrics?" + q);
  state.pct = list.pct;
  $("count").textContent = `${list.matching} of ${list.stored} series` + (list.matching > CARDS ? `, first ${CARDS} shown` : "");
  const cards = await Promise.all(list.metrics.map(card));
  $("charts").replaceChildren(...cards);
  return list.interval_seconds;
}

// A stats file's or pipe's value as short text: numbers, text, booleans,
// and a histogram's count and median.
function valueText(v) {
  if (v === null) return "–";
  if (typeof v === "number") return fmt(v);
  if (typeof v === "object") return `n=${fmt(v.count)} p50=${fmt(v.p50)}`;
  return String(v);
}

function processRow(p) {
  const tr = el("tr", { "data-pid": String(p.pid), "data-format": p.format, "data-state": p.state });
  const names = Object.keys(p.values);
  const shown = names.slice(0, PROCESS_VALUES).map((k) => `${k} ${valueText(p.values[k])}`);
  const more = p.value_count - shown.length;
  const values = shown.join(" · ") + (more > 0 ? ` · +${more} more` : "");
  tr.append(
    el("td", {}, p.pid === null ? "–" : String(p.pid)),
    el("td", {}, p.program || "–"),
    el("td", {}, p.format),
    el("td", { class: p.state }, p.state),
    el("td", { class: "values", title: p.path }, values),
  );
  return tr;
}

async function processes() {
  const list = await getJSON("/api/v1/processes");
  const rows = list.processes.slice(0, PROCESS_ROWS);
  const errors = list.errors.length ? `, ${list.errors.length} unreadable` : "";
  $("process-count").textContent = `${list.total}` + (list.total > rows.length ? `, first ${rows.length} shown` : "") + errors;
  $("process-rows").replaceChildren(...rows.map(processRow));
  document.body.dataset.processes = "true";
}

let timer = null;
async function refresh() {
  clearTimeout(timer);
  let interval = 10;
  // Pipes' writers may take a moment: the table fills in on its own.
  processes().catch((e) => { $("process-count").textContent = "cannot read the processes: " + e.message; });
  try {
    await health();
    interval = await charts();
    if (!document.body.dataset.drawnMs) {
      // When the first charts were on screen, for bench/dashboard.sh.
      document.body.dataset.drawnMs = Math.round(performance.now());
    }
    document.body.dataset.loaded = "true";
  } catch (e) {
    $("count").textContent = "cannot reach the server: " + e.message;
  }
  timer = setTimeout(refresh, Math.max(2, interval) * 1000);
}

$("filter").addEventListener("input", (e) => {
  state.filter = e.target.value;
  clearTimeout(timer);
  timer = setTimeout(refresh, 200);
});
$("ranges").addEventListener("click", (e) => {
  const range = e.target.dataset && e.target.dataset.range;
  if (!range) return;
  state.range = Number(range);
  for (const b of $("ranges").children) b.classList.toggle("on", b === e.target);
  refresh();
});
$("own").addEventListener("change", (e) => {
  state.own = e.target.checked;
  refresh();
});
const initial = new URLSearchParams(location.search).get("filter");
if (initial) $("filter").value = state.filter = initial;
refresh();
