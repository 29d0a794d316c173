// The one map: every lifeline layer and the places, switchable; every sensor coloured by its
// state; live incidents pulsing in their level's colour; the pipes open works orders shut, dashed.
// Click a sensor for its chart, an incident for its detail, a bridge for its class and its card, a
// pipe or well for what it touches in the other lifelines (cascadeview.js);
// the bridges are drawn in the colour of their latest assessment's class; the drainage forecast's
// water at each waterlogging point and catchment animates over the next two hours (pondview.js); the
// four-colour risk map and the construction sites are layers of their own (riskview.js).
import { COLOURS, STATE_KEYS, el, fmtTime, fmtValue, getJSON, ui } from "./api.js";
import { CLASSES, CLASS_COLOURS, cardHref, classBadge, fetchBridges, pick } from "./bridgeview.js";
import { showCoupling } from "./cascadeview.js";
import { initRisk, risk } from "./riskview.js";
import { sensorChart } from "./chart.js";
import { t } from "./i18n.js";
import { LAYER_COLOURS, fetchLayer, geoLayer, incidentIcon, incidentTooltip } from "./layers.js";
import { activeIncidents, onChange } from "./live.js";
import { initPonding, pond } from "./pondview.js";
import { SensorLayer } from "./sensorlayer.js";

const STATE_REFRESH_MS = 5000;
const WORKS_REFRESH_MS = 30000;
const BRIDGE_REFRESH_MS = 60000; // the class changes twice a day; a new assessment shows within a minute
const WORKS_COLOUR = "#f97316";
const SENSOR_HISTORY_MS = 6 * 3600 * 1000;
export const mapState = { map: null, sensors: [], sensorLayer: null, layers: {}, drawn: {}, markers: new Map(),
  works: null, worksShown: [], ready: false, stateFetches: 0, bridgeClasses: null, renderer: null };

export async function initMap() {
  const map = L.map("map", { preferCanvas: true, zoomControl: true, attributionControl: !!ui.tiles });
  mapState.map = map;
  if (ui.tiles) L.tileLayer(ui.tiles.url, { attribution: ui.tiles.attribution, maxZoom: 19 }).addTo(map);
  const renderer = L.canvas({ padding: 0.3 }); // one canvas for every vector layer: a second would take all clicks
  mapState.renderer = renderer;
  // the base map and the places underneath, the lifelines on top
  const under = ["base", "places"].filter((n) => ui.layers.includes(n));
  const layerNames = [...under, ...ui.layers.filter((n) => !under.includes(n))];
  const geo = await Promise.all(layerNames.map((n) => fetchLayer(n)));
  const bounds = L.latLngBounds([]);
  layerNames.forEach((name, k) => {
    const layer = geoLayer(name, geo[k], renderer);
    mapState.layers[name] = layer;
    mapState.drawn[name] = geo[k].features.length;
    if (layer.getLayers().length) bounds.extend(layer.getBounds());
  });
  // the view first: a canvas renderer needs one before its first layer is added
  map.fitBounds(bounds.isValid() ? bounds : [[31.8, 117.2], [31.82, 117.24]], { padding: [10, 10] });
  for (const name of layerNames) mapState.layers[name].addTo(map);
  for (const name of layerNames.filter((n) => !under.includes(n) && n !== "bridge")) {  // bridges open their own popup
    mapState.layers[name].on("click", (e) => showCoupling(map, e.layer.feature.properties.key, e.latlng));
  }

  const sensors = (await getJSON("/api/v1/sensors")).filter((s) => s.lat !== undefined);
  mapState.sensors = sensors;
  const sl = new SensorLayer();
  sl.addTo(map);
  sl.setSensors(sensors);
  mapState.sensorLayer = sl;
  buildLayerPanel();
  map.on("click", (e) => {
    const i = sl.nearest(e.containerPoint);
    if (i >= 0) openSensor(sensors[i]);
  });
  map.on("mousemove", (e) => {
    const i = sl.nearest(e.containerPoint, 6);
    map.getContainer().style.cursor = i >= 0 ? "pointer" : "";
  });
  onChange((kind) => { if (kind === "snapshot" || kind === "incident") drawIncidents(); });
  drawIncidents();
  mapState.works = L.layerGroup().addTo(map);
  await Promise.all([refreshStates(), refreshWorks(), refreshBridges(), initPonding(map, renderer),
    initRisk(map, renderer)]);
  setInterval(refreshStates, STATE_REFRESH_MS);
  setInterval(refreshWorks, WORKS_REFRESH_MS);
  setInterval(refreshBridges, BRIDGE_REFRESH_MS);
  mapState.ready = true;
}

async function refreshStates() {
  try {
    const s = await getJSON("/api/v1/sensor-states");
    mapState.sensorLayer.setStates(s.sensor, s.state);
    mapState.stateFetches += 1;
    buildLegend();
  } catch (e) {
    console.warn("sensor states:", e.message);
  }
}

// the pipes that open works orders shut, dashed, with what, why and until when
export async function refreshWorks() {
  try {
    const orders = await getJSON("/api/v1/works?state=open");
    const pipes = ui.layers.includes("water") ? (await fetchLayer("water")).features : [];
    const byKey = new Map(pipes.map((f) => [f.properties.key, f]));
    mapState.works.clearLayers();
    mapState.worksShown = orders.filter((o) => byKey.has(o.asset)).map((o) => o.id);
    for (const o of orders) {
      const f = byKey.get(o.asset);
      if (!f) continue;
      L.geoJSON(f, { renderer: mapState.renderer, style: { color: WORKS_COLOUR, weight: 6, dashArray: "6 6",
        opacity: 0.95 } })
        .bindTooltip(el("div", {}, el("b", {}, `${t("layer.works")}: ${f.properties.label || f.properties.name}`),
          el("br"), `${fmtTime(o.start_ms)} ${t("works.until")} ${o.end_ms ? fmtTime(o.end_ms) : t("works.open_end")}`,
          o.reason ? el("br") : "", o.reason || ""), { sticky: true })
        .addTo(mapState.works);
    }
    const count = document.querySelector('#layer-list label[data-row="works"] small');
    if (count) count.textContent = String(mapState.worksShown.length);
  } catch (e) {
    console.warn("works orders:", e.message);
  }
}

// each bridge in its class's colour (none yet: the layer's own), with its class on hover and a
// click to open it; mapState.bridgeClasses: asset → class ("" before the first assessment)
export async function refreshBridges() {
  const layer = mapState.layers.bridge;
  let data = null;
  try {
    data = await fetchBridges();
  } catch (e) {
    console.warn("bridge analyst:", e.message);
  }
  if (!layer || !data) return;
  const byAsset = new Map(data.bridges.map((b) => [b.asset, b]));
  const classes = {};
  layer.eachLayer((l) => {
    const b = byAsset.get(l.feature?.properties.key);
    if (!b) return;
    const cls = b.assessment ? b.assessment.class : "";
    classes[b.asset] = cls;
    l.setStyle({ color: CLASS_COLOURS[cls] || LAYER_COLOURS.bridge, opacity: cls ? 0.95 : 0.7 });
    if (!l.bridge) {
      l.unbindTooltip();
      l.bindTooltip(() => `${l.bridge.name} · ${l.bridge.assessment ? `${l.bridge.assessment.class} ${pick(l.bridge.assessment)}`
        : t("br.unassessed")}`, { sticky: true });
      l.on("click", (e) => bridgePopup(l.bridge, e));
    }
    l.bridge = b;
  });
  mapState.bridgeClasses = classes;
  bridgeLegend(data.classes, Object.values(classes));
}

function bridgePopup(b, e) {
  if (mapState.sensorLayer.nearest(e.containerPoint) >= 0) return; // a sensor on the bridge: its chart instead
  L.popup({ className: "bridge-popup-wrap" }).setLatLng(e.latlng).setContent(el("div", { class: "bridge-popup",
    dataset: { asset: b.asset } }, el("b", {}, b.name), el("br"), classBadge(b.assessment),
  b.assessment ? el("span", { class: "small muted" }, ` ${fmtTime(b.assessment.t_ms)}`) : null, el("br"),
  el("a", { href: cardHref(b.asset), class: "bridge-card-link" }, t("br.open_card")))).openOn(mapState.map);
}

// the classes' colours under the layers, with how many bridges are in each (the names switch language)
function bridgeLegend(names, shown) {
  const legend = document.getElementById("bridge-legend");
  if (!legend) return;
  const count = (c) => shown.filter((x) => x === c).length;
  const row = (c, label, colour) => el("div", { class: "legend-row", dataset: { class: c } },
    el("i", { class: "swatch", style: `background:${colour};height:6px` }), label, el("b", {}, String(count(c))));
  const both = (c) => ({ zh: `${c} ${names[c]?.zh || ""}`, en: `${c} ${names[c]?.en || ""}` });
  legend.replaceChildren(...CLASSES.map((c) => row(c, el("span", { dataset: both(c) }, pick(both(c))), CLASS_COLOURS[c])),
    ...(count("") ? [row("", el("span", { "data-i18n": "br.unassessed" }, t("br.unassessed")), LAYER_COLOURS.bridge)] : []));
  document.getElementById("bridge-legend-box").hidden = false;
}

function buildLayerPanel() {
  const list = document.getElementById("layer-list");
  list.replaceChildren();
  const visibleSensorLayers = () => ui.layers.filter((n) => ui.lifelines.includes(n)
    && document.querySelector(`#layer-list input[data-layer="${n}"]`)?.checked);
  for (const name of ui.layers) {
    const box = el("input", { type: "checkbox", checked: true, dataset: { layer: name }, onchange: (e) => {
      const layer = mapState.layers[name];
      if (e.target.checked) layer.addTo(mapState.map); else layer.remove();
      if (ui.lifelines.includes(name)) mapState.sensorLayer.setVisibleLayers(visibleSensorLayers());
    } });
    list.append(el("label", { class: "layer-row" }, box,
      el("i", { class: "swatch", style: `background:${LAYER_COLOURS[name] || "#94a3b8"}` }),
      el("span", { "data-i18n": `layer.${name}` }, t(`layer.${name}`)),
      el("small", {}, String(mapState.drawn[name] || 0))));
  }
  const incBox = el("input", { type: "checkbox", checked: true, dataset: { layer: "incidents" }, onchange: (e) => {
    for (const m of mapState.markers.values()) {
      if (e.target.checked) m.addTo(mapState.map); else m.remove();
    }
  } });
  list.append(el("label", { class: "layer-row" }, incBox, el("i", { class: "swatch pulse-swatch" }),
    el("span", { "data-i18n": "layer.incidents" }, t("layer.incidents"))));
  const worksBox = el("input", { type: "checkbox", checked: true, dataset: { layer: "works" }, onchange: (e) => {
    if (e.target.checked) mapState.works.addTo(mapState.map); else mapState.works.remove();
  } });
  const pondBox = el("input", { type: "checkbox", checked: true, dataset: { layer: "ponding" }, onchange: (e) => {
    if (e.target.checked) pond.layer.addTo(mapState.map); else pond.layer.remove();
  } });
  list.append(el("label", { class: "layer-row", dataset: { row: "ponding" } }, pondBox,
    el("i", { class: "swatch", style: "background:#2563eb;border-radius:50%" }),
    el("span", { "data-i18n": "layer.ponding" }, t("layer.ponding"))));
  const riskBox = el("input", { type: "checkbox", checked: false, dataset: { layer: "risk" }, onchange: (e) => {
    if (e.target.checked) risk.cells.addTo(mapState.map); else risk.cells.remove();
  } });
  const sitesBox = el("input", { type: "checkbox", checked: true, dataset: { layer: "sites" }, onchange: (e) => {
    if (e.target.checked) risk.sites.addTo(mapState.map); else risk.sites.remove();
  } });
  list.append(el("label", { class: "layer-row", dataset: { row: "risk" } }, riskBox,
    el("i", { class: "swatch risk-swatch" }), el("span", { "data-i18n": "layer.risk" }, t("layer.risk"))));
  list.append(el("label", { class: "layer-row", dataset: { row: "sites" } }, sitesBox,
    el("i", { class: "swatch", style: "background:#b45309" }), el("span", { "data-i18n": "layer.sites" }, t("layer.sites"))));
  list.append(el("label", { class: "layer-row", dataset: { row: "works" } }, worksBox,
    el("i", { class: "swatch dashed", style: `--c:${WORKS_COLOUR}` }),
    el("span", { "data-i18n": "layer.works" }, t("layer.works")),
    el("small", {}, String(mapState.worksShown.length))));
}

function buildLegend() {
  const c = mapState.sensorLayer.counts();
  const legend = document.getElementById("state-legend");
  legend.replaceChildren(...STATE_KEYS.map((k) => el("div", { class: "legend-row", dataset: { state: k } },
    el("i", { class: "dot", style: `background:${COLOURS[k]}` }),
    el("span", { "data-i18n": `state.${k}` }, t(`state.${k}`)), el("b", {}, String(c[k])))));
}

function drawIncidents() {
  const map = mapState.map;
  const live = new Map(activeIncidents().map((i) => [i.id, i]));
  const show = document.querySelector('#layer-list input[data-layer="incidents"]')?.checked ?? true;
  for (const [id, m] of mapState.markers) {
    if (!live.has(id)) { m.remove(); mapState.markers.delete(id); }
  }
  for (const inc of live.values()) {
    if (inc.lat === undefined) continue;
    let m = mapState.markers.get(inc.id);
    if (!m) {
      m = L.marker([inc.lat, inc.lon], { icon: incidentIcon(inc), zIndexOffset: 1000 - inc.id % 1000,
        keyboard: false, riseOnHover: true });
      m.on("click", () => { location.hash = `#incident/${inc.id}`; });
      mapState.markers.set(inc.id, m);
      if (show) m.addTo(map);
    } else {
      m.setIcon(incidentIcon(inc));
      m.setLatLng([inc.lat, inc.lon]);
    }
    m.unbindTooltip();
    m.bindTooltip(incidentTooltip(inc), { direction: "top", offset: [0, -14] });
  }
}

export async function openSensor(sensor) {
  const panel = document.getElementById("sensor-panel");
  panel.hidden = false;
  panel.dataset.sensor = sensor.id;
  mapState.sensorLayer.highlight = new Set([mapState.sensorLayer.indexOf.get(sensor.id)]);
  mapState.sensorLayer.redraw();
  document.getElementById("sensor-title").textContent = `${sensor.id} · ${sensor.name}`;
  const meta = document.getElementById("sensor-meta");
  const chart = document.getElementById("sensor-chart");
  chart.replaceChildren(el("div", { class: "muted" }, "…"));
  const detail = await getJSON(`/api/v1/sensors/${encodeURIComponent(sensor.id)}`);
  const end = detail.latest ? detail.latest.t + 1 : Date.now();
  const data = await getJSON(`/api/v1/readings?sensor=${encodeURIComponent(sensor.id)}`
    + `&start=${(end - SENSOR_HISTORY_MS) / 1000}&end=${end / 1000}`);
  if (panel.dataset.sensor !== sensor.id) return; // another sensor was clicked meanwhile
  meta.replaceChildren(
    el("div", {}, el("span", { class: "muted" }, `${t("sensor.asset")}: `), sensor.asset, " · ",
      t(`layer.${sensor.layer}`)),
    el("div", {}, el("span", { class: "muted" }, `${t("sensor.latest")}: `),
      detail.latest ? `${fmtValue(detail.latest.value, sensor.kind)} @ ${fmtTime(detail.latest.t)}` : "–"),
    el("div", { class: "muted" }, t("sensor.hours")));
  sensorChart(chart, detail, data.t, data.value, { height: 200 });
  chart.dataset.sensor = sensor.id;
}

export function closeSensor() {
  document.getElementById("sensor-panel").hidden = true;
  if (mapState.sensorLayer) { mapState.sensorLayer.highlight = new Set(); mapState.sensorLayer.redraw(); }
}
