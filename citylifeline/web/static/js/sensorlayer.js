// Every sensor on one canvas: tens of thousands of dots drawn from typed arrays, one path per
// colour, re-projected only when the zoom changes.  Leaflet's own markers cost a DOM node or an
// object with listeners each, which is what makes 10,000 of them sluggish.
import { COLOURS, STATE_KEYS } from "./api.js";

export const SensorLayer = L.Layer.extend({
  initialize(opts = {}) {
    this.n = 0;
    this.lat = new Float64Array(0);
    this.lon = new Float64Array(0);
    this.state = new Int8Array(0);
    this.px = new Float32Array(0);
    this.py = new Float32Array(0);
    this.highlight = new Set();
    this.visible = new Set(opts.layers || []); // lifelines shown; empty = all
    this.layerOf = [];
    this.stats = { draws: 0, lastDrawMs: 0, drawn: 0 };
  },

  setSensors(sensors) {
    this.n = sensors.length;
    this.ids = sensors.map((s) => s.id);
    this.indexOf = new Map(this.ids.map((id, i) => [id, i]));
    this.lat = Float64Array.from(sensors, (s) => s.lat);
    this.lon = Float64Array.from(sensors, (s) => s.lon);
    this.layerOf = sensors.map((s) => s.layer);
    this.state = new Int8Array(this.n);
    this.px = new Float32Array(this.n);
    this.py = new Float32Array(this.n);
    this._project();
    this.redraw();
  },

  // ids and codes as returned by /api/v1/sensor-states
  setStates(ids, codes) {
    for (let k = 0; k < ids.length; k += 1) {
      const i = this.indexOf.get(ids[k]);
      if (i !== undefined) this.state[i] = codes[k];
    }
    this.redraw();
  },

  counts() {
    const c = Object.fromEntries(STATE_KEYS.map((k) => [k, 0]));
    for (let i = 0; i < this.n; i += 1) c[STATE_KEYS[this.state[i]]] += 1;
    return c;
  },

  setVisibleLayers(names) { this.visible = new Set(names); this.redraw(); },

  onAdd(map) {
    this._map = map;
    this._canvas = L.DomUtil.create("canvas", "sensor-canvas leaflet-zoom-hide");
    map.getPanes().overlayPane.appendChild(this._canvas);
    map.on("moveend zoomend resize viewreset", this._reset, this);
    map.on("zoomend viewreset", this._project, this);
    this._reset();
  },

  onRemove(map) {
    map.off("moveend zoomend resize viewreset", this._reset, this);
    map.off("zoomend viewreset", this._project, this);
    this._canvas.remove();
  },

  _project() {
    if (!this._map) return;
    const z = this._map.getZoom();
    for (let i = 0; i < this.n; i += 1) {
      const p = this._map.project([this.lat[i], this.lon[i]], z);
      this.px[i] = p.x;
      this.py[i] = p.y;
    }
    this._reset();
  },

  _reset() {
    if (!this._map) return;
    const size = this._map.getSize();
    const topLeft = this._map.containerPointToLayerPoint([0, 0]);
    L.DomUtil.setPosition(this._canvas, topLeft);
    const dpr = window.devicePixelRatio || 1;
    if (this._canvas.width !== size.x * dpr || this._canvas.height !== size.y * dpr) {
      this._canvas.width = size.x * dpr;
      this._canvas.height = size.y * dpr;
      this._canvas.style.width = `${size.x}px`;
      this._canvas.style.height = `${size.y}px`;
    }
    this._origin = this._map.getPixelBounds().min;
    this.redraw();
  },

  redraw() {
    if (!this._map || this._frame) return;
    this._frame = requestAnimationFrame(() => { this._frame = null; this._draw(); });
  },

  _draw() {
    const t0 = performance.now();
    const ctx = this._canvas.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    const w = this._canvas.width / dpr;
    const h = this._canvas.height / dpr;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const ox = this._origin.x;
    const oy = this._origin.y;
    const z = this._map.getZoom();
    const r = z >= 17 ? 5 : z >= 15 ? 4 : z >= 13 ? 3 : 2;
    const all = this.visible.size === 0;
    let drawn = 0;
    // normal first, so warnings and faults are drawn on top
    for (const code of [0, 6, 5, 1, 2, 3, 4]) {
      ctx.beginPath();
      const rr = code >= 1 && code <= 4 ? r + 1.5 : r;
      for (let i = 0; i < this.n; i += 1) {
        if (this.state[i] !== code || (!all && !this.visible.has(this.layerOf[i]))) continue;
        const x = this.px[i] - ox;
        const y = this.py[i] - oy;
        if (x < -8 || y < -8 || x > w + 8 || y > h + 8) continue;
        ctx.moveTo(x + rr, y);
        ctx.arc(x, y, rr, 0, 6.283185307179586);
        drawn += 1;
      }
      ctx.fillStyle = COLOURS[STATE_KEYS[code]];
      ctx.fill();
      if (code === 6) { ctx.strokeStyle = "#0f172a"; ctx.lineWidth = 1; ctx.stroke(); }
    }
    for (const i of this.highlight) {
      ctx.beginPath();
      ctx.arc(this.px[i] - ox, this.py[i] - oy, r + 5, 0, 6.283185307179586);
      ctx.strokeStyle = "#f8fafc";
      ctx.lineWidth = 2;
      ctx.stroke();
    }
    this.stats.draws += 1;
    this.stats.drawn = drawn;
    this.stats.lastDrawMs = performance.now() - t0;
  },

  // the index of the visible sensor nearest a container point, within maxPx pixels
  nearest(containerPoint, maxPx = 8) {
    const ox = this._origin.x;
    const oy = this._origin.y;
    const all = this.visible.size === 0;
    let best = -1;
    let bestD = maxPx * maxPx;
    for (let i = 0; i < this.n; i += 1) {
      if (!all && !this.visible.has(this.layerOf[i])) continue;
      const dx = this.px[i] - ox - containerPoint.x;
      const dy = this.py[i] - oy - containerPoint.y;
      const d = dx * dx + dy * dy;
      if (d <= bestD) { bestD = d; best = i; }
    }
    return best;
  },
});
