// The water analyst on the overview: how far its calibration is (a progress bar), which windows
// watch, each metered area's minimum night flow over the last nights (the leakage running now, as
// bars), the sensors it set aside as faulty, the leaks it knows, and — for an admin — "learn again".
// Shown only where the analyst runs (GET /api/v1/analysts/water answers).
import { el, fmtTime, postJSON, toast } from "./api.js";
import { currentLang, t } from "./i18n.js";

const WINDOWS = [["2 readings", "wa.win_burst"], ["hour", "wa.win_hour"], ["day", "wa.win_day"]];

function pick(pair) { return pair ? (currentLang() === "zh" ? pair.zh : pair.en) : ""; }

export async function waterView() {
  const r = await fetch("/api/v1/analysts/water", { headers: { Accept: "application/json" } });
  if (!r.ok) return null; // not running here
  const w = await r.json();
  const pct = Math.round(w.ready_fraction * 100);
  const admin = window.cl?.me?.role === "admin";
  return el("div", { class: "water-view", id: "water-view", dataset: { phase: w.phase } },
    el("h3", { "data-i18n": "wa.title" }, t("wa.title")),
    el("p", {}, el("b", { id: "wa-phase" }, pick(w.words)), " · ",
      el("span", { class: "meter", title: `${pct}%` }, el("span", { style: `width:${pct}%` })),
      ` ${w.history_days} / ${w.calibration_days} ${t("wa.days")}`,
      admin ? el("button", { class: "small-btn", id: "wa-recalibrate", onclick: () => recalibrate() },
        t("wa.recalibrate")) : null),
    el("p", { id: "wa-windows" }, ...WINDOWS.map(([name, key]) => el("span", {
      class: `chip ${w.windows[name] ? "on" : "off"}`, dataset: { window: name } },
    `${w.windows[name] ? "✓" : "…"} ${t(key)}`))),
    w.last_failure ? el("p", { class: "small bad" }, w.last_failure) : null,
    el("h4", { "data-i18n": "wa.night" }, t("wa.night")),
    w.night.length ? el("table", { class: "grid", id: "wa-night" },
      el("tr", {}, el("th", {}, t("wa.area")), el("th", {}, t("wa.nights")), el("th", {}, t("wa.latest"))),
      ...w.night.map((a) => el("tr", { dataset: { area: a.area } }, el("td", {}, a.area),
        el("td", {}, nightBars(a.nights)), el("td", { class: "small" }, pick(a.words) || "–"))))
      : el("p", { class: "muted" }, t("wa.no_night")),
    el("h4", { "data-i18n": "wa.set_aside" }, t("wa.set_aside")),
    el("p", { id: "wa-set-aside" }, w.set_aside.length ? w.set_aside.map((s) => el("span", {
      class: "problem problem-drift" }, s)) : el("span", { class: "muted" }, t("wa.none"))),
    el("h4", { "data-i18n": "wa.leaks" }, t("wa.leaks")),
    w.leaks.length ? el("table", { class: "grid", id: "wa-leaks" },
      ...[...w.leaks].reverse().slice(0, 6).map((f) => el("tr", { dataset: { kind: f.kind } },
        el("td", {}, fmtTime(f.reported_ms)), el("td", {}, t(`wa.kind_${f.kind}`)), el("td", {}, f.pipe),
        el("td", {}, `${(f.leak_m3h / 3.6).toFixed(1)} L/s`), el("td", {}, `± ${f.radius_m} m`))))
      : el("p", { class: "muted" }, t("wa.none")));
}

// the excess night inflow of the last nights, one bar each (m³/h above legitimate night use); a night
// whose rise reported a new leak is red
function nightBars(nights) {
  const top = Math.max(1, ...nights.map((n) => Math.abs(n.excess_m3h)));
  return el("span", { class: "nightbars" }, ...nights.map((n) => el("span", {
    class: n.alarm ? "alarm" : "",
    style: `height:${Math.max(2, Math.round(28 * Math.max(0, n.excess_m3h) / top))}px`,
    title: `${fmtTime(n.night_ms)}: ${n.excess_m3h} m³/h${n.alarm ? " — " + t("wa.night_alarm") : ""}` })));
}

async function recalibrate() {
  if (!confirm(t("wa.recalibrate_confirm"))) return;
  try {
    await postJSON("/api/v1/analysts/water/recalibrate", {});
    const fresh = await waterView();
    if (fresh) document.getElementById("water-view").replaceWith(fresh);
  } catch (e) {
    toast(e.message, true);
  }
}
