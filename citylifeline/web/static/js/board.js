// The live incident board beside the map (WebSocket, no reloads), sorted by level then age, and
// the full incident table (active, optionally with closed ones).
import { ACTIVE, COLOURS, SEVERITY, el, fmtAge, fmtTime, getJSON, levelBadge } from "./api.js";
import { t } from "./i18n.js";
import { activeIncidents, onChange } from "./live.js";

export function byLevelThenAge(a, b) {
  return (SEVERITY[b.level] - SEVERITY[a.level]) || (a.t_first_ms - b.t_first_ms) || (a.id - b.id);
}

export function initBoard() {
  onChange((kind) => { if (kind === "snapshot" || kind === "incident") renderBoard(); });
  setInterval(renderBoard, 30000); // ages move on
  renderBoard();
}

function renderBoard() {
  const list = document.getElementById("board-list");
  const items = activeIncidents().sort(byLevelThenAge);
  document.getElementById("board-count").textContent = String(items.length);
  if (!items.length) {
    list.replaceChildren(el("li", { class: "muted empty", "data-i18n": "board.empty" }, t("board.empty")));
    return;
  }
  const now = Date.now();
  list.replaceChildren(...items.map((inc) => el("li", {
    class: `board-item state-${inc.state}`, dataset: { id: inc.id, level: inc.level, state: inc.state },
    style: `border-left-color:${COLOURS[inc.level]}`,
    onclick: () => { location.hash = `#incident/${inc.id}`; },
  },
  el("div", { class: "row1" }, levelBadge(inc.level), el("b", {}, ` #${inc.id} `), el("span", {}, inc.title)),
  el("div", { class: "row2 muted" },
    el("span", {}, t(`layer.${inc.lifeline}`)), " · ",
    el("span", { class: "istate" }, t(`istate.${inc.state}`)), " · ",
    el("span", {}, fmtTime(inc.t_first_ms)), " · ",
    el("span", {}, fmtAge(now - inc.created_at_ms)),
    inc.escalations ? el("span", { class: "esc" }, ` ⬆${inc.escalations}`) : null))));
}

export async function renderIncidentTable() {
  const closed = document.getElementById("show-closed").checked;
  const rows = closed ? await getJSON("/api/v1/incidents?limit=1000") : activeIncidents();
  rows.sort(byLevelThenAge);
  const head = document.querySelector("#incident-table thead");
  head.replaceChildren(el("tr", {}, ...["col.level", "col.id", "col.title", "col.lifeline", "col.state",
    "col.since", "col.sensors"].map((k) => el("th", { "data-i18n": k }, t(k)))));
  const body = document.querySelector("#incident-table tbody");
  body.replaceChildren(...rows.map((inc) => el("tr", {
    class: ACTIVE.has(inc.state) ? "" : "closed", dataset: { id: inc.id },
    onclick: () => { location.hash = `#incident/${inc.id}`; },
  }, el("td", {}, levelBadge(inc.level)), el("td", {}, `#${inc.id}`), el("td", {}, inc.title),
  el("td", {}, t(`layer.${inc.lifeline}`)), el("td", {}, t(`istate.${inc.state}`)),
  el("td", {}, fmtTime(inc.t_first_ms)), el("td", { class: "small" }, inc.sensors.join(", ")))));
}

export function watchIncidentTable() {
  document.getElementById("show-closed").addEventListener("change", renderIncidentTable);
  onChange((kind) => {
    if ((kind === "snapshot" || kind === "incident") && !document.getElementById("view-incidents").hidden) {
      renderIncidentTable();
    }
  });
}
