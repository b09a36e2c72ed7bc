/* White Panel site snippet:
 *   <script src="https://HOST/widget.js" data-site="KEY" async></script>
 * Keeps one socket per page (the visitor's presence), reports the page, and shows a chat
 * button, a badge and a toast inside a shadow root, so neither page nor widget CSS leaks
 * into the other. The chat window itself (static/widget/chat.js) is loaded the first time
 * it is wanted. Every text from the network goes in with textContent. */
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script || !script.dataset.site || window.__whitePanelWidget) return;
  // The chat window's code, when it loads, hands its view in through this.
  const hub = window.__whitePanelWidget = {};

  const site = script.dataset.site;
  const server = new URL(script.src, location.href);
  const key = (name) => "whitepanel:" + site + ":" + name;
  // Consent mode (data-consent="required", docs/embedding.md): until the visitor opens the chat
  // or the site calls WhitePanel.consent(true), nothing is stored and no socket opens; what
  // would be stored is held in memory, and stored once consent is given.
  const held = new Map();
  const storage = (area, tag) => ({
    get: (name) => {
      if (held.has(tag + name)) return held.get(tag + name)[1];
      try { return area.getItem(key(name)); } catch { return null; }
    },
    set: (name, value) => {
      if (waiting) { held.set(tag + name, [area, value, name]); return; }
      try { area.setItem(key(name), value); } catch { /* private mode */ }
    },
  });
  const visit = storage(window.localStorage, "v");   // the same visitor on every page and tab
  const tab = storage(window.sessionStorage, "t");   // window open or not, per tab, across pages
  let waiting = script.dataset.consent === "required" && visit.get("consent") !== "1";

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
    seenSent: 0, opSeen: [0, 0],
    online: null, details: null, // R16: anyone online (welcome, `site` events); what we were told to reply to
    // The newest id a history answer brought: ids follow the commits of a room, but events published
    // by two processes may arrive out of order, so the newest id heard live may skip one.
    synced: 0,
    typing: null, // the operator's last typing frame: {name, at}, until their next message
  };

  // The snippet's words in each language it speaks (static/widget/texts.json, put in by the
  // server); the site's own words (`texts`) go before them.
  const TEXTS = /*TEXTS*/{};
  const word = (key) => {
    const own = state.texts[state.lang] || {};
    return typeof own[key] === "string" ? own[key] : (TEXTS[state.lang] || TEXTS.en || {})[key] || key;
  };
  // The site's language, else the first of the browser's the snippet speaks.
  function pickLanguage(fixed) {
    for (const tag of [fixed, ...(navigator.languages || [navigator.language])]) {
      const code = String(tag || "").toLowerCase().split("-")[0];
      if (TEXTS[code]) return code;
    }
    return "en";
  }
  state.texts = {};
  state.lang = pickLanguage();

  // ---- The button, badge and toast; the window comes with chat.js ------------------
  const host = document.createElement("div");
  host.setAttribute("data-whitepanel", "");
  host.style.cssText = "all:initial;position:fixed;right:20px;bottom:20px;z-index:2147483647;";
  const root = host.attachShadow({ mode: "open" });
  // A constructed stylesheet is not inline style to a host page's Content-Security-Policy,
  // so the widget keeps its looks under a strict style-src; older browsers get a <style>.
  const addStyle = (css) => {
    if ("adoptedStyleSheets" in root && typeof CSSStyleSheet.prototype.replaceSync === "function") {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
    } else {
      const style = document.createElement("style");
      style.textContent = css;
      root.prepend(style);
    }
  };
  addStyle(`
    :host { all: initial; }
    * { box-sizing: border-box; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
    button { cursor: pointer; border: 0; }
    .launcher { position: relative; display: grid; place-items: center; width: 56px; height: 56px; border-radius: 50%;
      background: var(--wp-color, #2457d6); color: var(--wp-on-color, #fff); box-shadow: 0 4px 14px rgba(0,0,0,.25); }
    .badge { position: absolute; top: -4px; right: -4px; min-width: 20px; height: 20px; padding: 0 6px;
      border-radius: 10px; background: #e0245e; color: #fff; font-size: 12px; line-height: 20px; text-align: center; }
    .toast { position: absolute; right: 0; bottom: 72px; width: 280px; padding: 10px 12px; background: #fff;
      color: #1b1b1b; border-radius: 10px; box-shadow: 0 6px 20px rgba(0,0,0,.2); cursor: pointer; }
    .toast .who { display: block; font-weight: 600; font-size: 12px; }
    .toast .text { display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical; overflow: hidden;
      white-space: pre-wrap; overflow-wrap: anywhere; }
    .toast .x { position: absolute; top: 4px; right: 6px; background: transparent; font-size: 16px; color: #5b6270; }
    :focus-visible { outline: 2px solid #fff; outline-offset: 1px; box-shadow: 0 0 0 4px #1b1b1b; }
    @media (max-width: 480px) { :host([data-open]) .launcher { display: none; } }
    @media (prefers-reduced-motion: reduce) { * { transition: none !important; animation: none !important; scroll-behavior: auto !important; } }
    [hidden] { display: none !important; }`);
  const make = (tag, className, attrs = {}) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    return node;
  };
  const launcher = make("button", "launcher", { "data-testid": "wp-launcher", "aria-label": word("open"), type: "button" });
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
  const toast = make("div", "toast", { "data-testid": "wp-toast", role: "status" });
  toast.hidden = true;
  const toastClose = make("button", "x", { "data-testid": "wp-toast-close", "aria-label": word("dismiss"), type: "button" });
  toastClose.textContent = "\u00D7";
  root.append(toast, launcher);


  // The window's view (chat.js): null until it has loaded. Every change of state is told to
  // it; when it loads it draws what the state holds by then.
  let view = null;
  let loading = null;
  const render = () => { if (view) view.render(); };

  // The site's greeting, colour, language, words and button lift (Django admin) arrive in
  // welcome; the last ones are kept so the next page starts with them. Checked here too: they
  // end up in the page.
  function applyBranding(brand) {
    if (!brand || typeof brand !== "object") return;
    state.greeting = typeof brand.greeting === "string" && brand.greeting.trim() ? brand.greeting.slice(0, 200) : null;
    state.texts = brand.texts && typeof brand.texts === "object" ? brand.texts : {};
    state.lang = pickLanguage(brand.language);
    const rtl = ["ar", "he", "fa", "ur"].includes(state.lang);
    host.dir = rtl ? "rtl" : "ltr";
    host.style.setProperty(rtl ? "left" : "right", "20px", "important");
    host.style.setProperty(rtl ? "right" : "left", "auto", "important");
    host.style.setProperty("bottom", 20 + Math.min(400, Math.max(0, Number(brand.offset) || 0)) + "px", "important");
    renderBadge();
    toastClose.setAttribute("aria-label", word("dismiss"));
    render();
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

  function loadChat() {
    loading = loading || new Promise((resolve, reject) => {
      hub.mount = (factory) => { view = factory(core); resolve(); };
      const code = document.createElement("script");
      code.src = new URL("widget-chat.js", server).href;
      code.async = true;
      code.onerror = () => { loading = null; reject(new Error("chat window not loaded")); };
      document.head.append(code);
    });
    return loading;
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
    // The count is part of the button's name, as it is of what it shows.
    launcher.setAttribute("aria-label", word(state.open ? "close" : "open") + (count ? ", " + word("unread").replace("{n}", count) : ""));
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
  function addMessage(message) {
    if (state.messages.has(message.id)) return;
    state.outbox.delete(message.client_id);
    state.messages.set(message.id, message);
    state.lastId = Math.max(state.lastId, message.id);
    if (view) view.message(message);
  }
  function showToast(message) {
    toast.replaceChildren();
    const who = make("span", "who");
    who.textContent = message.name;
    const text = make("span", "text");
    text.textContent = message.body || (message.file && message.file.name) || "";
    toast.append(who, text, toastClose);
    toast.dataset.id = String(message.id);
    toast.hidden = false;
    reportSeen(message.id);
    loadChat().catch(() => {});
  }

  function setOpen(open, tell = true) {
    state.open = open;
    tab.set("open", open ? "1" : "0");
    bubble.setAttribute("d", open ? CROSS : BUBBLE);
    host.toggleAttribute("data-open", open); // a phone's window covers the screen, button included
    launcher.setAttribute("aria-expanded", String(open));
    if (tell) send({ type: open ? "open" : "close" });
    if (open) {
      toast.hidden = true;
      markSeen();
      loadChat().catch((error) => { if (window.console) console.warn("White Panel:", error.message); });
    }
    if (view) view.opened(open);
    renderBadge();
  }
  // A message typed in the window: kept until the server has it (R8), sent again after a reconnect.
  function sendMessage(body) {
    const clientId = Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
    state.outbox.set(clientId, { body, at: Date.now() });
    send({ type: "message", body, client_id: clientId });
    setTimeout(render, 3000);
    return clientId;
  }

  launcher.addEventListener("click", () => { consent(true); setOpen(!state.open); });
  // The window's code, fetched while the pointer is on its way to the button.
  for (const name of ["pointerenter", "focus"]) launcher.addEventListener(name, () => loadChat().catch(() => {}));
  toastClose.addEventListener("click", (event) => { event.stopPropagation(); toast.hidden = true; });
  toast.addEventListener("click", () => {
    const id = Number(toast.dataset.id);
    setOpen(true);
    loadChat().then(() => view.flash(id), () => {});
  });

  // ---- Socket -------------------------------------------------------------------
  function send(frame) {
    const socket = state.socket;
    if (socket && socket.readyState === WebSocket.OPEN && state.welcomed) socket.send(JSON.stringify(frame));
  }
  // The site's calls (identify, attributes, track): sent now, or with the next welcome.
  const later = [];
  function sendSoon(frame) {
    if (state.welcomed) send(frame); else later.push(frame);
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
    for (const m of frame.messages) { addMessage(m); state.synced = Math.max(state.synced, m.id); }
    // The room as it is now comes along: after a `resync` the status catches up too.
    if ("room" in frame) { state.room = frame.room; state.queue = frame.queue; }
    render();
    // More than one answer holds (500, or a frame's 64 KiB): ask for the rest.
    if (frame.more) send({ type: "history", after: state.synced });
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

  // R16's anyone online, and what the site asks or offers (issue 23).
  function siteSays(site) {
    state.online = site.online !== false;
    state.prechat = site.prechat;
    state.transcripts = site.transcripts;
    state.uploads = site.uploads; // files in messages (issue 23): {types, max_bytes}, null when off
    state.backAt = site.back_at; // business hours (issue 25): when a closed site opens again
  }

  function handle(frame) {
    switch (frame.type) {
      case "welcome":
        state.welcomed = state.wasWelcomed = true;
        state.retries = 0;
        // Another token than the one kept (rotated, or the visitor unknown now): not identified yet.
        if (visit.get("token") !== frame.token) visit.set("identified", "");
        visit.set("token", frame.token);
        if (frame.site) {
          siteSays(frame.site);
          applyBranding(frame.site);
          const { greeting, color, language, texts, offset } = frame.site;
          visit.set("brand", JSON.stringify({ greeting, color, language, texts, offset }));
        }
        state.room = frame.room;
        state.queue = frame.queue;
        // The hello carried the page; a single-page app may have moved on since.
        reportPage();
        if (state.open) send({ type: "open" });
        // Whatever arrived while this page had no socket (R8): asked for in the hello.
        if (frame.messages) applyHistory(frame);
        else send({ type: "history", after: state.synced });
        for (const [clientId, pending] of state.outbox) {
          pending.at = Date.now();
          send({ type: "message", body: pending.body, client_id: clientId });
        }
        setTimeout(render, 3000);
        for (const frame of later.splice(0)) send(frame);
        if (!state.ready) { state.ready = true; emit("ready", { online: state.online }); }
        break;
      case "identified":
        // Verified: their token from now on, on every device. Already chatting on another device
        // or browser (`switched`): this page becomes them, with their conversation.
        visit.set("token", frame.token);
        visit.set("identified", frame.external_id || state.identifying || "");
        if (frame.switched) {
          visit.set("seen", "0");
          state.messages.clear();
          state.outbox.clear();
          state.lastId = state.seen = state.synced = 0;
          state.room = state.typing = null;
          if (view) view.reset();
          state.retries = 0;
          if (state.socket) state.socket.close();
        }
        break;
      case "banned":
        block();
        break;
      case "room":
        state.room = frame.room;
        break;
      case "queue":
        state.queue = frame;
        break;
      case "site":
        siteSays(frame.site);
        break;
      case "details":
        state.details = { name: frame.name, email: frame.email };
        if (frame.email) visit.set("told", frame.email);
        // Pre-chat form answered: what was typed meanwhile makes the request.
        for (const [clientId, pending] of state.outbox) send({ type: "message", body: pending.body, client_id: clientId });
        break;
      case "message": {
        const fresh = !state.messages.has(frame.message.id);
        addMessage(frame.message);
        if (fresh && frame.message.sender === "operator") {
          if (state.open) markSeen(); else { showToast(frame.message); renderBadge(); }
        }
        break;
      }
      case "history":
        applyHistory(frame);
        break;
      case "seen":
        state.opSeen = [frame.room, frame.id];
        break;
      case "ack":
        state.outbox.delete(frame.client_id);
        break;
      case "resync":
        // This page may have missed events (the server lost Redis for a moment): catch up by id.
        send({ type: "history", after: state.synced });
        break;
      case "error":
        if (window.console) console.warn("White Panel:", frame.code, frame.detail);
        if (frame.code === "details_required") { state.prechat = "required"; tab.set("skipped", ""); }
        if (frame.code === "unavailable" || frame.code === "server_error") retry(frame, 1000);
        // Too many frames from this visitor or address: the same, after a longer pause.
        if (frame.code === "rate_limited") retry(frame, 10000);
        break;
    }
    // The room as the page hears of it: once for each change of room or status.
    const roomNow = state.room ? state.room.id + ":" + state.room.status : "";
    if (roomNow !== lastRoom && (lastRoom !== null || roomNow)) emit("room", state.room);
    lastRoom = roomNow;
    if (frame.type === "message" && frame.message.sender !== "system") emit("message", frame.message);
    if (frame.type === "site" || frame.type === "welcome") {
      if (state.online !== lastOnline) emit("online", state.online);
      lastOnline = state.online;
    }
    if (frame.type === "error" && frame.code === "banned") block();
    // A visitor with a conversation has the window's code at hand: a toast or the button opens it at once.
    if (state.room && !loading) loadChat().catch(() => {});
    if (frame.type === "typing") state.typing = { name: frame.name, at: Date.now() };
    if (frame.type === "message" && frame.message.sender !== "visitor") state.typing = null;
    if (view) view.frame(frame);
  }

  // The server could not do it just now (database or Redis away, or a rate limit): try again
  // after `pause` ms and a random part as long again, so refused clients do not come back together.
  function retry(error, pause) {
    if (error.for === "hello") {
      if (state.socket) state.socket.close(); // reconnects with backoff and says hello again
      return;
    }
    setTimeout(() => {
      if (error.for === "history") send({ type: "history", after: state.synced });
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
        history: state.synced }));
    });
    socket.addEventListener("message", (event) => {
      state.lastHeard = Date.now();
      try { handle(JSON.parse(event.data)); } catch (error) { if (window.console) console.warn(error); }
    });
    socket.addEventListener("close", (event) => {
      if (state.socket !== socket) return;
      state.socket = null;
      state.welcomed = false;
      render();
      if (event.code === 4003 || state.blocked) { block(); return; } // blocked by the site's team
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

  // A visitor the site's team blocked: no chat offered, no reconnecting, for this tab.
  function block() {
    state.blocked = true;
    tab.set("blocked", "1");
    host.remove();
    if (state.socket) state.socket.close();
  }

  // ---- The site's JavaScript API (docs/snippet.md) ---------------------------------
  const listeners = { ready: [], message: [], room: [], online: [] };
  let lastOnline = null;
  let lastRoom = null;
  function emit(name, detail) {
    for (const listener of listeners[name]) {
      try { listener(detail); } catch (error) { if (window.console) console.warn(error); }
    }
  }
  // Consent given (the visitor opened the chat, or the site said so): what was held is stored,
  // and the socket opens.
  function consent(yes) {
    if (!yes || !waiting) return;
    waiting = false;
    visit.set("consent", "1");
    for (const [, [area, value, name]] of held) { try { area.setItem(key(name), value); } catch { /* private mode */ } }
    held.clear();
    connect();
  }
  const api = {
    open: () => { consent(true); if (!state.open) setOpen(true); },
    close: () => { if (state.open) setOpen(false); },
    identify: (user) => {
      if (!user || typeof user !== "object") return;
      const { id, hash, name, email } = user;
      // Once per person on this browser: the server already knows the token is theirs.
      if (visit.get("identified") === String(id)) return;
      state.identifying = String(id);
      sendSoon({ type: "identify", id: String(id), hash, name, email });
    },
    setAttributes: (attributes) => sendSoon({ type: "attributes", attributes }),
    track: (name) => sendSoon({ type: "track", name: String(name) }),
    on: (name, listener) => { if (listeners[name] && typeof listener === "function") listeners[name].push(listener); },
    consent,
  };
  // Calls made before the snippet loaded (the stub's queue, docs/snippet.md), in order.
  const queued = (window.WhitePanel && window.WhitePanel.q) || [];
  window.WhitePanel = api;

  // What the window's code may use (chat.js).
  const core = { state, root, host, launcher, make, addStyle, send, sendMessage, setOpen, markSeen, reportSeen, visit, tab, server, site };

  const mount = () => {
    if (tab.get("blocked")) return;
    document.body.append(host);
    setOpen(state.open, false);
    if (!waiting) connect();
    for (const [method, args] of queued) if (api[method]) api[method](...args);
  };
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
