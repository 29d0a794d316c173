// The city overview (counts by lifeline and level, sensors, incidents today, response times,
// trend, the water and bridge analysts) and the sensor health page for maintenance.
import { COLOURS, el, fmtAge, fmtTime, getJSON, postJSON, toast, ui } from "./api.js";
import { bridgeView, drawBridgeCharts, focusCard } from "./bridgeview.js";
import { trendChart } from "./chart.js";
import { t } from "./i18n.js";
import { riskTopView } from "./riskview.js";
import { waterView } from "./waterview.js";

const LEVELS = ["I", "II", "III", "IV"];

// focus: a bridge asset whose card to show (#overview/<asset>, from the map or a bridge incident)
let renders = 0; // a render superseded by a newer one (a language switch, a refresh) draws nothing

export async function renderOverview(focus = "") {
  const mine = ++renders;
  const root = document.getElementById("overview");
  // everything fetched first, then drawn at once: two renders never interleave their parts
  const [o, risks, water, bridges] = await Promise.all([getJSON("/api/v1/overview"), riskTopView(), waterView(),
    bridgeView()]);
  if (mine !== renders) return;
  const s = o.sensors;
  const card = (key, value, sub = "") => el("div", { class: "card", dataset: { kpi: key } },
    el("div", { class: "muted", "data-i18n": key }, t(key)), el("div", { class: "big" }, value),
    sub ? el("div", { class: "small muted" }, sub) : null);
  const minutes = (v) => (v === null ? "–" : `${v} ${t("ov.min")}`);
  const maxCell = Math.max(1, ...Object.values(o.active_by_lifeline).flatMap((r) => Object.values(r)));
  const table = el("table", { class: "grid matrix", id: "lifeline-matrix" },
    el("thead", {}, el("tr", {}, el("th", {}), ...LEVELS.map((lv) => el("th", {}, lv)))),
    el("tbody", {}, ...ui.lifelines.map((ll) => el("tr", { dataset: { lifeline: ll } },
      el("th", { "data-i18n": `layer.${ll}` }, t(`layer.${ll}`)),
      ...LEVELS.map((lv) => {
        const n = (o.active_by_lifeline[ll] || {})[lv] || 0;
        return el("td", { style: n ? `background:${COLOURS[lv]}${alpha(n / maxCell)};color:#000` : "" }, String(n));
      })))));
  const bar = el("div", { class: "stackbar", id: "sensor-bar" }, ...[["normal", s.normal], ["warning", s.warning],
    ["fault", s.fault], ["offline", s.offline]].filter(([, n]) => n > 0).map(([k, n]) => el("span", {
    style: `flex:${n};background:${k === "warning" ? COLOURS.II : COLOURS[k]}`, title: `${k}: ${n}` }, String(n))));
  const trend = el("div", { id: "trend", class: "chart" });
  root.replaceChildren(
    el("div", { class: "cards" },
      card("ov.active", String(o.active_total)),
      card("ov.today", String(o.today.incidents), `${o.today.false_alarms} ${t("ov.falsealarms")}`),
      card("ov.online", `${s.online} / ${s.total}`),
      card("ov.fault", String(s.fault)),
      card("ov.offline", String(s.offline)),
      card("ov.mtta", minutes(o.response.mean_to_acknowledge_min), `n=${o.response.acknowledged}`),
      card("ov.mttr", minutes(o.response.mean_to_resolve_min), `n=${o.response.resolved}`)),
    el("div", { class: "two" },
      el("div", {}, el("h3", { "data-i18n": "ov.bylifeline" }, t("ov.bylifeline")), table),
      el("div", {}, el("h3", { "data-i18n": "ov.sensors" }, t("ov.sensors")), bar,
        el("h3", { "data-i18n": "ov.trend" }, t("ov.trend")), trend)));
  trendChart(trend, o.trend.hour_ms, o.trend.by_level);
  if (risks) root.append(risks);
  if (water) root.append(water);
  if (bridges) {
    root.append(bridges);
    drawBridgeCharts(bridges);
    if (focus) focusCard(bridges, focus);
  }
}

function alpha(f) {
  return Math.round(80 + 175 * f).toString(16).padStart(2, "0");
}

export async function renderHealth() {
  const root = document.getElementById("health");
  const rows = await getJSON("/api/v1/sensor-health");
  if (!rows.length) {
    root.replaceChildren(el("p", { "data-i18n": "health.none" }, t("health.none")));
    return;
  }
  const head = ["col.sensor", "col.kind", "col.lifeline", "col.problem", "col.lastseen", "col.battery",
    "col.signal", "col.detail"];
  root.replaceChildren(el("h3", {}, `${t("health.title")} (${rows.length})`),
    el("table", { class: "grid", id: "health-table" },
      el("thead", {}, el("tr", {}, ...head.map((k) => el("th", { "data-i18n": k }, t(k))))),
      el("tbody", {}, ...rows.map((r) => el("tr", { dataset: { sensor: r.sensor } },
        el("td", {}, el("b", {}, r.sensor), el("div", { class: "small muted" }, r.name)),
        el("td", {}, r.kind), el("td", {}, t(`layer.${r.lifeline}`)),
        el("td", {}, ...r.problems.map((p) => el("span", { class: `problem problem-${p}` }, t(`problem.${p}`)))),
        el("td", {}, r.last_t ? `${fmtTime(r.last_t)}${r.silent_s ? ` (${fmtAge(r.silent_s * 1000)})` : ""}` : "–"),
        el("td", {}, r.battery === null ? "–" : `${Math.round(r.battery * 100)} %`),
        el("td", {}, r.signal_dbm === null ? "–" : `${r.signal_dbm} dBm`),
        el("td", { class: "small" }, ...r.tickets.map((tk) => el("div", {}, `#${tk.id} ${tk.message} `,
          el("button", { class: "small-btn", onclick: () => closeTicket(tk.id) }, t("health.close"))))))))));
}

async function closeTicket(id) {
  const note = prompt(t("health.note"), "");
  if (note === null) return;
  try {
    await postJSON(`/api/v1/tickets/${id}/close`, { actor: localStorage.getItem("cl.actor") || "maintenance",
      note: note || "repaired" });
    renderHealth();
  } catch (e) {
    toast(e.message, true);
  }
}
