// Telling the operator without them looking: a short beep (on unless turned off) and,
// when allowed, desktop notifications.

import { t } from "./i18n.js";

const SOUND_KEY = "whitepanel.sound";

// dom: {sound (toggle button), notify (enable-notifications button)};
// onOpen(roomId): a message notification was clicked.
export function createAlerts({ dom, onOpen }) {
  let audio = null;
  let soundOn = localStorage.getItem(SOUND_KEY) !== "off";
  let lastBeep = 0;

  function unlockAudio() {
    // Browsers allow an AudioContext only after a user gesture: make it on the first one.
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      if (!audio) audio = new Context();
      if (audio.state === "suspended") audio.resume().catch(() => {});
    } catch {
      audio = null;
    }
  }
  document.addEventListener("pointerdown", unlockAudio, { capture: true, passive: true });
  document.addEventListener("keydown", unlockAudio, { capture: true, passive: true });

  function beep() {
    if (!soundOn || !audio || audio.state !== "running") return;
    const now = Date.now();
    if (now - lastBeep < 800) return; // one beep for a burst
    lastBeep = now;
    const t = audio.currentTime;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.setValueAtTime(880, t);
    osc.frequency.setValueAtTime(1175, t + 0.09);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.25);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.27);
  }

  function renderSound() {
    dom.sound.textContent = soundOn ? t("Sound on") : t("Sound off");
    dom.sound.setAttribute("aria-pressed", String(soundOn));
    dom.sound.classList.toggle("off", !soundOn);
  }
  dom.sound.addEventListener("click", () => {
    soundOn = !soundOn;
    localStorage.setItem(SOUND_KEY, soundOn ? "on" : "off");
    renderSound();
    if (soundOn) {
      unlockAudio();
      lastBeep = 0;
      setTimeout(beep, 50);
    }
  });
  renderSound();

  const canNotify = "Notification" in window;
  function renderNotifyButton() {
    dom.notify.hidden = !canNotify || Notification.permission !== "default";
  }
  dom.notify.addEventListener("click", () => {
    if (!canNotify) return;
    const done = () => renderNotifyButton();
    try {
      const asked = Notification.requestPermission(done);
      if (asked && typeof asked.then === "function") asked.then(done, done);
    } catch {
      done();
    }
  });
  renderNotifyButton();

  // kind: "pool" | "message"; inView: the message is in the tab on screen.
  function alert({ kind, roomId, title, body, inView = false }) {
    beep();
    if (!canNotify || Notification.permission !== "granted") return;
    if (!document.hidden && document.hasFocus() && (kind === "pool" || inView)) return;
    try {
      const notification = new Notification(title, {
        body: body.length > 140 ? body.slice(0, 139) + "…" : body,
        tag: "whitepanel-" + kind + "-" + roomId,
      });
      notification.onclick = () => {
        window.focus();
        if (kind === "message") onOpen(roomId);
        notification.close();
      };
    } catch {
      /* some browsers allow notifications only from a service worker */
    }
  }

  return { alert };
}
