// What an incident threatens next (its cascade): each chain of secondary effects as a row of steps
// with how likely and how soon, the reason in words and the sensors that would show it (those already
// warning in bold), and the same on the incident's mini-map as dashed lines from the incident.  The
// platform's sentences come in both languages (data-zh / data-en follow the language switch).
import { el, getJSON } from "./api.js";
import { currentLang, t } from "./i18n.js";

const MAX_CHAINS = 6;
const EFFECT_COLOUR = { people: "#dc2626", explosion: "#dc2626", collapse: "#ea580c", gas_in_space: "#f97316",
  gas_leak: "#f97316", traffic: "#a855f7", outage: "#eab308" };

function words(zh, en) { return el("span", { dataset: { zh, en } }, currentLang() === "zh" ? zh : en); }

function when(s) {
  const f = (x) => (x < 90 ? `${Math.round(x)} s` : x < 5400 ? `${Math.round(x / 60)} min`
    : x < 172800 ? `${Math.round(x / 3600)} h` : `${Math.round(x / 86400)} d`);
  return s[1] <= 60 ? t("cascade.at_once") : `${f(s[0])}–${f(s[1])}`;
}

function step(s) {
  const sensors = s.sensors.length ? s.sensors.slice(0, 4).map((id) =>
    el(s.showing.includes(id) ? "b" : "span", { class: `chip ${s.showing.includes(id) ? "showing" : ""}` }, id))
    : [el("span", { class: "muted small", "data-i18n": "cascade.unwatched" }, t("cascade.unwatched"))];
  return el("li", { class: "cascade-step", dataset: { effect: s.effect, asset: s.asset } },
    el("b", { style: `color:${EFFECT_COLOUR[s.effect] || "#e2e8f0"}` }, words(s.name_zh, s.name_en)),
    ` · ${s.asset.split("/").pop()} · ${Math.round(s.likelihood * 100)}% · ${when(s.after_s)}`,
    el("div", { class: "small" }, words(s.reason_zh, s.reason_en)),
    el("div", { class: "small" }, ...sensors));
}

export function cascadePanel(c) {
  const head = el("h3", { "data-i18n": "cascade.title" }, t("cascade.title"));
  if (!c.chains.length) {
    return el("div", { class: "cascade-panel", id: "cascade-panel" }, head,
      el("p", { class: "muted", "data-i18n": "cascade.none" }, t("cascade.none")));
  }
  const people = c.reaches_people;
  return el("div", { class: "cascade-panel", id: "cascade-panel", dataset: { chains: c.chains.length } }, head,
    people ? el("p", { class: "bad", id: "cascade-people" }, el("b", { "data-i18n": "cascade.people" }, t("cascade.people")),
      " ", words(people.reason_zh, people.reason_en), ` (${Math.round(people.likelihood * 100)}%)`) : null,
    ...c.chains.slice(0, MAX_CHAINS).map((chain, k) =>
      el("ol", { class: "cascade-chain", dataset: { k } }, ...chain.map(step))),
    c.chains.length > MAX_CHAINS ? el("p", { class: "muted small" }, `+${c.chains.length - MAX_CHAINS}`) : null,
    c.unlisted ? el("p", { class: "muted small", id: "cascade-unlisted" }, `${t("cascade.unlisted")}: ${c.unlisted}`)
      : null);
}

export function drawCascade(map, c, from) {
  // dashed lines from the incident to each step of the likeliest chains, a dot per step
  for (const chain of c.chains.slice(0, MAX_CHAINS)) {
    let prev = from;
    for (const s of chain) {
      if (s.lat === null) continue;
      const colour = EFFECT_COLOUR[s.effect] || "#94a3b8";
      L.polyline([prev, [s.lat, s.lon]], { color: colour, weight: 2, dashArray: "5 4", opacity: 0.9 }).addTo(map);
      L.circleMarker([s.lat, s.lon], { radius: 5, color: "#0f172a", weight: 1, fillColor: colour, fillOpacity: 1 })
        .bindTooltip(`${currentLang() === "zh" ? s.name_zh : s.name_en} · ${Math.round(s.likelihood * 100)}%`).addTo(map);
      prev = [s.lat, s.lon];
    }
  }
}

// an asset clicked on the one map: lines to the assets of other lifelines it touches or depends on,
// and a popup listing them (GET /api/v1/assets/{key}/coupling)
let coupled = null;
export async function showCoupling(map, key, latlng) {
  let c;
  try {
    c = await getJSON(`/api/v1/assets/${key.split("/").map(encodeURIComponent).join("/")}/coupling`);
  } catch (e) {
    console.warn("coupling:", e.message);
    return;
  }
  if (coupled) coupled.clearLayers(); else coupled = L.layerGroup().addTo(map);
  for (const o of c.coupled) {
    L.polyline([[c.lat, c.lon], [o.lat, o.lon]], { color: "#f97316", weight: 2, dashArray: "3 3" }).addTo(coupled);
    L.circleMarker([o.lat, o.lon], { radius: 4, color: "#0f172a", weight: 1, fillColor: "#f97316", fillOpacity: 1 })
      .bindTooltip(`${o.name} · ${t(`coupling.${o.kind}`)} · ${o.distance_m} m`).addTo(coupled);
  }
  L.popup({ className: "coupling-popup-wrap" }).setLatLng(latlng).setContent(el("div", { class: "coupling-popup",
    id: "coupling-popup", dataset: { key, count: c.coupled.length } },
  el("b", {}, key.split("/").pop()), " · ", t("coupling.title"), ` (${c.coupled.length})`,
  el("ul", {}, ...c.coupled.slice(0, 8).map((o) => el("li", { dataset: { key: o.key } },
    `${t(`layer.${o.layer}`)} ${o.name} · ${t(`coupling.${o.kind}`)} · ${o.distance_m} m`))))).openOn(map);
}
