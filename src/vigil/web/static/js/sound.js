// The alert beep (a WebAudio oscillator, no audio file) and vibration, with a remembered mute switch.
//
// Browsers only let audio start after a user gesture: `installUnlock()` creates/resumes the AudioContext
// on the first click or key press; until then `beep()` stays silent. Nothing here ever throws.

import { pref, setPref } from "./dom.js";

let context = null;
const listeners = new Set();

function gestureSeen() {
  const activation = navigator.userActivation;
  return !activation || activation.hasBeenActive;
}

/** Creates or resumes the AudioContext; call it from a user gesture (a click, a key press). */
export function unlock() {
  if (!gestureSeen()) return;
  try {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    if (!context) context = new Ctx();
    if (context.state === "suspended") context.resume().catch(() => {});
  } catch {
    context = null;
  }
}

/** Unlocks audio on the first user gesture anywhere on the page. */
export function installUnlock() {
  const handler = () => unlock();
  for (const type of ["pointerdown", "keydown", "touchend"]) {
    document.addEventListener(type, handler, { capture: true, passive: true });
  }
}

export function muted() {
  return Boolean(pref("muted", false));
}

export function setMuted(value) {
  setPref("muted", Boolean(value));
  for (const fn of listeners) fn(Boolean(value));
}

/** Calls `fn(muted)` whenever the mute switch changes. */
export function onMuteChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Whether the beep can actually play now (not muted, and audio unlocked). */
export function audible() {
  return !muted() && context !== null && context.state === "running";
}

/** Two short tones; `urgent` (critical) makes three, higher. */
export function beep(urgent = false) {
  if (muted() || !context || context.state !== "running") return;
  try {
    const start = context.currentTime + 0.01;
    const count = urgent ? 3 : 2;
    for (let i = 0; i < count; i += 1) {
      const at = start + i * 0.22;
      const osc = context.createOscillator();
      const gain = context.createGain();
      osc.type = "sine";
      osc.frequency.setValueAtTime(urgent ? 1046 : 880, at);
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.16);
      osc.connect(gain).connect(context.destination);
      osc.start(at);
      osc.stop(at + 0.18);
    }
  } catch {
    /* no sound is better than a broken page */
  }
}

/** Vibrates the phone for an urgent alert, when allowed (only after the user has touched the page).
 * Muting the sound does not stop it: a phone in a pocket should still buzz. */
export function vibrate() {
  if (typeof navigator.vibrate !== "function" || !gestureSeen()) return;
  try {
    navigator.vibrate([200, 100, 200]);
  } catch {
    /* not supported */
  }
}

/** Whether an alert of `severity` should beep. */
export function loud(severity) {
  return severity === "high" || severity === "critical";
}
