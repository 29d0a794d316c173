// The dashboard's entry: load the city, open the live link, route between the views by the URL
// hash (#map, #incidents, #incident/ID, #overview, #overview/ASSET — a bridge's card —, #health).
// window.cl exposes the state for the browser tests and the benchmark.
import { el, fmtClock, loadUi, ui } from "./api.js";
import { initBoard, renderIncidentTable, watchIncidentTable } from "./board.js";
import { initDetail, leaveDetail, showIncident } from "./detail.js";
import { applyI18n, currentLang, setLang, t } from "./i18n.js";
import { activeIncidents, connect, incidents, link, onChange } from "./live.js";
import { closeSensor, initMap, mapState, openSensor, refreshBridges, refreshWorks } from "./mapview.js";
import { risk } from "./riskview.js";
import { pond } from "./pondview.js";
import { renderHealth, renderOverview } from "./overview.js";
import { initSound, sound } from "./sound.js";

window.cl = { ready: false, mapState, pond, risk, incidents, link, sound, openSensor, refreshWorks, refreshBridges, errors: [] };
const VIEWS = ["map", "incidents", "incident", "overview", "health"];

async function route() {
  const [name, ...rest] = (location.hash.replace(/^#/, "") || "map").split("/");
  let arg = rest.join("/");
  try { arg = decodeURIComponent(arg); } catch { /* a hand-typed address: taken as it is */ }
  const view = VIEWS.includes(name) ? name : "map";
  for (const v of VIEWS) document.getElementById(`view-${v}`).hidden = v !== view;
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("on", a.dataset.route === view
    || (view === "incident" && a.dataset.route === "incidents")));
  if (view !== "incident") leaveDetail();
  if (view !== "map") closeSensor();
  try {
    if (view === "map") mapState.map?.invalidateSize();
    if (view === "incidents") await renderIncidentTable();
    if (view === "incident") await showIncident(Number(arg));
    if (view === "overview") await renderOverview(arg);
    if (view === "health") await renderHealth();
  } catch (e) {
    console.warn(e);
    document.getElementById(`view-${view}`).prepend(el("p", { class: "bad" }, `${t("err.load")}: ${e.message}`));
  }
  window.cl.view = view;
}

function headerCounts() {
  const live = activeIncidents();
  const by = { I: 0, II: 0, III: 0, IV: 0 };
  for (const i of live) by[i.level] += 1;
  document.getElementById("counts").replaceChildren(...Object.entries(by).map(([lv, n]) =>
    el("span", { class: `count lv-${lv}`, title: t(`state.${lv}`) }, `${lv} ${n}`)));
  const ws = document.getElementById("ws-state");
  ws.className = `ws-state ${link.up ? "on" : "off"}`;
  ws.title = t(link.up ? "ws.live" : "ws.down");
}

// Who is logged in: the session cookie (HttpOnly, so only the server reads it); without one, the
// login form, which exchanges a token for a session.
async function logIn() {
  let r = await fetch("/api/v1/session", { headers: { Accept: "application/json" } });
  if (r.status === 401) {
    const form = document.getElementById("login");
    form.hidden = false;
    applyI18n(form);
    await new Promise((done) => form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const res = await fetch("/api/v1/session", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: document.getElementById("login-token").value }) });
      if (res.ok) { form.hidden = true; done(); } else {
        document.getElementById("login-error").textContent = (await res.json().catch(() => ({}))).detail || res.status;
      }
    }));
    r = await fetch("/api/v1/session", { headers: { Accept: "application/json" } });
  }
  const me = await r.json();
  window.cl.me = me;
  document.getElementById("who").textContent = `${me.name} · ${me.role}`;
  const out = document.getElementById("logout");
  out.hidden = false;
  out.addEventListener("click", async () => { await fetch("/api/v1/session", { method: "DELETE" }); location.reload(); });
}

async function boot() {
  await logIn();
  await loadUi();
  document.getElementById("city-name").textContent = ui.city;
  const langButton = document.getElementById("lang");
  const labelLang = () => { langButton.textContent = currentLang() === "zh" ? "EN" : "中文"; };
  langButton.addEventListener("click", () => {
    setLang(currentLang() === "zh" ? "en" : "zh");
    labelLang();
    route();
  });
  setLang(currentLang());
  labelLang();
  document.querySelectorAll("[data-close]").forEach((b) => b.addEventListener("click", closeSensor));
  onChange(() => headerCounts());
  initBoard();
  initDetail();
  initSound();
  watchIncidentTable();
  connect();
  setInterval(() => { document.getElementById("clock").textContent = fmtClock(Date.now()); }, 1000);
  window.addEventListener("hashchange", route);
  await initMap();
  await route();
  applyI18n(document);
  headerCounts();
  window.cl.ready = true;
}

window.addEventListener("error", (e) => window.cl.errors.push(String(e.message)));
boot().catch((e) => { console.error("dashboard failed to start:", e); window.cl.errors.push(String(e)); });
