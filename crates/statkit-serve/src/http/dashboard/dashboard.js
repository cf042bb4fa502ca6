// statkit dashboard: reads the JSON API and draws each chart as SVG.
//
// The view (search text, page, collapsed groups, time range) lives in the
// URL, so a view can be linked and reloaded. Every matching series is
// listed (in pages of the API, up to MAX_LISTED), sorted naturally, grouped
// by the first dotted component of its name, and shown a page of cards at a
// time: only the cards on screen fetch their history.
"use strict";

const PAGE_SLOTS = 24; // cards (and collapsed group headers) on one page
const LIST_PAGE = 10000; // series per /api/v1/metrics request (the API's most)
const MAX_LISTED = 100000; // series listed at most (the store's default size); search narrows the rest
const BIG_LIST_REFRESH_MS = 30000; // a list of several API pages is re-read at most this often
const GROUP_CHIPS = 60; // group buttons above the cards; the rest are counted
const PROCESS_ROWS = 50; // rows of the process table on screen
const PROCESS_VALUES = 8; // values shown in a row; the rest are counted
const COLORS = ["#2f6fde", "#c2410c", "#15803d", "#7c3aed", "#0891b2"];
const KIND_ORDER = { counter: 0, gauge: 1, timer: 2, set: 3 };
// What each kind charts: the history fields drawn, the headline value, the
// unit of its axis, and whether the axis starts at zero (rates, times and
// member counts are never negative; a gauge's axis follows its values).
const PLOTS = {
  counter: { lines: ["rate"], headline: "rate", unit: "/s", zero: true },
  gauge: { lines: ["value"], headline: "value", unit: "", zero: false },
  set: { lines: ["members"], headline: "members", unit: "", zero: true },
  timer: { lines: ["median", "pct", "upper"], headline: "pct", unit: " ms", zero: true },
};
// Round steps of the time axis, in seconds.
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
const CHART_HEIGHT = 130;
const SVG = "http://www.w3.org/2000/svg";

const state = {
  range: 900,
  filter: "",
  page: 1,
  collapsed: new Set(),
  own: false,
  pct: "90",
  interval: 10,
  newest: 0, // the newest flush time of any listed series
  list: null, // {matching, stored, listed, series: [...] sorted}
  listedAt: 0,
  listCost: 0,
  listKey: "", // the filter and own flag the list was read with
  shown: [], // cards on screen: {m, el, history}
  plotWidth: 0, // the width of a card's chart, 0 until measured
};

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

const pad2 = (n) => String(n).padStart(2, "0");
// Local wall-clock time of Unix seconds `s`: HH:MM, or HH:MM:SS.
function clock(s, seconds) {
  const d = new Date(s * 1000);
  const hm = pad2(d.getHours()) + ":" + pad2(d.getMinutes());
  return seconds ? hm + ":" + pad2(d.getSeconds()) : hm;
}

async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// Natural order: runs of digits compare as numbers (c.2 before c.10), the
// rest character by character. Each key is turned once into a string whose
// plain order is that order (numbers padded to 20 digits: fewer leading
// zeros win no tie, and longer numbers compare by their digits), so the
// sort compares strings natively instead of calling a comparator written
// in JavaScript a hundred thousand times.
const ZEROS = "00000000000000000000";
function isDigit(c) {
  return c >= 48 && c <= 57;
}
function natKey(s) {
  let out = "", i = 0;
  while (i < s.length) {
    let j = i;
    if (!isDigit(s.charCodeAt(i))) {
      while (j < s.length && !isDigit(s.charCodeAt(j))) j++;
      out += s.slice(i, j);
    } else {
      while (j < s.length - 1 && s.charCodeAt(j) === 48 && isDigit(s.charCodeAt(j + 1))) j++;
      let k = j;
      while (k < s.length && isDigit(s.charCodeAt(k))) k++;
      out += k - j < 20 ? ZEROS.slice(k - j) + s.slice(j, k) : s.slice(j, k);
      j = k;
    }
    i = j;
  }
  return out;
}

// A series' group: the first dotted component of its name ("" when the
// name has no dot, shown as "(no prefix)" and sorted first).
function groupOf(name) {
  const dot = name.indexOf(".");
  return dot > 0 ? name.slice(0, dot) : "";
}
const groupLabel = (g) => (g === "" ? "(no prefix)" : g);

// A series' place: its group's, then its key's, then its kind's (NUL
// ends each part, so "api" and its series come before "api2").
function sortKey(m) {
  return natKey(m.group) + "\u0000" + natKey(m.key) + "\u0000" + KIND_ORDER[m.kind];
}

function bySeries(a, b) {
  return a.sort < b.sort ? -1 : a.sort > b.sort ? 1 : 0;
}

// ---------------------------------------------------------------------------
// The view in the URL

function readURL() {
  const q = new URLSearchParams(location.search);
  state.filter = q.get("filter") || "";
  state.page = Math.max(1, Number.parseInt(q.get("page") || "1", 10) || 1);
  const collapse = q.get("collapse");
  // "(no prefix)" travels as "-"; names never start with one in a group.
  state.collapsed = new Set(collapse ? collapse.split(",").map((g) => (g === "-" ? "" : g)) : []);
  const range = Number(q.get("range"));
  if ([900, 3600, 86400].includes(range)) state.range = range;
  state.own = q.get("own") === "true";
}

function writeURL() {
  const q = new URLSearchParams();
  if (state.filter) q.set("filter", state.filter);
  if (state.page > 1) q.set("page", String(state.page));
  if (state.collapsed.size) q.set("collapse", [...state.collapsed].map((g) => (g === "" ? "-" : g)).join(","));
  if (state.range !== 900) q.set("range", String(state.range));
  if (state.own) q.set("own", "true");
  const search = q.toString();
  history.replaceState(null, "", search ? "?" + search : location.pathname);
}

// ---------------------------------------------------------------------------
// Health

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
  $("health").replaceChildren(...items.map(([k, v, bad]) => {
    const d = el("div", { "data-stat": k });
    d.append(el("dt", {}, k), el("dd", bad ? { class: "bad" } : {}, v));
    return d;
  }));
}

// ---------------------------------------------------------------------------
// The list of series

// Every matching series, a page of the API at a time, up to MAX_LISTED. A
// series added between two pages can shift one across the boundary: keys
// are deduplicated, and the next reading catches the rest.
async function readList() {
  const started = performance.now();
  const { filter, own } = state;
  let series = [], offset = 0, first = null;
  while (offset !== null && series.length < MAX_LISTED) {
    const q = new URLSearchParams({
      filter, own, offset,
      limit: Math.min(LIST_PAGE, MAX_LISTED - series.length),
    });
    const page = await getJSON("/api/v1/metrics?" + q);
    first = first || page;
    for (const m of page.metrics) {
      m.group = groupOf(m.name);
      m.sort = sortKey(m);
    }
    series = series.concat(page.metrics);
    offset = page.next_offset;
    if (offset !== null) $("count").textContent = `listing ${fmt(series.length)} of ${fmt(page.matching)} series…`;
  }
  if (first.next_offset !== null) {
    // Pages read at different times: one key at most once.
    const seen = new Map();
    for (const m of series) seen.set(m.kind + " " + m.key, m);
    series = [...seen.values()];
  }
  series.sort(bySeries);
  state.pct = first.pct;
  state.interval = first.interval_seconds;
  state.newest = series.reduce((n, m) => Math.max(n, m.time), 0);
  state.list = { matching: first.matching, stored: first.stored, listed: series.length, series };
  state.listCost = performance.now() - started;
  state.listedAt = Date.now();
  state.listKey = filter + "\n" + own;
}

function listIsStale() {
  if (!state.list || state.listKey !== state.filter + "\n" + state.own) return true;
  // One request re-reads cheaply every tick; a list of many pages less often.
  if (state.list.matching <= LIST_PAGE) return true;
  return Date.now() - state.listedAt > Math.max(BIG_LIST_REFRESH_MS, 20 * state.listCost);
}

// The series in groups: [{group, series: [...]}] in order.
function groups(series) {
  const out = [];
  for (const m of series) {
    const last = out[out.length - 1];
    if (last && last.group === m.group) last.series.push(m);
    else out.push({ group: m.group, series: [m] });
  }
  return out;
}

// Pages of PAGE_SLOTS slots: a card takes one, a collapsed group's header
// one, an open group's header none. Returns the pages, each a list of
// blocks {group, total, collapsed, first, cards} (`first`: the index of the
// block's first card in its group), and the page each group starts on.
function paginate(grouped) {
  const pages = [];
  const startPage = new Map();
  let page = [], slots = 0;
  const next = () => {
    pages.push(page);
    page = [];
    slots = 0;
  };
  for (const g of grouped) {
    const collapsed = state.collapsed.has(g.group);
    if (collapsed) {
      if (slots >= PAGE_SLOTS) next();
      startPage.set(g.group, pages.length + 1);
      page.push({ group: g.group, total: g.series.length, collapsed, first: 0, cards: [] });
      slots++;
      continue;
    }
    let block = null;
    g.series.forEach((m, i) => {
      if (slots >= PAGE_SLOTS) {
        next();
        block = null;
      }
      if (!block) {
        if (i === 0) startPage.set(g.group, pages.length + 1);
        block = { group: g.group, total: g.series.length, collapsed, first: i, cards: [] };
        page.push(block);
      }
      block.cards.push(m);
      slots++;
    });
  }
  if (page.length || !pages.length) pages.push(page);
  return { pages, startPage };
}

// ---------------------------------------------------------------------------
// Charts

// A round step near span/target: 1, 2, 2.5 or 5 times a power of ten.
function niceStep(span, target) {
  const raw = span / target;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
}

// The value axis: round bounds around [lo, hi] and the ticks between.
function valueAxis(lo, hi) {
  // A flat line: a span around it (up from zero, or a tenth either side).
  if (hi === lo) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    if (lo !== 0) lo -= d;
    hi += d;
  }
  const step = niceStep(hi - lo, 4);
  const from = Math.floor(lo / step + 1e-9) * step, to = Math.ceil(hi / step - 1e-9) * step;
  const ticks = [];
  for (let i = 0; i <= 20 && from + i * step <= to + step * 1e-9; i++) ticks.push(Number((from + i * step).toPrecision(12)));
  return { lo: from, hi: to, step, ticks };
}

// A tick's label: the scale of the largest tick (k, M, G as fmt writes
// them), as many decimals as the step needs, and the unit.
function tickLabel(v, axis, unit) {
  const a = Math.max(Math.abs(axis.lo), Math.abs(axis.hi));
  const [div, suffix] = a >= 1e9 ? [1e9, "G"] : a >= 1e6 ? [1e6, "M"] : a >= 1e4 ? [1e3, "k"] : [1, ""];
  const step = axis.step / div;
  let decimals = 0;
  while (decimals < 6 && Math.abs(step * 10 ** decimals - Math.round(step * 10 ** decimals)) > 1e-6) decimals++;
  return (v === 0 ? "0" : (v / div).toFixed(decimals) + suffix) + unit;
}

// The time axis: ticks on round local times, about one per 80 pixels.
function timeAxis(t0, t1, width) {
  const most = Math.max(2, Math.floor(width / 80));
  const step = TIME_STEPS.find((s) => (t1 - t0) / s <= most) || 86400;
  const offset = new Date(t0 * 1000).getTimezoneOffset() * 60;
  const ticks = [];
  for (let t = Math.ceil((t0 - offset) / step) * step + offset; t <= t1 && ticks.length < 30; t += step) ticks.push(t);
  return { ticks, seconds: step < 60 };
}

// Where a line breaks: after a null, and between two rows further apart
// than one and a half steps (plus a second, as times are whole seconds).
function gapAfter(step) {
  return step * 1.5 + 1;
}

// The rows of `values` as runs of consecutive points: [[j, ...], ...].
function segments(t, values, step) {
  const runs = [];
  let run = null;
  values.forEach((v, j) => {
    if (v === null || v === undefined) {
      run = null;
      return;
    }
    if (!run || t[j] - t[j - 1] > gapAfter(step)) {
      run = [];
      runs.push(run);
    }
    run.push(j);
  });
  return runs;
}

function label(field) {
  return field === "pct" ? "p" + state.pct : field;
}

// The readout under a chart: a row's time and its values, or "no data".
function readout(box, m, history, j, hovered) {
  const plot = PLOTS[m.kind];
  const out = box.querySelector(".readout");
  if (j === null) {
    out.replaceChildren(el("span", { class: "when" }, "no data in this range"));
    return;
  }
  const t = history.t[j];
  const seconds = history.resolution !== "minute";
  const parts = [el("time", { datetime: new Date(t * 1000).toISOString() }, (hovered ? "" : "newest ") + clock(t, seconds))];
  const empty = plot.lines.every((f) => history[f][j] === null);
  if (empty) parts.push(el("span", {}, "no value"));
  else plot.lines.forEach((f, i) => {
    const v = history[f][j];
    const text = (plot.lines.length > 1 ? label(f) + " " : "") + (v === null ? "–" : fmt(v) + plot.unit);
    parts.push(el("span", { "data-field": f, style: "color:" + COLORS[i % COLORS.length] }, text));
  });
  out.replaceChildren(...parts);
  out.dataset.hover = hovered ? "true" : "false";
}

// The newest row with a value, or null.
function newestRow(history, lines) {
  for (let j = history.t.length - 1; j >= 0; j--) {
    if (lines.some((f) => history[f][j] !== null && history[f][j] !== undefined)) return j;
  }
  return null;
}

function chart(box, m, history) {
  const plot = PLOTS[m.kind];
  const t = history.t;
  const step = history.resolution === "minute" ? 60 : state.interval;
  // Every card of the grid is as wide: measured once (a layout) per render
  // or resize, not once per chart.
  if (!state.plotWidth) state.plotWidth = Math.max(200, Math.floor(box.querySelector(".plot").clientWidth || 320));
  const width = state.plotWidth;
  const H = CHART_HEIGHT, TOP = 6, BOTTOM = 16, RIGHT = 8;
  const svg = svgEl("svg", {
    class: "chart", width, height: H, viewBox: `0 0 ${width} ${H}`,
    "data-points": String(t.length), tabindex: "0", role: "img",
    "aria-label": `${m.name}: ${plot.lines.map(label).join(", ")} over time`,
  });
  const all = [];
  for (const f of plot.lines) for (const v of history[f] || []) if (v !== null) all.push(v);
  if (t.length === 0 || all.length === 0) {
    svg.append(svgEl("text", { x: 4, y: H / 2 }, "no data in this range"));
    box.querySelector(".plot").replaceChildren(svg);
    readout(box, m, history, null, false);
    return;
  }
  let lo = Math.min(...all), hi = Math.max(...all);
  if (plot.zero) lo = Math.min(0, lo);
  const axis = valueAxis(lo, hi);
  const labels = axis.ticks.map((v) => tickLabel(v, axis, plot.unit));
  const LEFT = 8 + 6 * Math.max(...labels.map((s) => s.length));
  // The time axis spans the series' first row to the newest flush of any
  // series, so a series that stopped ends short of the right edge.
  const t0 = t[0];
  const newest = history.resolution === "minute" ? Math.floor(state.newest / 60) * 60 - 60 : state.newest;
  const t1 = Math.max(t[t.length - 1], newest, t0 + step);
  const pw = width - LEFT - RIGHT, ph = H - TOP - BOTTOM;
  const x = (s) => LEFT + ((s - t0) / (t1 - t0)) * pw;
  const y = (v) => TOP + ph - ((v - axis.lo) / (axis.hi - axis.lo)) * ph;
  axis.ticks.forEach((v, i) => {
    const ty = y(v).toFixed(1);
    svg.append(
      svgEl("line", { class: "grid", x1: LEFT, x2: width - RIGHT, y1: ty, y2: ty }),
      svgEl("text", { class: "tick y", x: LEFT - 4, y: ty, "text-anchor": "end", "dominant-baseline": "middle" }, labels[i]),
    );
  });
  const times = timeAxis(t0, t1, pw);
  for (const s of times.ticks) {
    const tx = x(s);
    // A label too near the right edge to be centred ends at the edge.
    const half = times.seconds ? 22 : 14;
    const [lx, anchor] = tx + half > width ? [width - 1, "end"] : [tx, "middle"];
    svg.append(
      svgEl("line", { class: "grid", x1: tx.toFixed(1), x2: tx.toFixed(1), y1: TOP, y2: TOP + ph }),
      svgEl("text", { class: "tick x", x: lx.toFixed(1), y: H - 3, "text-anchor": anchor }, clock(s, times.seconds)),
    );
  }
  let pieces = 0;
  plot.lines.forEach((f, i) => {
    const values = history[f] || [];
    const color = COLORS[i % COLORS.length];
    segments(t, values, step).forEach((run, k) => {
      const pts = run.map((j) => `${x(t[j]).toFixed(1)},${y(values[j]).toFixed(1)}`);
      // A lone point is drawn as a zero-length line with round caps: a dot.
      const lone = pts.length === 1;
      if (lone) pts.push(pts[0]);
      const attrs = { points: pts.join(" "), stroke: color, "data-field": f, "data-segment": String(k) };
      if (lone) attrs.class = "lone";
      svg.append(svgEl("polyline", attrs));
      pieces = Math.max(pieces, k + 1);
    });
  });
  svg.setAttribute("data-segments", String(pieces));
  const cursor = svgEl("line", { class: "cursor", x1: 0, x2: 0, y1: TOP, y2: TOP + ph, visibility: "hidden" });
  svg.append(cursor);
  const dots = plot.lines.map((f, i) => {
    const dot = svgEl("circle", { class: "dot", r: 3, fill: COLORS[i % COLORS.length], visibility: "hidden" });
    svg.append(dot);
    return dot;
  });
  const rest = newestRow(history, plot.lines);
  let at = null;
  // The row under time s: the nearest row within half a step, else none.
  const rowAt = (s) => {
    let a = 0, b = t.length - 1;
    while (b - a > 1) {
      const mid = (a + b) >> 1;
      if (t[mid] <= s) a = mid; else b = mid;
    }
    const j = Math.abs(t[a] - s) <= Math.abs(t[b] - s) ? a : b;
    return Math.abs(t[j] - s) <= Math.max(step / 2 + 0.5, (t1 - t0) / pw * 3) ? j : -1;
  };
  const show = (s) => {
    const sx = Math.min(Math.max(x(s), LEFT), LEFT + pw);
    cursor.setAttribute("x1", sx);
    cursor.setAttribute("x2", sx);
    cursor.setAttribute("visibility", "visible");
    const j = rowAt(s);
    at = j < 0 ? null : j;
    plot.lines.forEach((f, i) => {
      const v = j < 0 ? null : history[f][j];
      if (v === null || v === undefined) dots[i].setAttribute("visibility", "hidden");
      else {
        dots[i].setAttribute("cx", x(t[j]).toFixed(1));
        dots[i].setAttribute("cy", y(v).toFixed(1));
        dots[i].setAttribute("visibility", "visible");
      }
    });
    if (j >= 0) readout(box, m, history, j, true);
    else {
      const out = box.querySelector(".readout");
      out.replaceChildren(el("time", {}, clock(s, history.resolution !== "minute")), el("span", {}, "no data"));
      out.dataset.hover = "true";
    }
  };
  const hide = () => {
    at = null;
    delete box.hoverX;
    cursor.setAttribute("visibility", "hidden");
    for (const d of dots) d.setAttribute("visibility", "hidden");
    readout(box, m, history, rest, false);
  };
  const timeAt = (px) => t0 + ((px - LEFT) / pw) * (t1 - t0);
  svg.addEventListener("pointermove", (e) => {
    // Kept on the card, so a refresh under a still pointer keeps the readout.
    box.hoverX = e.clientX - svg.getBoundingClientRect().left;
    show(timeAt(box.hoverX));
  });
  svg.addEventListener("pointerleave", hide);
  svg.addEventListener("blur", hide);
  // Arrow keys walk the rows, for a keyboard.
  svg.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    e.preventDefault();
    const from = at === null ? (rest === null ? t.length - 1 : rest) : at;
    const j = Math.min(t.length - 1, Math.max(0, from + (e.key === "ArrowLeft" ? -1 : 1)));
    show(t[j]);
  });
  box.querySelector(".plot").replaceChildren(svg);
  readout(box, m, history, rest, false);
  if (box.hoverX !== undefined) show(timeAt(box.hoverX));
}

// ---------------------------------------------------------------------------
// Cards

function cardShell(m) {
  const plot = PLOTS[m.kind];
  const c = el("section", { class: "card", "data-key": m.key, "data-kind": m.kind });
  const tags = Object.entries(m.tags).map(([k, v]) => (v ? `${k}:${v}` : k)).join(", ");
  c.append(el("h2", {}, m.name));
  c.append(el("div", { class: "meta" }, m.kind + (tags ? " · " + tags : "")));
  c.append(el("div", { class: "value" }, fmt(m.last[plot.headline]) + plot.unit + (m.kind === "timer" ? " " + label("pct") : "")));
  c.append(el("div", { class: "plot" }), el("div", { class: "readout" }));
  return c;
}

async function drawCard(card) {
  const { m, el: box } = card;
  const plot = PLOTS[m.kind];
  const resolution = state.range > 3600 ? "minute" : "flush";
  const since = Math.floor(Date.now() / 1000 - state.range);
  const q = new URLSearchParams({ kind: m.kind, name: m.key, resolution, since });
  try {
    card.history = await getJSON("/api/v1/history?" + q);
  } catch (e) {
    box.querySelector(".plot").replaceChildren(el("div", { class: "meta" }, String(e.message || e)));
    return;
  }
  // The headline: the newest value the history holds (fresh each refresh,
  // while a long list is read less often; a timer's newest flush may have
  // had no values), else the list's.
  const j = newestRow(card.history, [plot.headline]);
  const headline = j === null ? m.last[plot.headline] : card.history[plot.headline][j];
  box.querySelector(".value").textContent = fmt(headline) + plot.unit + (m.kind === "timer" ? " " + label("pct") : "");
  chart(box, m, card.history);
}

function groupHeader(block) {
  const h = el("h2", { class: "group-head" });
  const button = el("button", {
    type: "button", "data-toggle": block.group, "aria-expanded": String(!block.collapsed),
  }, (block.collapsed ? "▸ " : "▾ ") + groupLabel(block.group));
  // A group split across pages says which of its series this page holds.
  const part = block.cards.length < block.total && !block.collapsed;
  const note = `${block.total} series` + (part ? `, ${block.first + 1}–${block.first + block.cards.length} shown` : "");
  h.append(button, el("span", { class: "group-count" }, note));
  return h;
}

function pagerButtons(pages) {
  const page = state.page;
  const nav = el("div", { class: "pager", role: "navigation", "aria-label": "pages" });
  const button = (to, text, disabled) => el("button", { type: "button", "data-page": String(to), ...(disabled ? { disabled: "" } : {}) }, text);
  nav.append(
    button(1, "«", page === 1),
    button(page - 1, "‹", page === 1),
    el("span", { class: "page-of" }, `page ${page} of ${pages}`),
    button(page + 1, "›", page === pages),
    button(pages, "»", page === pages),
  );
  return nav;
}

// Lays out the current page and draws its cards; cards already on screen
// for the same series are kept.
async function render() {
  const list = state.list;
  const grouped = groups(list.series);
  const { pages, startPage } = paginate(grouped);
  state.page = Math.min(state.page, pages.length);
  writeURL();
  const capped = list.matching > list.listed ? `, the first ${fmt(list.listed)} listed (search to narrow)` : "";
  $("count").textContent = `${list.matching} of ${list.stored} series in ${grouped.length} group${grouped.length === 1 ? "" : "s"}${capped}`;

  const chips = grouped.slice(0, GROUP_CHIPS).map((g) => {
    const b = el("button", { type: "button", "data-group": g.group, "data-page": String(startPage.get(g.group)) }, groupLabel(g.group) + " ");
    if (state.collapsed.has(g.group)) b.classList.add("collapsed");
    b.append(el("span", {}, String(g.series.length)));
    return b;
  });
  if (grouped.length > GROUP_CHIPS) chips.push(el("span", { class: "more" }, `+${grouped.length - GROUP_CHIPS} more groups`));
  const all = el("button", { type: "button", "data-all": state.collapsed.size ? "expand" : "collapse" },
    state.collapsed.size ? "expand all" : "collapse all");
  $("groups").replaceChildren(...chips, all);
  const pager = pages.length > 1 ? [pagerButtons(pages.length)] : [];
  $("pager").replaceChildren(...pager);
  $("pager-bottom").replaceChildren(...pager.map((p) => p.cloneNode(true)));

  const old = new Map(state.shown.map((c) => [c.m.kind + " " + c.m.key, c]));
  const shown = [];
  const sections = pages[state.page - 1].map((block) => {
    const s = el("section", { class: "group", "data-group": block.group, "data-collapsed": String(block.collapsed) });
    s.append(groupHeader(block));
    if (!block.collapsed) {
      const cards = el("div", { class: "cards" });
      for (const m of block.cards) {
        const id = m.kind + " " + m.key;
        const card = old.get(id) || { m, el: cardShell(m), history: null };
        card.m = m;
        shown.push(card);
        cards.append(card.el);
      }
      s.append(cards);
    }
    return s;
  });
  if (!list.series.length) sections.push(el("p", { class: "empty" }, state.filter ? `no series matches "${state.filter}"` : "no series stored yet"));
  $("charts").replaceChildren(...sections);
  state.shown = shown;
  await Promise.all(shown.map(drawCard));
}

// ---------------------------------------------------------------------------
// Processes

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

// ---------------------------------------------------------------------------
// The refresh loop

// Resolves once the page has been painted for the first time.
const painted = new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
let timer = null;
let generation = 0; // a newer refresh makes an older one's results moot
async function refresh() {
  clearTimeout(timer);
  const mine = ++generation;
  // Pipes' writers may take a moment: the table fills in on its own.
  processes().catch((e) => { $("process-count").textContent = "cannot read the processes: " + e.message; });
  try {
    const healthy = health();
    if (listIsStale()) {
      // The list of 10,000 series costs the server and the browser a
      // moment: asked for once the page is painted, so the page shows first.
      await painted;
      await readList();
    }
    if (mine !== generation) return;
    await render();
    await healthy;
    if (!document.body.dataset.drawnMs) {
      // When the first charts were on screen, for bench/http_bench.py paint.
      document.body.dataset.drawnMs = Math.round(performance.now());
    }
    document.body.dataset.loaded = "true";
  } catch (e) {
    $("count").textContent = "cannot reach the server: " + e.message;
  }
  if (mine === generation) timer = setTimeout(refresh, Math.max(2, state.interval) * 1000);
}

// Redraws the cards on screen from the history they hold (after a resize).
function redraw() {
  state.plotWidth = 0;
  for (const card of state.shown) if (card.history) chart(card.el, card.m, card.history);
}

function goTo(page) {
  if (!state.list) return;
  state.page = Math.max(1, page);
  render().catch((e) => { $("count").textContent = "cannot reach the server: " + e.message; });
  window.scrollTo(0, 0);
}

function onPager(e) {
  const b = e.target.closest("button[data-page]");
  if (b && !b.disabled) goTo(Number(b.dataset.page));
}

$("filter").addEventListener("input", (e) => {
  state.filter = e.target.value;
  state.page = 1;
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
  state.page = 1;
  refresh();
});
$("pager").addEventListener("click", onPager);
$("pager-bottom").addEventListener("click", onPager);
$("groups").addEventListener("click", (e) => {
  const b = e.target.closest("button");
  if (!b || !state.list) return;
  if (b.dataset.all) {
    state.collapsed = b.dataset.all === "collapse" ? new Set(groups(state.list.series).map((g) => g.group)) : new Set();
    goTo(1);
    return;
  }
  // A collapsed group opens when it is chosen.
  if (state.collapsed.delete(b.dataset.group)) {
    const { startPage } = paginate(groups(state.list.series));
    goTo(startPage.get(b.dataset.group) || 1);
  } else goTo(Number(b.dataset.page));
});
$("charts").addEventListener("click", (e) => {
  const b = e.target.closest("button[data-toggle]");
  if (!b || !state.list) return;
  const g = b.dataset.toggle;
  if (!state.collapsed.delete(g)) state.collapsed.add(g);
  // Stay with the group: go to the page it now starts on.
  const { startPage } = paginate(groups(state.list.series));
  goTo(startPage.get(g) || 1);
});
let resizing = null;
window.addEventListener("resize", () => {
  clearTimeout(resizing);
  resizing = setTimeout(redraw, 150);
});

readURL();
$("filter").value = state.filter;
$("own").checked = state.own;
for (const b of $("ranges").children) b.classList.toggle("on", Number(b.dataset.range) === state.range);
refresh();
