/* White Panel site snippet:
 *   <script src="https://HOST/widget.js" data-site="KEY" async></script>
 * Keeps one socket per page (the visitor's presence), reports the page, and shows
 * a chat button and window inside a shadow root, so neither page nor widget CSS
 * leaks into the other. Every text from the network goes in with textContent. */
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script || !script.dataset.site || window.__whitePanelWidget) return;
  window.__whitePanelWidget = true;

  const site = script.dataset.site;
  const server = new URL(script.src, location.href);
  const key = (name) => "whitepanel:" + site + ":" + name;
  const storage = (area) => ({
    get: (name) => { try { return area.getItem(key(name)); } catch { return null; } },
    set: (name, value) => { try { area.setItem(key(name), value); } catch { /* private mode */ } },
  });
  const visit = storage(window.localStorage);   // the same visitor on every page and tab
  const tab = storage(window.sessionStorage);   // window open or not, per tab, across pages

  // The proxy's routing key (deploy/nginx.conf): random, kept for good, and not the token, which
  // never goes into a URL. Every page of this visitor reaches the same server process, which
  // still knows them from the page before.
  const route = (() => {
    const kept = visit.get("route");
    if (kept && /^[A-Za-z0-9_-]{16}$/.test(kept)) return kept;
    const made = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(12))))
      .replace(/\+/g, "-").replace(/\//g, "_");
    visit.set("route", made);
    return made;
  })();
  const socketUrl = (server.protocol === "https:" ? "wss://" : "ws://") + server.host +
    "/ws/visitor/?site=" + encodeURIComponent(site) + "&r=" + route;

  const state = {
    socket: null, retries: 0, welcomed: false, wasWelcomed: false, room: null, lastId: 0, lastUrl: null,
    seen: Number(visit.get("seen") || 0), open: tab.get("open") === "1",
    messages: new Map(), outbox: new Map(), lastHeard: Date.now(), greeting: null, queue: null,
    typingAt: 0, typingTimer: 0, seenSent: 0, opSeen: [0, 0],
    online: null, details: null, // R16: anyone online (welcome, `site` events); what we were told to reply to
  };

  // ---- UI ---------------------------------------------------------------------
  const host = document.createElement("div");
  host.setAttribute("data-whitepanel", "");
  host.style.cssText = "all:initial;position:fixed;right:20px;bottom:20px;z-index:2147483647;";
  const root = host.attachShadow({ mode: "open" });
  const css = `
    :host { all: initial; }
    * { box-sizing: border-box; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
    button { cursor: pointer; border: 0; }
    .launcher { position: relative; display: grid; place-items: center; width: 56px; height: 56px; border-radius: 50%;
      background: var(--wp-color, #2457d6); color: var(--wp-on-color, #fff); box-shadow: 0 4px 14px rgba(0,0,0,.25); }
    .badge { position: absolute; top: -4px; right: -4px; min-width: 20px; height: 20px; padding: 0 6px;
      border-radius: 10px; background: #e0245e; color: #fff; font-size: 12px; line-height: 20px; text-align: center; }
    .window { position: absolute; right: 0; bottom: 72px; width: 340px; height: 460px; max-height: calc(100vh - 110px);
      display: flex; flex-direction: column; background: #fff; color: #1b1b1b; border-radius: 12px;
      box-shadow: 0 8px 30px rgba(0,0,0,.25); overflow: hidden; }
    .head { display: flex; align-items: center; gap: 8px; padding: 12px 14px; background: var(--wp-color, #2457d6);
      color: var(--wp-on-color, #fff); }
    .head .status { flex: 1; font-weight: 600; }
    .head button { background: transparent; color: inherit; font-size: 20px; line-height: 1; }
    .transcript { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 6px; background: #f6f7f9; }
    .msg { max-width: 80%; padding: 7px 10px; border-radius: 10px; white-space: pre-wrap; overflow-wrap: anywhere; }
    .msg .who { display: block; font-size: 11px; opacity: .7; }
    .msg a { color: inherit; text-decoration: underline; }
    .msg.visitor { align-self: flex-end; background: var(--wp-color, #2457d6); color: var(--wp-on-color, #fff); }
    .msg.operator { align-self: flex-start; background: #fff; border: 1px solid #e2e4e8; }
    .msg.system { align-self: center; max-width: 90%; padding: 0 8px; color: #5b6270; font-size: 12px; text-align: center; }
    .msg.sending { opacity: .6; }
    .unsent { display: block; font-size: 11px; font-style: italic; }
    .counter { align-self: center; font-size: 11px; color: #5b6270; }
    .rate { padding: 8px 12px; border-top: 1px solid #e2e4e8; text-align: center; }
    .rate span { display: block; margin-bottom: 4px; }
    .rate .star { background: none; font-size: 22px; color: #c9ccd2; }
    .rate .star.on { color: #f5a623; }
    .rate input { width: 68%; margin: 4px; padding: 6px; border: 1px solid #c9ccd2; border-radius: 6px; }
    .rate > button:not(.star) { padding: 6px 12px; border-radius: 6px; background: var(--wp-color, #2457d6); color: var(--wp-on-color, #fff); }
    .queue { padding: 6px 14px; background: #eef1f6; color: #3b4250; font-size: 13px; }
    .greeting { align-self: center; max-width: 90%; padding: 4px 8px; color: #5b6270; font-size: 13px; text-align: center; }
    .msg.flash { outline: 2px solid #f5a623; }
    .typing, .seen { padding: 0 12px 4px; font-size: 12px; color: #5b6270; background: #f6f7f9; }
    .seen { align-self: flex-end; padding: 0; }
    form { display: flex; gap: 6px; padding: 10px; border-top: 1px solid #e2e4e8; }
    textarea { flex: 1; resize: none; height: 40px; padding: 8px; border: 1px solid #c9ccd2; border-radius: 8px; }
    form button { padding: 0 14px; border-radius: 8px; background: var(--wp-color, #2457d6); color: var(--wp-on-color, #fff); }
    .away { padding: 10px 12px 0; border-top: 1px solid #e2e4e8; background: #fffbea; color: #4a4335; font-size: 13px; }
    .away form { padding: 8px 0 10px; border: 0; }
    input { flex: 1; min-width: 0; padding: 6px 8px; border: 1px solid #c9ccd2; border-radius: 8px; }
    .toast { position: absolute; right: 0; bottom: 72px; width: 280px; padding: 10px 12px; background: #fff;
      color: #1b1b1b; border-radius: 10px; box-shadow: 0 6px 20px rgba(0,0,0,.2); cursor: pointer; }
    .toast .who { display: block; font-weight: 600; font-size: 12px; }
    .toast .text { display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical; overflow: hidden;
      white-space: pre-wrap; overflow-wrap: anywhere; }
    .toast .x { position: absolute; top: 4px; right: 6px; background: transparent; font-size: 16px; color: #5b6270; }
    [hidden] { display: none !important; }`;
  // A constructed stylesheet is not inline style to a host page's Content-Security-Policy,
  // so the widget keeps its looks under a strict style-src; older browsers get a <style>.
  let style = null;
  if ("adoptedStyleSheets" in root && typeof CSSStyleSheet.prototype.replaceSync === "function") {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
  } else {
    style = document.createElement("style");
    style.textContent = css;
  }
  const make = (tag, className, attrs = {}) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    return node;
  };
  const launcher = make("button", "launcher", { "data-testid": "wp-launcher", "aria-label": "Chat with us", type: "button" });
  // A speech bubble, drawn: emoji fonts are not everywhere.
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "26");
  svg.setAttribute("height", "26");
  svg.setAttribute("aria-hidden", "true");
  const bubble = document.createElementNS("http://www.w3.org/2000/svg", "path");
  const BUBBLE = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
  const CROSS = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z";
  bubble.setAttribute("d", BUBBLE);
  bubble.setAttribute("fill", "currentColor");
  svg.append(bubble);
  launcher.append(svg);
  const badge = make("span", "badge", { "data-testid": "wp-badge" });
  badge.hidden = true;
  launcher.append(badge);
  const win = make("div", "window", { "data-testid": "wp-window", role: "dialog", "aria-label": "Chat" });
  const head = make("div", "head");
  const status = make("span", "status", { "data-testid": "wp-status" });
  const closeButton = make("button", "", { "data-testid": "wp-close", "aria-label": "Close chat", type: "button" });
  closeButton.textContent = "\u00D7";
  head.append(status, closeButton);
  const queueLine = make("div", "queue", { "data-testid": "wp-queue", role: "status" });
  const transcript = make("div", "transcript", { "data-testid": "wp-transcript", "aria-live": "polite" });
  // The site's greeting heads every conversation: opening the window already asks for an operator.
  const greeting = make("div", "greeting", { "data-testid": "wp-greeting" });
  transcript.append(greeting);
  const away = make("div", "away", { "data-testid": "wp-offline" });
  const awayText = make("div", "", { "data-testid": "wp-offline-text" });
  const details = make("form", "", { "data-testid": "wp-details" });
  const nameInput = make("input", "", { "data-testid": "wp-name", placeholder: "Your name", maxlength: "100", autocomplete: "name" });
  const emailInput = make("input", "", { "data-testid": "wp-email", type: "email", placeholder: "Your email", maxlength: "254", autocomplete: "email", required: "" });
  const detailsButton = make("button", "", { "data-testid": "wp-details-save", type: "submit" });
  detailsButton.textContent = "Save";
  const skip = make("button", "", { "data-testid": "wp-details-skip", type: "button" });
  skip.textContent = "Skip";
  skip.addEventListener("click", () => { tab.set("skipped", "1"); renderStatus(); });
  details.append(nameInput, emailInput, detailsButton, skip);
  away.append(awayText, details);
  const form = make("form");
  const input = make("textarea", "", { "data-testid": "wp-input", placeholder: "Write a message…", maxlength: "4000" });
  const sendButton = make("button", "", { "data-testid": "wp-send", type: "submit" });
  sendButton.textContent = "Send";
  const counter = make("span", "counter", { "data-testid": "wp-counter", "aria-live": "polite" });
  counter.hidden = true;
  input.addEventListener("input", () => {
    counter.hidden = input.value.length < 3600;
    counter.textContent = input.value.length + "/4000";
  });
  form.append(input, counter, sendButton);
  const typingLine = make("div", "typing", { "data-testid": "wp-typing", "aria-live": "polite" });
  typingLine.hidden = true;
  const seenMark = make("span", "seen", { "data-testid": "wp-seen" });
  seenMark.textContent = "Seen";
  // Rating, once an answered chat has ended.
  const rate = make("div", "rate", { "data-testid": "wp-rate" });
  const rateText = make("span");
  const stars = [1, 2, 3, 4, 5].map((n) => {
    const star = make("button", "star", { type: "button", "aria-label": n + " of 5", "data-testid": "wp-star" });
    star.textContent = "\u2605";
    star.addEventListener("click", () => { state.stars = n; stars.forEach((s, i) => s.classList.toggle("on", i < n)); });
    return star;
  });
  const rateComment = make("input", "", { placeholder: "Anything to add?", maxlength: "1000", "aria-label": "Comment" });
  const rateSend = make("button", "", { type: "button", "data-testid": "wp-rate-send" });
  rateSend.textContent = "Rate";
  rateSend.addEventListener("click", () => {
    if (state.stars) send({ type: "rate", room: state.room.id, rating: state.stars, comment: rateComment.value.trim() });
  });
  rate.append(rateText, ...stars, rateComment, rateSend);
  win.append(head, queueLine, transcript, typingLine, rate, away, form);
  const toast = make("div", "toast", { "data-testid": "wp-toast", role: "status" });
  toast.hidden = true;
  const toastClose = make("button", "x", { "data-testid": "wp-toast-close", "aria-label": "Dismiss", type: "button" });
  toastClose.textContent = "\u00D7";
  root.append(...(style ? [style] : []), win, toast, launcher);

  // The site's greeting and colour (Django admin) arrive in welcome; the last ones are kept
  // so the next page starts with them. Checked here too: they end up in the page.
  function applyBranding(brand) {
    if (!brand || typeof brand !== "object") return;
    if (typeof brand.greeting === "string" && brand.greeting.trim()) state.greeting = brand.greeting.slice(0, 200);
    if (typeof brand.color === "string" && /^#[0-9a-fA-F]{6}$/.test(brand.color)) {
      // Dark text on a light colour, white on a dark one (WCAG relative luminance).
      const [r, g, b] = [1, 3, 5].map((i) => {
        const c = parseInt(brand.color.slice(i, i + 2), 16) / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      });
      const light = 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.179;
      host.style.setProperty("--wp-color", brand.color, "important");
      host.style.setProperty("--wp-on-color", light ? "#1b1b1b" : "#fff", "important");
    }
  }
  try { applyBranding(JSON.parse(visit.get("brand"))); } catch { /* none kept yet */ }

  const operatorName = () => (state.room && state.room.operator ? state.room.operator.name : null);
  // Why the chat ended, in the visitor's words: closing a chat is not going off duty.
  function ended(reason, name) {
    if (!name) return "This chat has ended";
    if (reason === "operator_closed") return name + " closed the chat. Write again any time.";
    if (reason === "operator_logout") return name + " has gone off duty. Write again and a colleague will answer.";
    if (reason === "operator_timeout") return name + " lost the connection. Write again and a colleague will answer.";
    return "This chat has ended. Write again any time.";
  }

  function renderStatus() {
    const room = state.room;
    const name = operatorName();
    greeting.textContent = state.greeting || "Questions? Write to us.";
    let text = greeting.textContent;
    // R16: nobody online, or nobody answering in time: offer to answer by email.
    const waiting = !room || room.status === "pending" || room.status === "expired";
    const offline = waiting && (state.online === false || Boolean(room && room.status === "pending" && room.offline_at));
    const told = (room && room.status !== "expired" && room.contact) || state.details;
    const email = (told && told.email) || visit.get("told");
    const prechat = state.prechat || "off";
    const asking = prechat !== "off" && !email && waiting && !tab.get("skipped");
    away.hidden = !offline && !asking;
    details.hidden = Boolean(email);
    skip.hidden = prechat !== "optional";
    nameInput.required = prechat === "required";
    form.hidden = asking && prechat === "required";
    awayText.textContent = email ? "Thanks, we'll reply to " + email
      : asking && !offline ? "Before we start: your name and email, so we can answer even if you leave."
      : state.online === false ? "We're offline right now \u2014 leave a message and your email and we'll get back to you"
      : "Nobody can answer right now. Leave your email and we'll reply.";
    if (state.wasWelcomed && !state.welcomed) text = "Reconnecting…";
    else if (offline && room) text = state.online === false ? "We're offline" : "Nobody is free right now";
    else if (room && room.status === "pending" && room.returned) text = "Your question is with the team again; someone will answer here soon.";
    else if (room && room.status === "pending") text = "Waiting for an operator…";
    else if (room && (room.status === "active" || room.status === "closing")) text = name + " is here";
    else if (room && room.status === "expired") text = ended(room.reason, name);
    status.textContent = text;
    const queue = state.queue;
    const queued = room && room.status === "pending" && queue && queue.room === room.id;
    queueLine.hidden = !queued;
    if (queued) {
      let line = "You are number " + queue.position + " in line";
      if (typeof queue.wait === "number") {
        line += " \u00B7 usual wait " + (queue.wait < 60 ? "under a minute" : "about " + Math.round(queue.wait / 60) + " min");
      }
      queueLine.textContent = line;
    }
    renderSeen();
    const ratable = room && room.status === "expired" && room.operator;
    rate.hidden = !ratable;
    rateText.textContent = room && room.rating ? "Thanks for your rating!" : "How was this chat?";
    for (const node of [...stars, rateComment, rateSend]) node.hidden = Boolean(room && room.rating);
  }

  function renderOutbox() {
    for (const { unsent, at } of state.outbox.values()) unsent.hidden = state.welcomed && Date.now() - at < 3000;
  }

  function renderSeen() {
    const mine = [...transcript.children].filter((n) => n.dataset.sender === "visitor" && n.dataset.id).pop();
    const room = state.room || {};
    const upTo = Math.max(room.operator_seen || 0, state.opSeen[0] === room.id ? state.opSeen[1] : 0);
    if (mine && Number(mine.dataset.id) <= upTo) mine.after(seenMark); else seenMark.remove();
  }
  function reportSeen(id) {
    if (document.visibilityState !== "visible" || id <= state.seenSent) return;
    state.seenSent = id;
    send({ type: "seen", id });
  }

  function unread() {
    let count = 0;
    for (const m of state.messages.values()) if (m.sender === "operator" && m.id > state.seen) count += 1;
    return count;
  }
  function renderBadge() {
    const count = state.open ? 0 : unread();
    badge.hidden = count === 0;
    badge.textContent = String(count);
  }
  function markSeen() {
    if (!state.open) return;
    let newest = 0;
    for (const m of state.messages.values()) if (m.sender !== "visitor" && m.id > newest) newest = m.id;
    if (newest) reportSeen(newest);
    state.seen = Math.max(state.seen, state.lastId);
    visit.set("seen", String(state.seen));
    renderBadge();
  }

  function messageNode(message) {
    const node = make("div", "msg " + message.sender, { "data-testid": "wp-message", "data-sender": message.sender });
    // R15 system line: muted, never unread.
    if (message.sender === "system") { node.textContent = message.body; return node; }
    const who = make("span", "who");
    who.textContent = message.sender === "visitor" ? "You" : message.name;
    const at = message.at ? new Date(message.at) : new Date();
    if (!isNaN(at)) {
      const time = make("time", "", { datetime: at.toISOString(), "data-testid": "wp-time" });
      time.textContent = " \u00B7 " + at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      who.append(time);
    }
    const body = make("span");
    linked(body, message.body);
    node.append(who, body);
    return node;
  }
  // Only http(s) URLs become links.
  function linked(node, text) {
    let last = 0;
    for (const match of text.matchAll(/\bhttps?:\/\/[^\s<>"]+/gi)) {
      let url = match[0].replace(/[.,;:!?']+$/, "");
      if (url.endsWith(")") && !url.includes("(")) url = url.slice(0, -1);
      let href;
      try { href = new URL(url).href; } catch { continue; }
      const link = make("a", "", { href, target: "_blank", rel: "noopener noreferrer nofollow ugc" });
      link.textContent = url;
      node.append(text.slice(last, match.index), link);
      last = match.index + url.length;
    }
    node.append(text.slice(last));
  }
  function addMessage(message) {
    if (state.messages.has(message.id)) return;
    const pending = message.client_id && state.outbox.get(message.client_id);
    if (pending) {
      state.outbox.delete(message.client_id);
      pending.node.remove();
    }
    state.messages.set(message.id, message);
    state.lastId = Math.max(state.lastId, message.id);
    const node = messageNode(message);
    node.dataset.id = String(message.id);
    // Keep id order even when history fills a gap after live messages.
    const later = [...transcript.children].find((child) => Number(child.dataset.id) > message.id);
    transcript.insertBefore(node, later || null);
    transcript.scrollTop = transcript.scrollHeight;
    return node;
  }
  function showToast(message) {
    toast.replaceChildren();
    const who = make("span", "who");
    who.textContent = message.name;
    const text = make("span", "text");
    text.textContent = message.body;
    toast.append(who, text, toastClose);
    toast.dataset.id = String(message.id);
    toast.hidden = false;
    reportSeen(message.id);
  }

  function setOpen(open) {
    state.open = open;
    tab.set("open", open ? "1" : "0");
    win.hidden = !open;
    bubble.setAttribute("d", open ? CROSS : BUBBLE);
    launcher.setAttribute("aria-label", open ? "Close chat" : "Chat with us");
    launcher.setAttribute("aria-expanded", String(open));
    if (open) {
      toast.hidden = true;
      transcript.scrollTop = transcript.scrollHeight; // the newest message, not where it was left
      markSeen();
      input.focus({ preventScroll: true });
    }
    renderBadge();
  }

  launcher.addEventListener("click", () => {
    if (state.open) { setOpen(false); send({ type: "close" }); } else { setOpen(true); send({ type: "open" }); }
  });
  closeButton.addEventListener("click", () => { setOpen(false); send({ type: "close" }); });
  win.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    setOpen(false);
    send({ type: "close" });
    launcher.focus();
  });
  toastClose.addEventListener("click", (event) => { event.stopPropagation(); toast.hidden = true; });
  toast.addEventListener("click", () => {
    const id = toast.dataset.id;
    setOpen(true);
    send({ type: "open" });
    const node = transcript.querySelector('[data-id="' + id + '"]');
    if (node) { node.scrollIntoView({ block: "center" }); node.classList.add("flash"); }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    input.value = "";
    counter.hidden = true;
    const clientId = Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
    const node = messageNode({ sender: "visitor", name: "You", body });
    node.classList.add("sending");
    const unsent = make("span", "unsent", { "data-testid": "wp-unsent" });
    unsent.textContent = "Not sent yet";
    node.append(unsent);
    transcript.append(node);
    transcript.scrollTop = transcript.scrollHeight;
    state.outbox.set(clientId, { body, node, unsent, at: Date.now() });
    send({ type: "message", body, client_id: clientId });
    setTimeout(renderOutbox, 3000);
  });
  input.addEventListener("input", () => {
    const room = state.room;
    if (!input.value.trim() || !room || !room.operator || Date.now() - state.typingAt < 3000) return;
    state.typingAt = Date.now();
    send({ type: "typing" });
  });
  details.addEventListener("submit", (event) => {
    event.preventDefault();
    send({ type: "details", name: nameInput.value.trim(), email: emailInput.value.trim() });
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });

  // ---- Socket -------------------------------------------------------------------
  function send(frame) {
    const socket = state.socket;
    if (socket && socket.readyState === WebSocket.OPEN && state.welcomed) socket.send(JSON.stringify(frame));
  }
  function currentPage() {
    return { url: location.href.slice(0, 2048), title: document.title.slice(0, 500),
      referrer: document.referrer.slice(0, 2048) };
  }
  function reportPage() {
    if (location.href === state.lastUrl) return;
    state.lastUrl = location.href;
    send({ type: "page", ...currentPage() });
  }
  // A history answer, or the messages a welcome brings.
  function applyHistory(frame) {
    frame.messages.forEach(addMessage);
    // The room as it is now comes along: after a `resync` the status catches up too.
    if ("room" in frame) { state.room = frame.room; state.queue = frame.queue; renderStatus(); }
    // More than one answer holds (500, or a frame's 64 KiB): ask for the rest.
    if (frame.more) send({ type: "history", after: state.lastId });
    if (state.open) markSeen();
    else {
      // A message that came while the visitor was between pages pops up once, then waits in the badge.
      const latest = frame.messages.filter((m) => m.sender === "operator" && m.id > state.seen).pop();
      if (latest && latest.id > Number(visit.get("toasted") || 0)) {
        showToast(latest);
        visit.set("toasted", String(latest.id));
      }
      renderBadge();
    }
  }

  function handle(frame) {
    switch (frame.type) {
      case "welcome":
        state.welcomed = state.wasWelcomed = true;
        state.retries = 0;
        visit.set("token", frame.token);
        if (frame.site) {
          state.online = frame.site.online !== false;
          state.prechat = frame.site.prechat;
          applyBranding(frame.site);
          visit.set("brand", JSON.stringify({ greeting: frame.site.greeting, color: frame.site.color }));
        }
        state.room = frame.room;
        state.queue = frame.queue;
        renderStatus();
        // The hello carried the page; a single-page app may have moved on since.
        reportPage();
        if (state.open) send({ type: "open" });
        // Whatever arrived while this page had no socket (R8): asked for in the hello.
        if (frame.messages) applyHistory(frame);
        else send({ type: "history", after: state.lastId });
        for (const [clientId, pending] of state.outbox) {
          pending.at = Date.now();
          send({ type: "message", body: pending.body, client_id: clientId });
        }
        renderOutbox();
        setTimeout(renderOutbox, 3000);
        break;
      case "room":
        state.room = frame.room;
        renderStatus();
        break;
      case "queue":
        state.queue = frame;
        renderStatus();
        break;
      case "site":
        state.online = frame.site.online !== false;
        renderStatus();
        break;
      case "details":
        state.details = { name: frame.name, email: frame.email };
        if (frame.email) visit.set("told", frame.email);
        renderStatus();
        // Pre-chat form answered: now the request.
        if (state.open && !state.room) send({ type: "open" });
        for (const [clientId, pending] of state.outbox) send({ type: "message", body: pending.body, client_id: clientId });
        break;
      case "message": {
        const fresh = !state.messages.has(frame.message.id);
        if (frame.message.sender !== "visitor") typingLine.hidden = true;
        addMessage(frame.message);
        renderSeen();
        if (fresh && frame.message.sender === "operator") {
          if (state.open) markSeen(); else { showToast(frame.message); renderBadge(); }
        }
        break;
      }
      case "history":
        applyHistory(frame);
        break;
      case "typing":
        typingLine.textContent = (frame.name || "The operator") + " is typing…";
        typingLine.hidden = false;
        clearTimeout(state.typingTimer);
        state.typingTimer = setTimeout(() => { typingLine.hidden = true; }, 6000);
        break;
      case "seen":
        state.opSeen = [frame.room, frame.id];
        renderSeen();
        break;
      case "ack": {
        const pending = state.outbox.get(frame.client_id);
        if (pending) { pending.node.classList.remove("sending"); pending.unsent.remove(); }
        break;
      }
      case "resync":
        // This page may have missed events (the server lost Redis for a moment): catch up by id.
        send({ type: "history", after: state.lastId });
        break;
      case "error":
        if (window.console) console.warn("White Panel:", frame.code, frame.detail);
        if (frame.for === "details" && frame.code !== "rate_limited") awayText.textContent = "Please check your email address.";
        if (frame.code === "details_required") { state.prechat = "required"; tab.set("skipped", ""); renderStatus(); }
        if (frame.code === "unavailable" || frame.code === "server_error") retry(frame, 1000);
        // Too many frames from this visitor or address: the same, after a longer pause.
        if (frame.code === "rate_limited") retry(frame, 10000);
        break;
    }
  }

  // The server could not do it just now (database or Redis away, or a rate limit): try again
  // after `pause` ms and a random part as long again, so refused clients do not come back together.
  function retry(error, pause) {
    if (error.for === "hello") {
      if (state.socket) state.socket.close(); // reconnects with backoff and says hello again
      return;
    }
    setTimeout(() => {
      if (error.for === "history") send({ type: "history", after: state.lastId });
      if (error.for === "page") {
        state.lastUrl = null; // the page the visitor is on now, however many were refused meanwhile
        reportPage();
      }
      const pending = error.for === "message" && state.outbox.get(error.client_id);
      if (pending) send({ type: "message", body: pending.body, client_id: error.client_id });
    }, pause + Math.random() * pause);
  }

  function connect() {
    state.welcomed = false;
    const socket = new WebSocket(socketUrl);
    state.socket = socket;
    socket.addEventListener("open", () => {
      // The page and the history come with the hello (extensions): one frame, not three.
      state.lastUrl = location.href;
      socket.send(JSON.stringify({ type: "hello", token: visit.get("token"), page: currentPage(),
        history: state.lastId }));
    });
    socket.addEventListener("message", (event) => {
      state.lastHeard = Date.now();
      try { handle(JSON.parse(event.data)); } catch (error) { if (window.console) console.warn(error); }
    });
    socket.addEventListener("close", (event) => {
      if (state.socket !== socket) return;
      state.socket = null;
      state.welcomed = false;
      renderStatus();
      renderOutbox();
      // 4029: this visitor has too many tabs open; try again only now and then.
      if (event.code === 4029) state.retries = 6;
      // Exponential backoff with jitter, so a restarted server is not stormed.
      const delay = Math.min(30000, 500 * 2 ** state.retries) * (0.5 + Math.random());
      state.retries = Math.min(state.retries + 1, 6);
      setTimeout(connect, delay);
    });
  }

  // Keep-alive: presence comes from the socket itself (the server pings it at the
  // protocol level); this ping only lets a visible page notice a dead connection.
  setInterval(() => {
    if (!state.socket || document.visibilityState !== "visible") return;
    if (Date.now() - state.lastHeard > 60000) { state.socket.close(); return; }
    send({ type: "ping" });
  }, 25000);
  window.addEventListener("online", () => { if (!state.socket) connect(); });
  // Read in another tab: read here too.
  window.addEventListener("storage", (event) => {
    if (event.key !== key("seen")) return;
    state.seen = Math.max(state.seen, Number(event.newValue) || 0);
    if (Number(toast.dataset.id) <= state.seen) toast.hidden = true;
    renderBadge();
  });

  // Single-page apps: history API and hash changes are page views too (R1).
  for (const method of ["pushState", "replaceState"]) {
    const original = history[method];
    history[method] = function (...args) {
      const result = original.apply(this, args);
      setTimeout(reportPage, 0);
      return result;
    };
  }
  window.addEventListener("popstate", reportPage);
  window.addEventListener("hashchange", reportPage);

  const mount = () => {
    document.body.append(host);
    setOpen(state.open);
    renderStatus();
    connect();
  };
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
