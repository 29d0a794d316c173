// The city's layers as Leaflet GeoJSON on one shared canvas renderer, styled per lifeline, and
// the pulsing incident markers.  Used by the one map and by the incident detail's mini-map.
import { COLOURS, el, getJSON } from "./api.js";
import { t } from "./i18n.js";

export const LAYER_COLOURS = {
  water: "#38bdf8", drainage: "#a3845b", gas: "#eab308", heating: "#f472b6",
  bridge: "#e2e8f0", tunnel: "#a78bfa", places: "#64748b", base: "#334155",
};
const PLACE_FILL = { hospital: "#f43f5e", school: "#22c55e", metro_station: "#06b6d4",
  residential: "#475569", other: "#334155" };
// point assets worth drawing on the map; plain junctions and manholes are left out (the sensors
// on them are drawn anyway)
const POINT_KINDS = new Set(["tank", "reservoir", "pump", "regulator", "plant", "substation", "outfall",
  "storage", "hospital", "school", "metro_station"]);

const cache = new Map();
export function fetchLayer(name) {
  if (!cache.has(name)) cache.set(name, getJSON(`/api/v1/layers/${encodeURIComponent(name)}`));
  return cache.get(name);
}

function style(layerName) {
  return (f) => {
    const p = f.properties || {};
    if (layerName === "base") {
      if (p.kind === "river") return { color: "#1e3a5f", fillColor: "#1e3a5f", fillOpacity: 0.8, weight: 1 };
      if (p.kind === "railway") return { color: "#475569", weight: 3, dashArray: "8 6" };
      return { color: "#273449", weight: p.main ? 9 : 6, opacity: 1 };
    }
    if (layerName === "places") {
      const c = PLACE_FILL[p.kind] || PLACE_FILL.other;
      return { color: c, fillColor: c, fillOpacity: p.kind === "residential" ? 0.25 : 0.45, weight: 1 };
    }
    if (layerName === "drainage" && p.kind === "subcatchment") {
      return { color: LAYER_COLOURS.drainage, weight: 0.5, opacity: 0.25, fillOpacity: 0.04 };
    }
    const c = LAYER_COLOURS[layerName] || "#94a3b8";
    return { color: c, weight: layerName === "bridge" ? 6 : 2, opacity: 0.7, fillOpacity: 0.2 };
  };
}

// a Leaflet layer for one city layer; highlight: Set of asset keys drawn bold
export function geoLayer(name, geojson, renderer, highlight = null) {
  const baseStyle = style(name);
  return L.geoJSON(geojson, {
    renderer,
    interactive: name !== "base",
    filter: (f) => f.geometry.type !== "Point" || POINT_KINDS.has(f.properties.kind)
      || (highlight && highlight.has(f.properties.key)),
    style: (f) => {
      const s = baseStyle(f);
      return highlight && highlight.has(f.properties.key) ? { ...s, color: "#f8fafc", weight: 5, opacity: 1 } : s;
    },
    pointToLayer: (f, latlng) => L.circleMarker(latlng, { renderer, radius: 5, weight: 1,
      color: "#0f172a", fillColor: PLACE_FILL[f.properties.kind] || LAYER_COLOURS[name] || "#94a3b8", fillOpacity: 1 }),
    onEachFeature: (f, layer) => {
      const p = f.properties;
      if (name !== "base") layer.bindTooltip(`${p.label || p.name || p.key}`, { sticky: true });
    },
  });
}

export function incidentIcon(inc) {
  return L.divIcon({
    className: "",
    html: `<div class="incident-marker pulse lv-${inc.level}" data-id="${inc.id}" style="--c:${COLOURS[inc.level]}">`
      + `<span>${inc.level}</span></div>`,
    iconSize: [30, 30], iconAnchor: [15, 15],
  });
}

export function incidentTooltip(inc) {
  return el("div", {}, el("b", {}, `#${inc.id} ${inc.title}`), el("br"),
    `${t(`layer.${inc.lifeline}`)} · ${t(`istate.${inc.state}`)}`);
}
