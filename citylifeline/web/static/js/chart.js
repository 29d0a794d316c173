// A sensor's readings as a time chart (uPlot) with its warning thresholds drawn as dashed lines
// in the level colours, and an optional band marking when the incident ran.
import { COLOURS, displayUnit, fmtDay, fmtHourMinute, fmtTime, toDisplay, ui } from "./api.js";

const LEVELS = ["IV", "III", "II", "I"];
// the time axis in the city's 24-hour clock
const timeAxis = { stroke: "#94a3b8", grid: { stroke: "#1e293b" }, values: (u, splits) => splits.map((s) => fmtHourMinute(s * 1000)) };
// ... over days: the date at midnight
const daysAxis = { ...timeAxis, values: (u, splits) => splits.map((s) => {
  const hm = fmtHourMinute(s * 1000);
  return hm === "00:00" ? fmtDay(s * 1000) : hm;
}) };

// sensor: {kind, high: {IV: v…}, low: {…}} in canonical units; t: epoch ms; value: canonical
export function sensorChart(target, sensor, t, value, opts = {}) {
  target.replaceChildren();
  const xs = t.map((ms) => ms / 1000);
  const ys = value.map((v) => toDisplay(v, sensor.kind));
  const series = [{ value: (u, v) => (v === null ? "--" : fmtTime(v * 1000)) }, { label: displayUnit(sensor.kind), stroke: "#e2e8f0", width: 1.5, points: { show: false } }];
  const data = [xs, ys];
  for (const [side, lines] of [["high", sensor.high || {}], ["low", sensor.low || {}]]) {
    for (const lv of LEVELS) {
      if (lines[lv] === undefined) continue;
      const y = toDisplay(lines[lv], sensor.kind);
      series.push({ label: `${lv} ${side === "high" ? "≥" : "≤"}`, stroke: COLOURS[lv], width: 1,
        dash: [6, 4], points: { show: false } });
      data.push(xs.map(() => y));
    }
  }
  const band = opts.band;
  const width = Math.max(280, target.clientWidth || 520);
  const plot = new uPlot({
    width, height: opts.height || 220,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), ui.timezone),
    legend: { show: opts.legend !== false },
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true }, y: { range: (u, lo, hi) => padRange(lo, hi) } },
    axes: [timeAxis, { stroke: "#94a3b8", grid: { stroke: "#1e293b" }, size: 60, label: displayUnit(sensor.kind) }],
    series,
    hooks: band ? { drawClear: [(u) => shade(u, band)] } : {},
  }, data, target);
  target.dataset.points = String(xs.length);
  target.dataset.thresholds = String(series.length - 2);
  return plot;
}

function padRange(lo, hi) {
  if (lo === null || hi === null) return [0, 1];
  const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.05 || 1;
  return [lo - pad, hi + pad];
}

function shade(u, [t0, t1]) {
  const x0 = u.valToPos(t0 / 1000, "x", true);
  const x1 = u.valToPos((t1 || t0) / 1000, "x", true);
  const ctx = u.ctx;
  ctx.save();
  ctx.fillStyle = "rgba(239,68,68,0.10)";
  ctx.fillRect(Math.min(x0, x1), u.bbox.top, Math.max(2, Math.abs(x1 - x0)), u.bbox.height);
  ctx.restore();
}

// stacked bars per hour and level (overview trend)
export function trendChart(target, hourMs, byLevel) {
  target.replaceChildren();
  const xs = hourMs.map((ms) => ms / 1000);
  const order = ["IV", "III", "II", "I"];
  const stacked = [];
  let acc = xs.map(() => 0);
  for (const lv of order) {
    acc = acc.map((a, i) => a + (byLevel[lv] ? byLevel[lv][i] : 0));
    stacked.push(acc.slice());
  }
  const bars = uPlot.paths.bars({ size: [0.8, 40] });
  const series = [{}];
  const data = [xs];
  for (let k = order.length - 1; k >= 0; k -= 1) {
    series.push({ label: order[k], fill: COLOURS[order[k]], stroke: COLOURS[order[k]], paths: bars,
      points: { show: false } });
    data.push(stacked[k]);
  }
  return new uPlot({
    width: Math.max(300, target.clientWidth || 700), height: 220,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), ui.timezone),
    scales: { x: { time: true, range: (u, lo, hi) => [lo - 1800, hi + 1800] }, // whole bars at the edges
      y: { range: (u, lo, hi) => [0, Math.max(3, hi + 1)] } },
    axes: [timeAxis, { stroke: "#94a3b8", grid: { stroke: "#1e293b" } }],
    series,
  }, data, target);
}

// a bridge's first frequency by the hour with its deck temperature (right axis), and below it the
// frequency's temperature-compensated shift in % (what the damage alarm watches), the cursors joined;
// history: [{t_ms, f_hz, deck_c, shift_pct}], oldest first; band: the alarm's [since, until]
export function f1Chart(target, history, opts = {}) {
  target.replaceChildren();
  const xs = history.map((h) => h.t_ms / 1000);
  const col = (k) => history.map((h) => (h[k] === undefined ? null : h[k]));
  const width = Math.max(280, target.clientWidth || 480);
  const tzDate = (ts) => uPlot.tzDate(new Date(ts * 1000), ui.timezone);
  const cursor = { sync: { key: `f1-${opts.sync || ""}` } };
  const stamp = { value: (u, v) => (v === null ? "--" : fmtTime(v * 1000)) };
  const axis = { stroke: "#94a3b8", grid: { stroke: "#1e293b" }, size: 56 };
  const right = { side: 1, size: 44, grid: { show: false } };
  const labels = opts.labels || {};
  const top = document.createElement("div");
  const bottom = document.createElement("div");
  target.append(top, bottom);
  const band = opts.band ? [(u) => shade(u, opts.band)] : [];
  new uPlot({
    width, height: 170, tzDate, cursor,
    scales: { x: { time: true }, hz: { range: (u, lo, hi) => padRange(lo, hi) }, c: { range: (u, lo, hi) => padRange(lo, hi) } },
    axes: [daysAxis, { ...axis, scale: "hz", label: "Hz" }, { ...right, scale: "c", stroke: "#f59e0b", label: "°C" }],
    series: [stamp, { label: labels.f1 || "Hz", scale: "hz", stroke: "#e2e8f0", width: 1.5, points: { show: false } },
      { label: labels.deck || "°C", scale: "c", stroke: "#f59e0b", width: 1, dash: [4, 3], points: { show: false } }],
    hooks: { drawClear: band },
  }, [xs, col("f_hz"), col("deck_c")], top);
  new uPlot({
    width, height: 110, tzDate, cursor,
    scales: { x: { time: true }, y: { range: (u, lo, hi) => { const m = Math.max(0.5, Math.abs(lo ?? 0), Math.abs(hi ?? 0)) * 1.15; return [-m, m]; } } },
    axes: [daysAxis, { ...axis, label: "%" }, { ...right, values: (u, splits) => splits.map(() => "") }],
    series: [stamp, { label: labels.shift || "%", stroke: "#38bdf8", width: 1.5, points: { show: false } }],
    hooks: { drawClear: [...band, zeroLine] },
  }, [xs, col("shift_pct")], bottom);
  target.dataset.points = String(xs.length);
  target.dataset.shifts = String(history.filter((h) => h.shift_pct !== null && h.shift_pct !== undefined).length);
}

function zeroLine(u) {
  const y = u.valToPos(0, "y", true);
  const ctx = u.ctx;
  ctx.save();
  ctx.strokeStyle = "#64748b";
  ctx.setLineDash([2, 4]);
  ctx.beginPath();
  ctx.moveTo(u.bbox.left, y);
  ctx.lineTo(u.bbox.left + u.bbox.width, y);
  ctx.stroke();
  ctx.restore();
}
