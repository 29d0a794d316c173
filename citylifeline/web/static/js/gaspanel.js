// A gas or sewer-gas incident's analysis: the judgement with its reasons, the suspected pipes, the
// danger in each space against the standards, the people near, the valves and the actions — and the
// same on the incident's mini-map.  Labels follow the language switch; the analyst's own sentences
// come in both languages and the one of the current language is shown.
import { el } from "./api.js";
import { currentLang, t } from "./i18n.js";

const STANDING = { second_alarm: "#dc2626", cut_off: "#ea580c", alarm: "#f59e0b", no_entry: "#eab308", watch: "#64748b" };

function pick(pair) { return currentLang() === "zh" ? pair.zh : pair.en; }

export function gasPanel(g) {
  const head = el("h3", { "data-i18n": g.cause === "leak" ? "gas.title" : "gas.sewer_title" },
    t(g.cause === "leak" ? "gas.title" : "gas.sewer_title"));
  if (g.status !== "judged") return el("div", { class: "gas-panel", id: "gas-panel" }, head, el("p", { class: "muted" }, g.reason));
  const main = [...g.judgement].sort((a, b) => (b.p_leak || 0) - (a.p_leak || 0))[0];
  const pct = Math.round((main.p_leak || 0) * 100);
  const s = g.suspects;
  return el("div", { class: "gas-panel", id: "gas-panel", dataset: { cause: g.cause, verdict: main.verdict } }, head,
    el("p", { class: "verdict" }, el("b", { id: "gas-verdict" }, currentLang() === "zh" ? main.words[0] : main.words[1]),
      " · ", t("gas.p_leak"), " ", el("span", { class: "meter" }, el("span", { style: `width:${pct}%` })), ` ${pct}%`),
    el("ul", { class: "gas-reasons" }, ...(currentLang() === "zh" ? main.reasons.zh : main.reasons.en).map((r) => el("li", {}, r))),
    s ? el("div", { id: "gas-suspects" },
      el("h4", {}, t("gas.suspects")),
      el("p", { class: "small" }, `${t("water.radius")} ${Math.round(s.radius_m)} m · ${t("water.confidence")} ${Math.round(s.confidence * 100)}%`),
      el("ol", {}, ...s.candidates.slice(0, 3).map((c) => el("li", { dataset: { pipe: c.pipe } },
        el("b", {}, c.name), ` ${Math.round(c.chance * 100)}% · ${c.material || ""} DN${Math.round((c.diameter_m || 0) * 1000)}`)))) : null,
    el("h4", {}, t("gas.spaces")),
    el("table", { class: "gas-spaces", id: "gas-spaces" },
      el("tr", {}, el("th", {}, t("gas.space")), el("th", {}, "%LEL"), el("th", {}, t("gas.standing"))),
      ...g.spaces.slice(0, 8).map((sp) => el("tr", { dataset: { key: sp.key } },
        el("td", {}, sp.name.split(" / ")[currentLang() === "zh" ? 0 : 1] || sp.name,
          sp.measured ? "" : ` (${t("gas.expected")}${sp.arrives_min !== null ? `, ${sp.arrives_min} min` : ""})`),
        el("td", {}, sp.lel === null ? "—" : `${sp.lel}`),
        el("td", { style: `color:${STANDING[sp.standing.code]}` }, pick(sp.standing))))),
    el("h4", {}, `${t("gas.cordon")} ${g.cordon_m} m · ${t("gas.people")}`),
    el("ul", { class: "places" }, ...g.people.slice(0, 6).map((p) => el("li", { dataset: { kind: p.kind } },
      el("b", {}, p.name), ` · ${Math.round(p.distance_m)} m`, p.population ? ` · ${p.population} 人` : ""))),
    g.isolation ? el("div", { id: "gas-valves" }, el("h4", {}, t("water.valves")),
      el("p", { class: "small" }, g.isolation.valves.map((v) => v.at.split("/").pop()).join(" · "), " — ",
        pick(g.isolation.note), ` · ${t("gas.households_cut")} ${g.isolation.households_without_gas}`)) : null,
    el("h4", {}, t("gas.actions")),
    el("ol", { class: "gas-actions", id: "gas-actions" }, ...g.actions.map((a) => el("li", {}, pick(a)))));
}

export function drawGas(map, g, renderer) {
  // the search circle and the suspect pipes, the valves, and the keep-away cordon
  if (g.status !== "judged") return;
  const c = g.centre;
  L.circle([c.lat, c.lon], { radius: g.cordon_m, color: "#dc2626", weight: 1, dashArray: "2 4", fillOpacity: 0.04 })
    .bindTooltip(`${t("gas.cordon")} ${g.cordon_m} m`).addTo(map);
  const s = g.suspects;
  if (s) {
    L.circle([s.lat, s.lon], { radius: Math.max(s.radius_m, 10), color: "#f97316", weight: 2, dashArray: "4 3",
      fillOpacity: 0.1 }).bindTooltip(t("gas.suspects")).addTo(map);
    s.candidates.slice(0, 3).forEach((p, k) => L.polyline(p.line.map(([lo, la]) => [la, lo]),
      { color: "#f97316", weight: 6 - 1.5 * k, opacity: 0.9 - 0.2 * k }).bindTooltip(`${p.name} ${Math.round(p.chance * 100)}%`).addTo(map));
  }
  for (const v of g.isolation ? g.isolation.valves : []) {
    L.circleMarker([v.lat, v.lon], { renderer, radius: 5, color: "#0f172a", weight: 2, fillColor: "#facc15", fillOpacity: 1 })
      .bindTooltip(`${t("water.valves")}: ${v.at.split("/").pop()}`).addTo(map);
  }
}
