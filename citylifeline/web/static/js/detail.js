// An incident's detail: what and where, the evidence (each sensor's readings with its thresholds
// and the reasons in words), a mini-map with the affected assets and the places nearby, the
// timeline, and the lifecycle actions.  A change arriving over the WebSocket refreshes it.
import { COLOURS, SEVERITY, el, fmtAge, fmtTime, getJSON, levelBadge, postJSON, toast, ui } from "./api.js";
import { bridgePanel } from "./bridgeview.js";
import { cascadePanel, drawCascade } from "./cascadeview.js";
import { pondPanel } from "./pondview.js";
import { sensorChart } from "./chart.js";
import { t } from "./i18n.js";
import { drawGas, gasPanel } from "./gaspanel.js";
import { fetchLayer, geoLayer, incidentIcon } from "./layers.js";
import { onChange } from "./live.js";

let current = null; // id shown
let miniMap = null;

export function initDetail() {
  onChange((kind, payload) => {
    if (kind === "incident" && current !== null && payload.incident.id === current) {
      showIncident(current, { quiet: true });
    }
  });
}

export function leaveDetail() {
  current = null;
  if (miniMap) { miniMap.remove(); miniMap = null; }
}

export async function showIncident(id, { quiet = false } = {}) {
  current = id;
  const root = document.getElementById("detail");
  if (!quiet) root.replaceChildren(el("p", { class: "muted" }, "…"));
  let d;
  try {
    d = await getJSON(`/api/v1/incidents/${id}`);
  } catch (e) {
    root.replaceChildren(el("p", { class: "bad" }, `${t("err.load")}: ${e.message}`));
    return;
  }
  if (current !== id) return;
  const inc = d.incident;
  const reasons = latestReasons(d.events);
  const scroll = window.scrollY;
  root.replaceChildren(
    el("div", { class: "detail-head", style: `border-color:${COLOURS[inc.level]}` },
      el("a", { href: "#map", class: "back", "data-i18n": "detail.back" }, t("detail.back")),
      levelBadge(inc.level), el("h2", {}, `#${inc.id} ${inc.title}`),
      el("span", { class: `state-chip state-${inc.state}`, id: "detail-state", dataset: { state: inc.state } },
        t(`istate.${inc.state}`))),
    el("div", { class: "detail-grid" },
      el("div", { class: "detail-main" },
        facts(inc),
        el("h3", { "data-i18n": "detail.reasons" }, t("detail.reasons")),
        el("ul", { class: "reasons" }, ...reasons.map((e) => el("li", {},
          levelBadge(e.level || ""), " ", el("b", {}, e.sensor_id), ` ${fmtTime(e.t_ms)} — ${e.message}`))),
        el("h3", { "data-i18n": "detail.evidence" }, t("detail.evidence")),
        el("div", { id: "evidence" }),
        el("h3", { "data-i18n": "detail.timeline" }, t("detail.timeline")),
        timeline(d.timeline)),
      el("div", { class: "detail-side" },
        actionsPanel(inc),
        d.water ? waterPanel(d.water) : null,
        d.gas ? gasPanel(d.gas) : null,
        d.bridge ? bridgePanel(d.bridge) : null,
        d.drainage ? pondPanel(d.drainage) : null,
        d.cascade ? cascadePanel(d.cascade) : null,
        el("div", { id: "mini-map" }),
        el("h3", { "data-i18n": "detail.nearby" }, t("detail.nearby")),
        nearby(d.nearby_places))));
  const ev = document.getElementById("evidence");
  const rank = rankSensors(d.events);
  const charts = [...d.evidence].sort((a, b) => (rank.get(b.sensor.id) || 0) - (rank.get(a.sensor.id) || 0));
  if (charts.length > MAX_CHARTS) {
    ev.append(el("p", { class: "muted small" }, `${MAX_CHARTS} / ${charts.length} ${t("detail.sensors")}`));
  }
  for (const e of charts.slice(0, MAX_CHARTS)) {
    const box = el("div", { class: "evidence-chart chart", dataset: { sensor: e.sensor.id } });
    ev.append(el("div", { class: "evidence-title" }, `${e.sensor.id} · ${e.sensor.name}`), box);
    sensorChart(box, e.sensor, e.t, e.value, { height: 180, band: [inc.t_first_ms, inc.t_last_ms] });
  }
  await drawMiniMap(d);
  if (quiet) window.scrollTo(0, scroll);
}

const MAX_REASONS = 10;
const MAX_CHARTS = 6;

function latestReasons(events) {
  // the newest event of each sensor and kind — what each sensor says now — warnings still
  // standing first, the highest level first
  const seen = new Map();
  for (const e of [...events].sort((a, b) => b.t_ms - a.t_ms)) {
    const key = `${e.sensor_id}|${e.kind}`;
    if (!seen.has(key)) seen.set(key, e);
  }
  return [...seen.values()].sort((a, b) => (b.active - a.active) || ((SEVERITY[b.level] || 0) - (SEVERITY[a.level] || 0))
    || (b.t_ms - a.t_ms)).slice(0, MAX_REASONS);
}

// sensors by the highest level they raised in this incident
function rankSensors(events) {
  const rank = new Map();
  for (const e of events) rank.set(e.sensor_id, Math.max(rank.get(e.sensor_id) || 0, SEVERITY[e.level] || 0));
  return rank;
}

function chips(items, max = 6) {
  if (!items.length) return t("detail.none");
  const shown = items.slice(0, max).map((x) => el("span", { class: "chip" }, x.replace(/^[a-z]+\//, "")));
  return el("span", {}, ...shown, items.length > max ? el("span", { class: "muted" }, ` +${items.length - max}`) : null);
}

function facts(inc) {
  const row = (k, v) => el("div", { class: "fact" }, el("span", { class: "muted", "data-i18n": k }, t(k)),
    el("b", {}, v));
  return el("div", { class: "facts" },
    row("col.lifeline", t(`layer.${inc.lifeline}`)),
    row("detail.since", `${fmtTime(inc.t_first_ms)} (${fmtAge(Date.now() - inc.t_first_ms)})`),
    row("detail.last", fmtTime(inc.t_last_ms)),
    row("detail.sensors", chips(inc.sensors, 8)),
    row("detail.assets", chips(inc.assets)),
    row("detail.assignee", inc.assignee || "–"),
    row("detail.escalations", String(inc.escalations)),
    inc.feedback ? row("detail.feedback", inc.feedback) : null);
}

function timeline(entries) {
  return el("ol", { class: "timeline", id: "timeline" }, ...entries.map((e) => el("li", { dataset: { action: e.action } },
    el("span", { class: "muted" }, fmtTime(e.at_ms)), " ", el("b", {}, e.actor), " ",
    t(`action.${e.action}`) === `action.${e.action}` ? e.action : t(`action.${e.action}`),
    e.from_state && e.from_state !== e.to_state ? ` (${t(`istate.${e.from_state}`)} → ${t(`istate.${e.to_state}`)})`
      : "",
    e.detail ? el("div", { class: "small" }, e.detail) : null,
    e.source ? el("span", { class: "small muted" }, ` ${e.source}`) : null)));
}

function actionsPanel(inc) {
  // a viewer may look, not act: the server refuses it anyway (403), so no buttons are offered
  if (!["operator", "admin"].includes(window.cl.me?.role)) return null;
  // the person at a shared console; the timeline names the logged-in credential beside them
  const actor = el("input", { id: "actor", value: localStorage.getItem("cl.actor") || "",
    placeholder: window.cl.me?.name || t("action.actor") });
  const assignee = el("input", { id: "assignee", placeholder: t("action.assignee") });
  const text = el("textarea", { id: "action-text", rows: 2, placeholder: t("action.text") });
  const buttons = inc.allowed_actions.map((name) => el("button", {
    class: `action action-${name}`, dataset: { action: name },
    onclick: async (ev) => {
      ev.target.disabled = true;
      localStorage.setItem("cl.actor", actor.value);
      try {
        await postJSON(`/api/v1/incidents/${inc.id}/actions`,
          { action: name, actor: actor.value, assignee: assignee.value, text: text.value });
        toast(`${t(`action.${name}`)}: ${t("action.done")}`);
      } catch (e) {
        toast(e.message, true);
        ev.target.disabled = false;
      }
    },
  }, t(`action.${name}`)));
  const needs = (what) => inc.allowed_actions.some((n) => ui.actions[n] && ui.actions[n].needs === what);
  return el("div", { class: "actions" }, el("h3", { "data-i18n": "detail.actions" }, t("detail.actions")),
    el("label", {}, t("action.actor"), actor),
    needs("assignee") ? el("label", {}, t("action.assignee"), assignee) : null,
    needs("text") ? el("label", {}, t("action.text"), text) : null,
    el("div", { class: "buttons" }, ...buttons));
}

function waterPanel(w) {
  // where the leak is, the valves to close and who loses water (a water incident's analysis); for a
  // network change, the pipe that seems shut and the valves to check
  const shut = w.kind === "network_change";
  const word = (key) => t(shut ? `${key}_shut` : key);
  const head = el("h3", { "data-i18n": shut ? "water.title_shut" : "water.title" }, word("water.title"));
  if (w.status !== "placed") {
    return el("div", { class: "water-panel", id: "water-panel" }, head,
      el("p", { class: "muted" }, w.status === "waiting" ? t("water.waiting") : w.reason));
  }
  const loc = w.localisation;
  const imp = w.impact;
  const pct = Math.round(loc.confidence * 100);
  return el("div", { class: "water-panel", id: "water-panel", dataset: { pipe: loc.pipe, kind: w.kind } }, head,
    el("dl", { class: "water-facts" },
      el("dt", {}, word("water.pipe")), el("dd", {}, el("b", {}, loc.pipe)),
      el("dt", {}, t("water.confidence")), el("dd", {},
        el("span", { class: "meter" }, el("span", { style: `width:${pct}%` })), ` ${pct}%`),
      el("dt", {}, t("water.radius")), el("dd", {}, `${Math.round(loc.radius_m)} m`),
      el("dt", {}, word("water.outflow")), el("dd", {}, `≈ ${loc.leak_m3h} m³/h`),
      el("dt", {}, t("water.candidates")), el("dd", {}, loc.candidates.slice(0, 5)
        .map((c) => `${c.pipe} ${Math.round(c.chance * 100)}%`).join(" · "))),
    el("h4", {}, `${word("water.valves")} (${w.isolation.valves.length})`),
    el("ul", { class: "valves" }, ...w.isolation.valves.map((v) => el("li", {}, `${v.pipe} @ ${v.node}`))),
    el("h4", {}, word("water.impact")),
    el("p", { class: "impact" }, el("b", {}, `${imp.households}`), ` ${t("water.households")} · `,
      el("b", {}, `${imp.population}`), ` ${t("water.people")} · ${t("water.demand")} ${w.isolation.demand_lost_m3h} m³/h`),
    el("ul", { class: "places" }, ...imp.places.map((p) => el("li", { dataset: { kind: p.kind } },
      el("b", {}, p.name), ` · ${Math.round(p.share_without_water * 100)}%`))));
}

function nearby(places) {
  if (!places.length) return el("p", { class: "muted" }, t("detail.none"));
  return el("ul", { class: "places" }, ...places.slice(0, 15).map((p) => el("li", { dataset: { kind: p.kind } },
    el("b", {}, p.name), ` · ${Math.round(p.distance_m)} m`, p.population ? ` · ${p.population} 人` : "")));
}

async function drawMiniMap(d) {
  const inc = d.incident;
  if (miniMap) { miniMap.remove(); miniMap = null; }
  const box = document.getElementById("mini-map");
  if (!box) return;
  miniMap = L.map(box, { preferCanvas: true, attributionControl: false, zoomControl: true });
  const renderer = L.canvas();
  const pts = [[inc.lat, inc.lon], ...d.evidence.filter((e) => e.sensor.lat !== undefined)
    .map((e) => [e.sensor.lat, e.sensor.lon])];
  miniMap.fitBounds(L.latLngBounds(pts).pad(0.15), { maxZoom: 17 }); // the view before the canvas layers
  const assets = new Set(inc.assets);
  const names = ["base", "places", inc.lifeline].filter((n) => ui.layers.includes(n));
  const geo = await Promise.all(names.map((n) => fetchLayer(n)));
  if (!miniMap || miniMap.getContainer() !== box) return; // left or redrawn meanwhile
  names.forEach((name, k) => geoLayer(name, geo[k], renderer, name === inc.lifeline ? assets : null).addTo(miniMap));
  for (const e of d.evidence) {
    if (e.sensor.lat === undefined) continue;
    L.circleMarker([e.sensor.lat, e.sensor.lon], { renderer, radius: 6, color: "#f8fafc", weight: 2,
      fillColor: COLOURS[inc.level], fillOpacity: 1 }).bindTooltip(e.sensor.id).addTo(miniMap);
  }
  for (const p of d.nearby_places.slice(0, 15)) {
    L.circleMarker([p.lat, p.lon], { renderer, radius: 4, color: "#0f172a", weight: 1, fillColor: "#e2e8f0",
      fillOpacity: 0.9 }).bindTooltip(`${p.name} · ${Math.round(p.distance_m)} m`).addTo(miniMap);
  }
  const w = d.water;
  if (w && w.status === "placed") {  // the search circle around the suspected pipe, and the valves to close
    L.circle([w.localisation.lat, w.localisation.lon], { radius: Math.max(w.localisation.radius_m, 30),
      color: "#2563eb", weight: 2, dashArray: "4 3", fillOpacity: 0.08 }).bindTooltip(w.localisation.pipe).addTo(miniMap);
    for (const v of w.isolation.valves) {
      L.circleMarker([v.lat, v.lon], { renderer, radius: 5, color: "#0f172a", weight: 2, fillColor: "#facc15",
        fillOpacity: 1 }).bindTooltip(`${t("water.valves")}: ${v.pipe} @ ${v.node}`).addTo(miniMap);
    }
  }
  if (d.gas) drawGas(miniMap, d.gas, renderer);
  if (d.cascade) drawCascade(miniMap, d.cascade, [inc.lat, inc.lon]);
  L.marker([inc.lat, inc.lon], { icon: incidentIcon(inc), keyboard: false }).addTo(miniMap);
}
