// The drainage forecast on the map: each waterlogging point and sewer catchment as a circle whose
// size and colour are the water forecast there (a point: metres on the street; a catchment: its worst
// manhole's overflow), animated over the next two hours a frame a step, the clock of the frame shown;
// a place warned is ringed in its level's colour.  Hover for the place, its water now and ahead, and
// the time left.  And the incident's panel: each place's forecast band and the time left.
import { COLOURS, el, fmtTime, getJSON } from "./api.js";
import { t } from "./i18n.js";

const REFRESH_MS = 30000;
const FRAME_MS = 900;
const LEVELS = { 1: "IV", 2: "III", 3: "II", 4: "I" };
const SHADES = [[0.5, "#bae6fd"], [1, "#38bdf8"], [2, "#2563eb"], [Infinity, "#7c3aed"]]; // water ÷ its warning bar
export const pond = { data: null, frame: 0, frames: 0, layer: null, marks: new Map(), label: null, renderer: null };

export async function initPonding(map, renderer) {
  pond.renderer = renderer; // the map's one canvas
  pond.layer = L.layerGroup().addTo(map);
  const Clock = L.Control.extend({ onAdd: () => el("div", { class: "pond-clock", id: "pond-clock", hidden: true }) });
  new Clock({ position: "bottomleft" }).addTo(map);
  pond.label = document.getElementById("pond-clock");
  await refreshPonding();
  setInterval(refreshPonding, REFRESH_MS);
  setInterval(() => { if (pond.frames) { pond.frame = (pond.frame + 1) % pond.frames; drawFrame(); } }, FRAME_MS);
}

export async function refreshPonding() {
  try {
    pond.data = await getJSON("/api/v1/analysts/drainage");
  } catch (e) { // no drainage analyst in this city or for this person
    pond.data = null;
  }
  const places = pond.data ? pond.data.places : [];
  pond.frames = Math.max(0, ...places.map((p) => (p.ahead ? p.ahead.p50.length : 0)));
  if (pond.frame >= pond.frames) pond.frame = 0;
  for (const [key, m] of pond.marks) if (!places.some((p) => p.key === key)) { m.remove(); pond.marks.delete(key); }
  for (const p of places) {
    if (!pond.marks.has(p.key)) {
      pond.marks.set(p.key, L.circleMarker([p.lat, p.lon], { renderer: pond.renderer, weight: 3, fillOpacity: 0.75 })
        .bindTooltip(() => tooltip(pond.marks.get(p.key).place), { sticky: true }).addTo(pond.layer));
    }
    pond.marks.get(p.key).place = p;
  }
  drawFrame();
}

// the water at a place in the frame shown (its forecast median; the now-run's without a forecast)
export function waterAt(p, frame) {
  return p.ahead ? p.ahead.p50[Math.min(frame, p.ahead.p50.length - 1)] : p.now;
}

function drawFrame() {
  for (const m of pond.marks.values()) {
    const p = m.place;
    const ratio = waterAt(p, pond.frame) / p.bar;
    const shade = SHADES.find(([upTo]) => ratio < upTo)[1];
    const warned = p.level > 0;
    m.setStyle({ radius: 4 + 6 * Math.min(ratio, 3), fillColor: shade, color: warned ? COLOURS[LEVELS[p.level]] : shade,
      opacity: ratio > 0.05 || warned ? 1 : 0.25, fillOpacity: ratio > 0.05 ? 0.75 : 0.15 });
  }
  const at = pond.data?.forecast_ms;
  if (pond.label) {
    pond.label.hidden = !pond.frames || !at;
    if (pond.frames && at) {
      const step = pond.data.places.find((p) => p.ahead)?.ahead.step_s || 300;
      const mins = (pond.frame + 1) * step / 60;
      pond.label.dataset.frame = String(pond.frame);
      pond.label.textContent = `${t("pond.title")} +${mins} ${t("ov.min")} · ${fmtTime(at + mins * 60000)}`;
    }
  }
}

function unit(p, v) { return p.catchment ? `${Math.round(v * 1000)} L/s` : `${v.toFixed(2)} m`; }

function timeLeft(p) {
  if (!p.when_ms) return "";
  const mins = Math.round((p.when_ms - (pond.data?.model_time_ms || p.when_ms)) / 60000);
  return mins > 0 ? `${t("pond.in")} ${mins} ${t("ov.min")} (${fmtTime(p.when_ms)})` : t("pond.now");
}

function tooltip(p) {
  const peak = p.ahead ? Math.max(...p.ahead.p50) : p.now;
  return el("div", { class: "pond-tip" }, el("b", {}, p.name), el("br"),
    `${t("pond.now_water")} ${unit(p, p.now)} · ${t("pond.peak")} ${unit(p, peak)} · ${t("pond.bar")} ${unit(p, p.bar)}`,
    p.level ? el("div", { style: `color:${COLOURS[LEVELS[p.level]]}` }, `${t("pond.warned")} ${LEVELS[p.level]} · ${timeLeft(p)}`)
      : null);
}

// an incident's forecast: per place the band ahead as a small bar chart and the time left
export function pondPanel(d) {
  return el("div", { class: "pond-panel", id: "pond-panel" },
    el("h3", { "data-i18n": "pond.incident" }, t("pond.incident")),
    ...d.places.map((p) => el("div", { class: "pond-place", dataset: { key: p.key } },
      el("b", {}, p.name), el("div", { class: "small" }, timeLeft(p) || t("pond.dry")),
      p.ahead ? band(p) : null)),
    d.rain.source ? el("p", { class: "small muted" }, `${t("pond.rain")}: ${d.rain.source}`) : null);
}

function band(p) {
  const top = Math.max(p.bar * 2, ...p.ahead.p90);
  const pc = (v) => Math.round(100 * Math.min(v, top) / top);
  const cols = p.ahead.p50.map((v, k) => el("i", { class: "pond-col", title: `+${(k + 1) * 5} min: ${unit(p, v)}` },
    el("span", { class: "pond-range", style: `bottom:${pc(p.ahead.p10[k])}%;height:${pc(p.ahead.p90[k]) - pc(p.ahead.p10[k])}%` }),
    el("span", { class: "pond-mid", style: `height:${pc(v)}%` })));
  return el("div", { class: "pond-band" }, el("s", { style: `bottom:${pc(p.bar)}%` }), ...cols);
}
