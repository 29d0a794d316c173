// The live link: one WebSocket to /api/v1/ws holding the incidents currently being handled.
// On (re)connect the server sends a snapshot ("hello"); after that one message per change.
// Views subscribe with onChange(fn): fn(kind, payload) with kind "snapshot", "incident", "ticket"
// or "link" (payload true/false when the link goes up or down).
import { ACTIVE } from "./api.js";

export const incidents = new Map(); // id → incident (active ones, plus closed ones seen live)
const listeners = new Set();
let socket = null;
let retryMs = 500;
export const link = { up: false, messages: 0 };

export function onChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }

function emit(kind, payload) {
  for (const fn of listeners) {
    try { fn(kind, payload); } catch (e) { console.error(e); }
  }
}

export function connect() {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/ws`;
  socket = new WebSocket(url);
  socket.onopen = () => { retryMs = 500; link.up = true; emit("link", true); };
  socket.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    link.messages += 1;
    if (m.type === "hello") {
      incidents.clear();
      for (const inc of m.incidents) incidents.set(inc.id, inc);
      emit("snapshot", incidents);
    } else if (m.type === "incident") {
      const inc = m.incident;
      const isNew = !incidents.has(inc.id);
      incidents.set(inc.id, inc);
      emit("incident", { incident: inc, isNew });
    } else if (m.type === "ticket") {
      emit("ticket", m.ticket);
    }
  };
  socket.onclose = () => {
    link.up = false;
    emit("link", false);
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 10000);
  };
}

export function activeIncidents() {
  return [...incidents.values()].filter((i) => ACTIVE.has(i.state));
}
