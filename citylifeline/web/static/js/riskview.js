// The four-colour risk map (风险四色图) on the one map — the city's cells in their worst asset's colour,
// the orange and red assets drawn over them — and the construction sites near the lifelines; and on
// the overview, the week's top risks with their reasons and what watches them (or would).
import { COLOURS, el, getJSON } from "./api.js";
import { currentLang, t } from "./i18n.js";

const BY_COLOUR = { red: COLOURS.I, orange: COLOURS.II, yellow: COLOURS.III, blue: COLOURS.IV };
const SITE_COLOUR = "#b45309";
export const risk = { cells: null, assets: null, sites: null, counts: null, shownSites: [] };

function pick(pair) { return pair ? (currentLang() === "zh" ? pair.zh : pair.en) : ""; }

// the risk layer (off until switched on) and the construction sites (on)
export async function initRisk(map, renderer) {
  risk.cells = L.layerGroup();
  risk.sites = L.layerGroup().addTo(map);
  await Promise.all([refreshRisk(renderer), refreshSites(renderer)]);
}

export async function refreshRisk(renderer) {
  try {
    const [summary, assets] = await Promise.all([getJSON("/api/v1/risk"), getJSON("/api/v1/risk/assets?min_level=II")]);
    risk.cells.clearLayers();
    L.geoJSON(summary.cells, { renderer, interactive: false, style: (f) => ({ color: BY_COLOUR[f.properties.colour],
      weight: 0.5, fillColor: BY_COLOUR[f.properties.colour], fillOpacity: 0.22 }) }).addTo(risk.cells);
    risk.assets = L.geoJSON(assets, { renderer, style: (f) => ({ color: BY_COLOUR[f.properties.colour],
      weight: f.properties.colour === "red" ? 4 : 2, opacity: 0.9 }), pointToLayer: (f, ll) => L.circleMarker(ll, { renderer, radius: 5,
      fillColor: BY_COLOUR[f.properties.colour], color: "#0f172a", weight: 1, fillOpacity: 1 }) })
      .bindTooltip((l) => `${l.feature.properties.key.split("/").pop()} · L${l.feature.properties.likelihood} × `
        + `S${l.feature.properties.severity} = ${l.feature.properties.risk}`, { sticky: true })
      .addTo(risk.cells);
    risk.counts = summary.by_colour;
  } catch (e) {
    console.warn("risk map:", e.message);
  }
}

export async function refreshSites(renderer) {
  try {
    const sites = await getJSON("/api/v1/construction-sites?state=open");
    risk.sites.clearLayers();
    risk.shownSites = sites.map((s) => s.id);
    for (const s of sites) {
      const tip = el("div", {}, el("b", {}, `${t("layer.sites")}: ${s.name}`), el("br"),
        `${s.kind} · ${s.contractor || ""} ${s.permit || ""}`);
      const area = L.geoJSON(s.geometry, { renderer, style: { color: SITE_COLOUR, weight: 2, dashArray: "2 4",
        fillColor: SITE_COLOUR, fillOpacity: 0.45 } }).bindTooltip(tip).addTo(risk.sites);
      L.marker(area.getBounds().getCenter(), { keyboard: false, icon: L.divIcon({ className: "",  // seen at any zoom
        html: '<div class="site-marker">⛏</div>', iconSize: [22, 22], iconAnchor: [11, 11] }) })
        .bindTooltip(tip).addTo(risk.sites);
    }
  } catch (e) {
    console.warn("construction sites:", e.message);
  }
}

// the overview's list of the week's top risks
export async function riskTopView(n = 10) {
  let top;
  try {
    top = await getJSON(`/api/v1/risk/top?n=${n}`);
  } catch {
    return null;
  }
  const counts = risk.counts || (await getJSON("/api/v1/risk")).by_colour;
  return el("div", { class: "risk-view", id: "risk-view" },
    el("h3", { "data-i18n": "risk.top" }, t("risk.top")),
    el("p", { id: "risk-counts" }, ...["red", "orange", "yellow", "blue"].map((c) => el("span", {
      class: "chip", style: `background:${BY_COLOUR[c]};color:#000`, dataset: { colour: c } },
    `${t(`risk.${c}`)} ${counts[c]}`))),
    el("table", { class: "grid", id: "risk-top" },
      el("tr", {}, el("th", {}, t("risk.asset")), el("th", {}, "L × S = R"), el("th", {}, t("risk.why")),
        el("th", {}, t("risk.watch"))),
      ...top.map((r) => el("tr", { dataset: { key: r.key, colour: r.colour } },
        el("td", {}, el("i", { class: "swatch", style: `background:${BY_COLOUR[r.colour]}` }), ` ${r.name}`,
          el("div", { class: "small muted" }, t(`layer.${r.layer}`))),
        el("td", {}, `${r.likelihood} × ${r.severity} = ${r.risk}`),
        el("td", { class: "small" }, el("ul", {}, ...r.reasons.map((x) => el("li", { dataset: { zh: x.zh, en: x.en } },
          pick(x))))),
        el("td", { class: "small" }, r.sensors.length ? r.sensors.join(" ")
          : el("span", { class: "muted", dataset: { zh: r.watch.zh, en: r.watch.en } }, pick(r.watch)))))));
}
