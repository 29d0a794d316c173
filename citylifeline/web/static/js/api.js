// Talking to the CityLifeline API, and formatting what it returns for people.
import { currentLang } from "./i18n.js";

export const COLOURS = {
  I: "#ef4444", II: "#f97316", III: "#facc15", IV: "#3b82f6",
  normal: "#22c55e", fault: "#a855f7", offline: "#64748b",
};
// sensor state codes of /api/v1/sensor-states → the key above
export const STATE_KEYS = ["normal", "IV", "III", "II", "I", "fault", "offline"];
export const SEVERITY = { I: 4, II: 3, III: 2, IV: 1 }; // as inside the platform: higher is worse
export const ACTIVE = new Set(); // the incident states still being handled, from /api/v1/ui

export const ui = { city: "", timezone: "Asia/Shanghai", kinds: {}, actions: {}, tiles: null };

export async function getJSON(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" } });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

export async function postJSON(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.detail || `HTTP ${r.status}`);
  return data;
}

export async function loadUi() {
  Object.assign(ui, await getJSON("/api/v1/ui"));
  for (const state of ui.active_states) ACTIVE.add(state);
  return ui;
}

// a canonical value in the sensor kind's display unit, e.g. 312000 Pa → "0.312 MPa"
export function toDisplay(value, kind) {
  const k = ui.kinds[kind];
  if (!k || value === null || value === undefined) return value;
  return (value - k.offset) / k.scale;
}

export function displayUnit(kind) {
  const k = ui.kinds[kind];
  return k ? k.display.replace("degC", "°C").replace("ue", "µε").replace("m3", "m³") : "";
}

export function fmtValue(value, kind) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const v = toDisplay(value, kind);
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return `${v.toFixed(digits)} ${displayUnit(kind)}`;
}

const fmtCache = new Map();
function formatter(opts) {
  const key = currentLang() + JSON.stringify(opts);
  if (!fmtCache.has(key)) {
    fmtCache.set(key, new Intl.DateTimeFormat(currentLang() === "zh" ? "zh-CN" : "en-GB",
      { timeZone: ui.timezone, hour12: false, ...opts }));
  }
  return fmtCache.get(key);
}

export function fmtTime(ms) {
  if (ms === null || ms === undefined) return "–";
  return formatter({ month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(new Date(ms));
}

export function fmtDay(ms) {
  return formatter({ month: "2-digit", day: "2-digit" }).format(new Date(ms));
}

export function fmtHourMinute(ms) {
  return formatter({ hour: "2-digit", minute: "2-digit" }).format(new Date(ms));
}

export function fmtClock(ms) {
  return formatter({ hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(new Date(ms));
}

export function fmtAge(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${Math.round(s / 86400)} d`;
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "style") e.style.cssText = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function levelBadge(roman) {
  return el("span", { class: `lv lv-${roman}`, style: `background:${COLOURS[roman] || "#888"}` }, roman || "–");
}

export function toast(text, bad = false) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.className = bad ? "bad" : "";
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, bad ? 8000 : 3000);
}
