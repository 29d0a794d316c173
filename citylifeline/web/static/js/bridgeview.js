// The bridge analyst on the overview: one card per bridge with its monitoring class (the five of
// CJJ 99-2017, A 完好 … E 危险) and the reasons, how far its frequency chart has learnt, the first
// frequency over the last days against the deck temperature with its temperature-compensated shift,
// the overweight vehicles per day and the latest ones, and each strain gauge's fatigue.  Shown only
// where the analyst runs (GET /api/v1/analysts/bridge answers).  An incident on a bridge shows the
// bridge's part (bridgePanel) with a link to its card; the one map colours the bridges by class.
import { el, fmtDay, fmtTime } from "./api.js";
import { f1Chart } from "./chart.js";
import { currentLang, t } from "./i18n.js";

export const CLASS_COLOURS = { A: "#22c55e", B: "#3b82f6", C: "#facc15", D: "#f97316", E: "#ef4444" };
export const CLASSES = Object.keys(CLASS_COLOURS);
const MAX_VEHICLES = 6;
const MAX_DAYS = 8;
const charts = new WeakMap(); // a card's chart box → what to draw in it once it is in the page

export function pick(pair) { return pair ? (currentLang() === "zh" ? pair.zh : pair.en) : ""; }

export async function fetchBridges() {
  const r = await fetch("/api/v1/analysts/bridge", { headers: { Accept: "application/json" } });
  return r.ok ? r.json() : null; // not running here
}

// the address of a bridge's card on the overview
export function cardHref(asset) { return `#overview/${encodeURIComponent(asset)}`; }

// the class as a badge in its colour, "B 良好"; data-class is empty before the first assessment
export function classBadge(a) {
  if (!a) return el("span", { class: "bridge-class none", dataset: { class: "" } }, t("br.unassessed"));
  return el("span", { class: `bridge-class cls-${a.class}`, dataset: { class: a.class },
    style: `background:${CLASS_COLOURS[a.class] || "#64748b"}` }, `${a.class} ${pick(a)}`);
}

export async function bridgeView() {
  const data = await fetchBridges();
  if (!data) return null;
  return el("div", { class: "bridge-view", id: "bridge-view" },
    el("h3", { "data-i18n": "br.title" }, t("br.title")),
    data.bridges.length ? el("div", { class: "bridge-cards" }, ...data.bridges.map(card))
      : el("p", { class: "muted" }, t("br.none")));
}

// the charts, once the view is in the page (they take their width from it)
export function drawBridgeCharts(view) {
  for (const box of view.querySelectorAll(".bridge-f1")) {
    const c = charts.get(box);
    if (c) f1Chart(box, c.history, { sync: c.asset, band: c.band,
      labels: { f1: t("br.f1_hz"), deck: t("br.deck_c"), shift: t("br.shift_pct") } });
  }
}

// the card of one bridge on the overview, focused (outlined, scrolled to) when the address names it
export function focusCard(view, asset) {
  const c = [...view.querySelectorAll(".bridge-card")].find((x) => x.dataset.asset === asset);
  if (!c) return;
  c.classList.add("focus");
  c.scrollIntoView({ block: "start" });
}

function card(b) {
  const a = b.assessment;
  const history = b.f1_history || [];
  const box = el("div", { class: "chart bridge-f1" });
  charts.set(box, { history, asset: b.asset, band: b.alarm ? [b.alarm.since_ms, history.length ? history[history.length - 1].t_ms : null] : null });
  return el("div", { class: "card bridge-card", dataset: { asset: b.asset, phase: b.phase, class: a ? a.class : "" },
    style: `border-left-color:${a ? CLASS_COLOURS[a.class] : "var(--line)"}` },
    el("div", { class: "bridge-head" }, el("h4", {}, b.name), classBadge(a),
      a ? el("span", { class: "small muted bridge-when" }, `${t("br.assessed")} ${fmtTime(a.t_ms)}`) : null),
    a ? el("ul", { class: "bridge-reasons" }, ...a.reasons.map((r) => el("li", {}, pick(r)))) : null,
    classStrip(b.assessments || []),
    phaseLine(b),
    el("h5", {}, t("br.f1")),
    history.length ? box : el("p", { class: "muted small" }, t("br.no_history")),
    loads(b),
    fatigueTable(b.fatigue));
}

// the last assessments, oldest first, one coloured square each
function classStrip(list) {
  if (!list.length) return null;
  return el("p", { class: "small class-strip" }, el("span", { class: "muted" }, `${t("br.history")} `),
    ...list.map((a) => el("i", { dataset: { class: a.class }, style: `background:${CLASS_COLOURS[a.class] || "#64748b"}`,
      title: `${fmtTime(a.t_ms)} · ${a.class} ${pick(a)}` }, a.class)));
}

function signed(v) { return `${v > 0 ? "+" : ""}${v.toFixed(2)} %`; }

// the frequency chart's phase, how many days it has learnt, the shift now and the damage alarm
export function phaseLine(b) {
  const key = `br.phase_${b.phase.replace(/\W+/g, "_")}`;
  const word = t(key) === key ? b.phase : t(key);
  return el("p", { class: "bridge-phase" },
    el("span", { class: `chip phase phase-${b.phase.replace(/\W+/g, "_")}` }, word), " ",
    el("span", { class: "muted" }, `${t("br.learnt")} `), `${b.learnt_days} ${t("br.days")}`,
    b.f1_shift_pct === null || b.f1_shift_pct === undefined ? null
      : [" · ", el("span", { class: "muted" }, `${t("br.shift")} `), signed(b.f1_shift_pct)],
    b.alarm ? [" · ", el("b", { class: "bad bridge-alarm" },
      `${t("br.alarm")} ${signed(-b.alarm.drop_pct)} ${t("br.since")} ${fmtTime(b.alarm.since_ms)}`)] : null);
}

export function vehicleList(vehicles, max = MAX_VEHICLES) {
  if (!vehicles.length) return el("p", { class: "muted small" }, t("br.no_vehicles"));
  return el("ol", { class: "bridge-vehicles" }, ...vehicles.slice(0, max).map((v) => el("li", {},
    el("span", { class: "muted" }, fmtTime(v.t_ms)), " ", el("b", {}, `${v.weight_t} t`))));
}

// the overweight vehicles per day as bars (count above, day below, the heaviest on hover), the
// latest vehicles, and from what weight the bridge's gauges tell a vehicle overweight
function loads(b) {
  const days = (b.overweight_by_day || []).slice(-MAX_DAYS);
  const top = Math.max(1, ...days.map((d) => d.vehicles));
  const vehicles = b.vehicles || [];
  return el("div", { class: "bridge-loads" },
    el("div", {}, el("h5", {}, t("br.overweight")),
      days.length ? el("div", { class: "owbars" }, ...days.map((d) => el("span", { class: "owday",
        dataset: { day: String(d.day_ms), vehicles: String(d.vehicles) },
        title: `${fmtDay(d.day_ms)}: ${d.vehicles} ${t("br.vehicles")} · ${t("br.heaviest")} ${d.heaviest_t} t` },
      el("b", {}, String(d.vehicles)), el("i", { style: `height:${Math.max(3, Math.round(40 * d.vehicles / top))}px` }),
      el("small", {}, fmtDay(d.day_ms)), el("small", { class: "muted" }, `${Math.round(d.heaviest_t)} t`))))
        : el("p", { class: "muted small" }, t("br.no_overweight"))),
    el("div", {}, el("h5", {}, `${t("br.latest_vehicles")} (${vehicles.length})`), vehicleList(vehicles)),
    el("p", { class: "small muted bridge-weighs", title: t("br.weighs_why") },
      b.weighs_from_t === null || b.weighs_from_t === undefined ? t("br.weighs_span")
        : `${t("br.weighs_from")} ${b.weighs_from_t} t`));
}

function sci(x) {
  if (x === null || x === undefined) return "–";
  return x === 0 ? "0" : x.toExponential(2);
}

function life(f) {
  if (f.remaining_years === null || f.remaining_years === undefined) {
    return f.damage_per_day === null || f.damage_per_day === undefined ? t("br.life_unknown") : "∞";
  }
  const y = f.remaining_years;
  return `${y >= 1e4 ? y.toExponential(1) : y.toFixed(1)} ${t("br.years")}`;
}

// each strain gauge's fatigue: Miner's sum used, per day, the life left at that rate, whether it
// reads fast enough to count every lorry's cycle, and the analyst's words
function fatigueTable(rows) {
  if (rows === undefined) return null; // an analyst that does not count fatigue
  const head = ["br.gauge", "br.damage", "br.per_day", "br.life", "br.sampling"];
  return el("div", {}, el("h5", {}, t("br.fatigue")),
    rows.length ? el("table", { class: "grid bridge-fatigue" },
      el("tr", {}, ...head.map((k) => el("th", { "data-i18n": k }, t(k)))),
      ...rows.flatMap((f) => [
        el("tr", { dataset: { sensor: f.sensor, adequate: String(f.adequate) } },
          el("td", { title: f.detail || "" }, el("b", {}, f.sensor)),
          el("td", {}, sci(f.damage)), el("td", {}, sci(f.damage_per_day)), el("td", {}, life(f)),
          el("td", { class: f.adequate ? "good" : "bad" },
            `${f.adequate ? "✓" : "✗"} ${f.hz === null || f.hz === undefined ? "–" : f.hz} Hz · `,
            t(f.adequate ? "br.adequate" : "br.inadequate"))),
        el("tr", { class: "words" }, el("td", { colspan: head.length, class: "small muted" }, pick(f.words)))]))
      : el("p", { class: "muted small" }, t("br.no_gauge")));
}

// a bridge incident's side panel: the bridge's class and reasons, its chart's state, the latest
// vehicles weighed, and the way to its card
export function bridgePanel(b) {
  const a = b.assessment;
  return el("div", { class: "bridge-panel", id: "bridge-panel", dataset: { asset: b.asset, class: a ? a.class : "" } },
    el("h3", { "data-i18n": "br.panel" }, t("br.panel")),
    el("p", {}, el("b", {}, b.name), " ", classBadge(a),
      a ? el("span", { class: "small muted" }, ` ${t("br.assessed")} ${fmtTime(a.t_ms)}`) : null),
    a ? el("ul", { class: "bridge-reasons" }, ...a.reasons.map((r) => el("li", {}, pick(r)))) : null,
    phaseLine(b),
    el("h4", {}, t("br.latest_vehicles")), vehicleList(b.vehicles || [], 4),
    el("a", { href: cardHref(b.asset), class: "bridge-card-link" }, t("br.open_card")));
}
