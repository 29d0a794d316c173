// The optional audible alarm: a two-tone chime, made with WebAudio (no sound files), for every
// new level I or II incident.  Off until the duty officer switches it on (browsers allow sound
// only after a click anyway); the choice is kept in localStorage.
import { t } from "./i18n.js";
import { onChange } from "./live.js";

let ctx = null;
export const sound = { on: localStorage.getItem("cl.sound") === "on", played: 0 };

function chime(level) {
  if (!ctx) ctx = new AudioContext();
  const now = ctx.currentTime;
  const tones = level === "I" ? [880, 660, 880, 660] : [660, 520];
  tones.forEach((f, k) => {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = f;
    gain.gain.setValueAtTime(0.0001, now + k * 0.25);
    gain.gain.exponentialRampToValueAtTime(0.3, now + k * 0.25 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + k * 0.25 + 0.22);
    osc.connect(gain).connect(ctx.destination);
    osc.start(now + k * 0.25);
    osc.stop(now + k * 0.25 + 0.24);
  });
  sound.played += 1;
}

function label(button) {
  button.textContent = t(sound.on ? "sound.on" : "sound.off");
  button.dataset.i18n = sound.on ? "sound.on" : "sound.off";
  button.setAttribute("aria-pressed", String(sound.on));
}

export function initSound() {
  const button = document.getElementById("sound");
  label(button);
  button.addEventListener("click", () => {
    sound.on = !sound.on;
    localStorage.setItem("cl.sound", sound.on ? "on" : "off");
    if (sound.on && !ctx) ctx = new AudioContext();
    label(button);
  });
  onChange((kind, payload) => {
    if (kind === "incident" && payload.isNew && sound.on && ["I", "II"].includes(payload.incident.level)) {
      chime(payload.incident.level);
    }
  });
}
