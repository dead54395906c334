// The alarm tone: a short two-tone beep made with WebAudio (no sound file).
// Browsers allow sound only after the user has touched the page, so the
// audio context is created on the first click or key press.

let ctx = null;
let enabled = localStorage.getItem("caretaker.sound") !== "off";

function unlock() {
  if (ctx) return;
  const AC = window.AudioContext || window.webkitAudioContext;
  if (!AC) return;
  try { ctx = new AC(); } catch (_) { ctx = null; }
}
document.addEventListener("pointerdown", unlock, { once: true, capture: true });
document.addEventListener("keydown", unlock, { once: true, capture: true });

export function soundEnabled() { return enabled; }

export function setSound(on) {
  enabled = on;
  localStorage.setItem("caretaker.sound", on ? "on" : "off");
}

// beep plays the emergency tone; returns whether it could.
export function beep() {
  if (!enabled || !ctx) return false;
  if (ctx.state === "suspended") ctx.resume();
  const now = ctx.currentTime;
  [[880, 0], [660, 0.25], [880, 0.5], [660, 0.75]].forEach(([f, at]) => {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "square";
    osc.frequency.value = f;
    gain.gain.setValueAtTime(0.0001, now + at);
    gain.gain.exponentialRampToValueAtTime(0.2, now + at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.22);
    osc.connect(gain).connect(ctx.destination);
    osc.start(now + at);
    osc.stop(now + at + 0.24);
  });
  return true;
}
