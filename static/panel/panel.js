// White Panel operator panel: plain JS on the operator socket (docs/protocol.md).
//
// Everything a visitor supplies (page URL, title, referrer, message bodies,
// names) reaches the page through textContent or a validated attribute, never
// as HTML. The DOM is keyed by id (visitor rows, pool items, room tabs) and
// each event touches only the nodes it changes, so thousands of visitors stay cheap.
(() => {
  "use strict";

  const REASONS = {
    operator_closed: "closed by you",
    operator_logout: "you logged out",
    operator_timeout: "timed out",
    visitor_left: "visitor left",
    ended_by_admin: "ended in admin",
  };
  const HISTORY_PAGE = 500; // the server sends at most this many per history answer
  const MAX_BODY = 4000;
  const CLOCK_EVERY = 5; // refresh times on site / waiting times every 5 ticks of 1 s
  const PING_AFTER_MS = 25000; // ping a quiet socket this often
  const PONG_WITHIN_MS = 20000; // no answer to a ping by then: the socket is dead
  const NOTICE_MS = 5000;
  const LOGIN_URL = "/operators/login/";

  // ---------------------------------------------------------------- state

  const state = {
    me: null,
    connection: "connecting",
    operators: new Map(), // id → operator
    visitors: new Map(), // id → visitor object (as last received)
    rooms: new Map(), // id → room object: the pool and my rooms
    logs: new Map(), // room id → {messages: Map id → message, lastId, primed}
    unread: new Map(), // room id → count
    gone: new Set(), // visitor ids who left the site (for rooms still on screen)
    current: null, // room id of the tab in view
  };

  // UI records, keyed like the state.
  const rowsUI = new Map(); // visitor id → row record
  const poolUI = new Map(); // room id → pool item record
  const roomUI = new Map(); // room id → tab + panel record
  const pendingSends = new Map(); // client_id → {room, message, el, state}
  const wantsFocus = { rooms: new Set(), visitors: new Set() }; // accept/start I asked for
  const startPending = new Map(); // visitor id → timer (button shows "Starting…")
  let requests = []; // frames sent, in order, awaiting their answer (errors carry no id)

  const $ = (id) => document.getElementById(id);
  const dom = {
    status: $("status"),
    me: $("me"),
    operators: $("operators"),
    pool: $("pool"),
    poolEmpty: $("pool-empty"),
    poolCount: $("pool-count"),
    visitorBody: $("visitors").tBodies[0],
    visitorsEmpty: $("visitors-empty"),
    visitorCount: $("visitor-count"),
    filter: $("visitor-filter"),
    tabs: $("room-tabs"),
    rooms: $("rooms"),
    roomsEmpty: $("rooms-empty"),
    notices: $("notices"),
    sound: $("sound-toggle"),
    notify: $("enable-notifications"),
    logout: $("logout-form"),
  };

  // ---------------------------------------------------------------- helpers

  // Build an element. Children that are strings become text nodes (append never parses HTML).
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === undefined || value === null || value === false) continue;
        if (key === "class") node.className = value;
        else if (key === "testid") node.dataset.testid = value;
        else if (key === "dataset") Object.assign(node.dataset, value);
        else if (key === "text") node.textContent = String(value);
        else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
        else if (key.startsWith("aria-") || key === "role") node.setAttribute(key, String(value));
        else node[key] = value;
      }
    }
    for (const child of children) if (child !== null && child !== undefined && child !== false) node.append(child);
    return node;
  }

  function setText(node, text) {
    const value = String(text);
    if (node.textContent !== value) node.textContent = value;
  }

  const str = (value) => (typeof value === "string" ? value : value === null || value === undefined ? "" : String(value));

  // Only http(s) URLs become links; anything else (javascript:, data:, junk) stays text.
  function httpHref(value) {
    if (typeof value !== "string" || !value) return null;
    try {
      const url = new URL(value);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function urlNode(value, testid, className) {
    const text = str(value);
    const href = httpHref(text);
    if (!href) return h("span", { class: className, testid, title: text }, text || "—");
    const link = document.createElement("a");
    link.className = className;
    if (testid) link.dataset.testid = testid;
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.title = text;
    link.textContent = text;
    return link;
  }

  const timeCache = new Map();
  function parseTime(iso) {
    if (typeof iso !== "string" || !iso) return NaN;
    let ms = timeCache.get(iso);
    if (ms === undefined) {
      // Python gives microseconds; keep milliseconds for every browser's parser.
      ms = Date.parse(iso.replace(/(\.\d{3})\d+/, "$1"));
      if (timeCache.size > 5000) timeCache.clear();
      timeCache.set(iso, ms);
    }
    return ms;
  }

  function duration(ms) {
    if (!Number.isFinite(ms)) return "—";
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + " s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + " min";
    return Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " m";
  }

  function countdown(ms) {
    const s = Math.max(0, Math.ceil(ms / 1000));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function clockTime(iso) {
    const ms = parseTime(iso);
    if (!Number.isFinite(ms)) return "";
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  let clientCounter = 0;
  function newClientId() {
    if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    clientCounter += 1;
    return "p-" + Date.now().toString(36) + "-" + clientCounter;
  }

  const isMine = (room) => Boolean(room && room.operator && state.me && room.operator.id === state.me.id);
  const isLive = (room) => room && (room.status === "active" || room.status === "closing");

  function visitorLabel(visitorId) {
    return "Visitor " + visitorId;
  }

  // ---------------------------------------------------------------- socket

  let socket = null;
  let attempt = 0;
  let retryTimer = null;
  let leaving = false;
  let lastFrameAt = 0;
  let lastSentAt = 0;
  let pingSentAt = 0;

  function send(frame) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(frame));
    lastSentAt = Date.now();
    requests.push(frame);
    return true;
  }

  function socketUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/operator/";
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (leaving) return;
    setConnection("connecting", attempt ? "Reconnecting…" : "Connecting…");
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (error) {
      console.warn("White Panel: cannot open the socket", error);
      scheduleReconnect(false);
      return;
    }
    socket = ws;
    requests = [];
    pingSentAt = 0;
    let opened = false;
    ws.addEventListener("open", () => {
      if (ws !== socket) return;
      opened = true;
      lastFrameAt = Date.now();
      lastSentAt = Date.now();
    });
    ws.addEventListener("message", (event) => {
      if (ws !== socket) return;
      lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!frame || typeof frame !== "object") return;
      try {
        handle(frame);
      } catch (error) {
        console.error("White Panel: could not apply a frame", frame.type, error);
      }
    });
    ws.addEventListener("close", (event) => {
      if (ws !== socket) return;
      socket = null;
      requests = [];
      if (event.code === 4001) {
        // The operator logged out (here or in another tab): the session is over.
        leaving = true;
        setConnection("offline", "Logged out");
        location.assign(LOGIN_URL);
        return;
      }
      if (leaving) return;
      scheduleReconnect(opened);
    });
  }

  function scheduleReconnect(opened) {
    clearTimeout(retryTimer);
    attempt += 1;
    // Exponential backoff with jitter: 0.5 s, 1 s, 2 s … up to 30 s, each 50–100 %.
    const ceiling = Math.min(30000, 500 * 2 ** (attempt - 1));
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    retryCountdown(Date.now() + delay);
    retryTimer = setTimeout(connect, delay);
    // A refused handshake (e.g. the session expired) looks like a network error:
    // ask the panel page itself whether we are still signed in.
    if (!opened && attempt >= 2) checkSession();
  }

  let retryAt = 0;
  function retryCountdown(at) {
    retryAt = at;
    updateRetryText();
  }
  function updateRetryText() {
    if (!retryTimer) return;
    const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
    setConnection("reconnecting", seconds > 0 ? "Offline — retrying in " + seconds + " s" : "Reconnecting…");
  }

  function checkSession() {
    fetch(location.pathname, { method: "GET", credentials: "same-origin", redirect: "manual", cache: "no-store" })
      .then((response) => {
        if (response.type === "opaqueredirect" || response.status === 302 || response.status === 403) {
          leaving = true;
          location.assign(LOGIN_URL);
        }
      })
      .catch(() => {});
  }

  function reconnectNow() {
    if (socket || leaving) return;
    attempt = Math.max(0, attempt - 1);
    connect();
  }

  function heartbeat() {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    const now = Date.now();
    if (pingSentAt && lastFrameAt < pingSentAt && now - pingSentAt > PONG_WITHIN_MS) {
      // Not even a pong: treat the socket as dead (a half-open TCP connection) and start over.
      const dead = socket;
      socket = null;
      requests = [];
      pingSentAt = 0;
      try {
        dead.close();
      } catch {
        /* already closing */
      }
      scheduleReconnect(true);
      return;
    }
    if (now - lastFrameAt > PING_AFTER_MS && now - lastSentAt > PING_AFTER_MS / 2 && send({ type: "ping" })) pingSentAt = now;
  }

  function setConnection(kind, text) {
    state.connection = kind;
    dom.status.dataset.state = kind;
    setText(dom.status, text);
  }

  // Errors carry no request id, but the server answers one frame at a time, in
  // order: match each answer to the oldest request that it can answer.
  const ROOM_ANSWERS = new Set(["accept", "start", "close", "reopen"]);
  function answered(kind, frame) {
    if (!requests.length) return null;
    let index = -1;
    if (kind === "error") index = 0;
    else if (kind === "ack") index = requests.findIndex((r) => r.type === "message" && r.client_id === frame.client_id);
    else if (kind === "history") index = requests.findIndex((r) => r.type === "history" && r.room === frame.room);
    else if (kind === "pong") index = requests.findIndex((r) => r.type === "ping");
    else if (kind === "room") {
      const head = requests[0];
      const room = frame;
      if (
        head &&
        ROOM_ANSWERS.has(head.type) &&
        ((head.type === "start" && head.visitor === room.visitor) || (head.type !== "start" && head.room === room.id))
      ) {
        index = 0;
      }
    }
    if (index < 0) return null;
    const request = requests[index];
    requests.splice(0, index + 1);
    return request;
  }

  // ---------------------------------------------------------------- frames

  function handle(frame) {
    switch (frame.type) {
      case "snapshot":
        onSnapshot(frame);
        break;
      case "visitor":
        if (frame.visitor) onVisitor(frame.visitor);
        break;
      case "visitor_gone":
        onVisitorGone(frame.visitor);
        break;
      case "room":
        if (frame.room) {
          answered("room", frame.room);
          onRoom(frame.room, { live: true });
        }
        break;
      case "message":
        if (frame.message) onMessage(frame.message, { live: true });
        break;
      case "history":
        answered("history", frame);
        onHistory(frame);
        break;
      case "ack":
        answered("ack", frame);
        onAck(frame);
        break;
      case "pong":
        answered("pong", frame);
        break;
      case "operator":
        if (frame.operator) onOperator(frame.operator);
        break;
      case "error":
        onError(frame, answered("error", frame));
        break;
      default:
        break;
    }
    updateTitle();
  }

  function onSnapshot(frame) {
    attempt = 0;
    setConnection("online", "Online");
    state.me = frame.operator || state.me;
    if (state.me) setText(dom.me, str(state.me.name));

    state.operators = new Map((frame.operators || []).map((o) => [o.id, o]));
    if (state.me && !state.operators.has(state.me.id)) state.operators.set(state.me.id, state.me);
    renderOperators();

    startPending.forEach((timer) => clearTimeout(timer));
    startPending.clear();

    // Visitors: the snapshot replaces the list.
    state.visitors = new Map();
    state.gone = new Set();
    rowsUI.clear();
    const fresh = [...(frame.visitors || [])].sort((a, b) => parseTime(b.since) - parseTime(a.since));
    const fragment = document.createDocumentFragment();
    for (const visitor of fresh) {
      if (!visitor || visitor.online === false) continue;
      state.visitors.set(visitor.id, visitor);
      const ui = visitorRow(visitor);
      rowsUI.set(visitor.id, ui);
      fragment.append(ui.row);
    }
    dom.visitorBody.replaceChildren(fragment);
    updateVisitorCount();
    // Visitors of rooms still on screen who are not online any more have left the site.
    for (const room of state.rooms.values()) if (!state.visitors.has(room.visitor)) state.gone.add(room.visitor);

    // Rooms: the pool and my live rooms as the server has them now.
    const rooms = (frame.rooms || []).filter((r) => r && typeof r.id === "number");
    const seen = new Set(rooms.map((r) => r.id));
    for (const [id, room] of [...state.rooms]) {
      if (seen.has(id)) continue;
      if (roomUI.has(id) && isMine(room)) {
        // My room ended while this panel was away: keep its tab (and transcript) until dismissed.
        if (room.status !== "expired") {
          state.rooms.set(id, { ...room, status: "expired", reason: room.reason || null, expires_at: null });
          renderRoom(id);
        }
        requestHistory(id);
      } else {
        forgetRoom(id);
      }
    }
    for (const room of rooms) onRoom(room, { live: false });
    for (const room of rooms) requestHistory(room.id);
    resendPending();
    renderPoolEmpty();
    renderRoomsEmpty();
  }

  // ---------------------------------------------------------------- visitors

  function chatState(visitor) {
    const room = visitor.room;
    if (!room) return { key: "browsing", text: "browsing", note: "" };
    const who = room.operator ? str(room.operator.name) : "an operator";
    const note = room.visitor_in_room ? "" : " (left the chat window)";
    switch (room.status) {
      case "pending":
        return { key: "pending", text: "waiting in pool", note: "" };
      case "active":
        return { key: "active", text: "chatting with " + who, note };
      case "closing":
        return { key: "closing", text: "closing, " + who, note };
      default:
        return { key: "browsing", text: "browsing", note: "" };
    }
  }

  function visitorRow(visitor) {
    const ui = { cache: {} };
    ui.title = h("span", { class: "page-title" });
    ui.url = h("span", { class: "page-url" });
    ui.pageBox = h("div", { class: "page", testid: "visitor-page" }, ui.title, ui.url);
    ui.referrer = h("div", { class: "page-ref", testid: "visitor-referrer" });
    ui.time = h("td", { class: "c-time num", testid: "visitor-time" });
    ui.pages = h("td", { class: "c-pages num", testid: "visitor-pages" });
    ui.chat = h("span", { class: "chat-state", testid: "visitor-chat-state" });
    ui.action = h("td", { class: "c-action" });
    ui.row = h(
      "tr",
      { testid: "visitor-row", dataset: { visitorId: String(visitor.id) } },
      h("td", { class: "c-id", text: "#" + visitor.id }),
      h("td", { class: "c-page" }, ui.pageBox, ui.referrer),
      ui.time,
      ui.pages,
      h("td", { class: "c-chat" }, ui.chat),
      ui.action,
    );
    updateRow(ui, visitor);
    return ui;
  }

  function updateRow(ui, visitor) {
    const c = ui.cache;
    const title = str(visitor.title);
    const url = str(visitor.url);
    const referrer = str(visitor.referrer);
    if (c.title !== title) {
      c.title = title;
      setText(ui.title, title || "(no title)");
      ui.title.classList.toggle("muted", !title);
    }
    if (c.url !== url) {
      c.url = url;
      ui.url.replaceChildren(urlNode(url, null, "url"));
    }
    if (c.referrer !== referrer) {
      c.referrer = referrer;
      setText(ui.referrer, referrer ? "from " + referrer : "");
      ui.referrer.title = referrer;
      ui.referrer.hidden = !referrer;
    }
    const pages = String(Number.isFinite(visitor.pages) ? visitor.pages : "—");
    if (c.pages !== pages) {
      c.pages = pages;
      setText(ui.pages, pages);
    }
    const since = parseTime(visitor.since);
    if (c.since !== since) {
      c.since = since;
      ui.time.title = Number.isFinite(since) ? "since " + new Date(since).toLocaleTimeString() : "";
      updateRowClock(ui, Date.now());
    }
    const chat = chatState(visitor);
    const room = visitor.room;
    const mine = isMine(room) && isLive(room);
    const canStart = !room || room.status === "pending";
    const starting = startPending.has(visitor.id);
    const actionKey = mine ? "open:" + room.id : canStart ? (starting ? "starting" : "start") : "none";
    if (c.chat !== chat.text + chat.note || c.chatKey !== chat.key) {
      c.chat = chat.text + chat.note;
      c.chatKey = chat.key;
      // One text for tests and screen readers; the note on its own line.
      ui.chat.replaceChildren(chat.text, ...(chat.note ? [h("span", { class: "chat-note", text: chat.note })] : []));
      ui.chat.dataset.state = chat.key;
      ui.row.dataset.chat = chat.key;
      ui.chat.dataset.inRoom = room ? String(Boolean(room.visitor_in_room)) : "";
    }
    if (ui.row.classList.contains("mine") !== mine) ui.row.classList.toggle("mine", mine);
    if (c.action !== actionKey) {
      c.action = actionKey;
      renderRowAction(ui, visitor.id, actionKey, room);
    }
    applyFilter(ui, visitor);
  }

  function renderRowAction(ui, visitorId, key, room) {
    if (key === "none") {
      ui.action.replaceChildren();
    } else if (key.startsWith("open:")) {
      const roomId = room.id;
      ui.action.replaceChildren(
        h("button", { type: "button", class: "small ghost", testid: "open-room", text: "Open chat", onclick: () => selectRoom(roomId, { focus: true }) }),
      );
    } else {
      ui.action.replaceChildren(
        h("button", {
          type: "button",
          class: "small",
          testid: "start-chat",
          text: key === "starting" ? "Starting…" : "Start chat",
          disabled: key === "starting",
          onclick: () => startChat(visitorId),
        }),
      );
    }
  }

  function updateRowClock(ui, now) {
    const text = Number.isFinite(ui.cache.since) ? duration(now - ui.cache.since) : "—";
    if (ui.cache.time !== text) {
      ui.cache.time = text;
      ui.time.textContent = text;
    }
  }

  let filterText = "";
  function applyFilter(ui, visitor) {
    let hide = false;
    if (filterText) {
      const haystack = ("#" + visitor.id + " " + str(visitor.title) + " " + str(visitor.url)).toLowerCase();
      hide = !haystack.includes(filterText);
    }
    if (ui.row.hidden !== hide) ui.row.hidden = hide;
  }

  function onVisitor(visitor) {
    if (typeof visitor.id !== "number") return;
    if (visitor.online === false) {
      onVisitorGone(visitor.id);
      return;
    }
    state.gone.delete(visitor.id);
    state.visitors.set(visitor.id, visitor);
    const room = visitor.room;
    if (room && startPending.has(visitor.id) && room.status !== "pending") clearStartPending(visitor.id, false);
    let ui = rowsUI.get(visitor.id);
    if (ui) {
      updateRow(ui, visitor);
    } else {
      ui = visitorRow(visitor);
      rowsUI.set(visitor.id, ui);
      dom.visitorBody.prepend(ui.row); // newest arrivals on top
      updateVisitorCount();
    }
    visitorChangedElsewhere(visitor.id);
  }

  function onVisitorGone(visitorId) {
    if (typeof visitorId !== "number") return;
    const ui = rowsUI.get(visitorId);
    if (ui) {
      ui.row.remove();
      rowsUI.delete(visitorId);
    }
    state.visitors.delete(visitorId);
    // Remembered only while a room on screen needs it, so the set stays small all day.
    for (const room of state.rooms.values()) if (room.visitor === visitorId) state.gone.add(visitorId);
    clearStartPending(visitorId, false);
    updateVisitorCount();
    visitorChangedElsewhere(visitorId);
  }

  // The pool items and room headers show the visitor's page and presence too.
  function visitorChangedElsewhere(visitorId) {
    for (const [roomId, room] of state.rooms) {
      if (room.visitor !== visitorId) continue;
      if (poolUI.has(roomId)) updatePoolItem(roomId);
      if (roomUI.has(roomId)) renderRoom(roomId);
    }
  }

  function updateVisitorCount() {
    setText(dom.visitorCount, String(rowsUI.size));
    dom.visitorsEmpty.hidden = rowsUI.size > 0;
  }

  function startChat(visitorId) {
    if (!send({ type: "start", visitor: visitorId })) {
      notice("Not connected — try again in a moment.");
      return;
    }
    wantsFocus.visitors.add(visitorId);
    clearTimeout(startPending.get(visitorId));
    startPending.set(
      visitorId,
      setTimeout(() => clearStartPending(visitorId, true), 10000),
    );
    refreshRow(visitorId);
  }

  function clearStartPending(visitorId, rerender = true) {
    if (!startPending.has(visitorId)) return;
    clearTimeout(startPending.get(visitorId));
    startPending.delete(visitorId);
    if (rerender) refreshRow(visitorId);
  }

  function refreshRow(visitorId) {
    const ui = rowsUI.get(visitorId);
    const visitor = state.visitors.get(visitorId);
    if (ui && visitor) updateRow(ui, visitor);
  }

  // ---------------------------------------------------------------- rooms

  function onRoom(room, { live }) {
    if (typeof room.id !== "number") return;
    if (room.status === "pending") {
      const isNew = !poolUI.has(room.id) && !state.rooms.has(room.id);
      state.rooms.set(room.id, room);
      upsertPoolItem(room);
      if (isNew && live) {
        alertUser({ kind: "pool", roomId: room.id, title: "New chat request", body: visitorLabel(room.visitor) + " is waiting in the pool." });
      }
      return;
    }
    removePoolItem(room.id);
    if (!isMine(room)) {
      // Taken by someone else, or expired while pooled: gone from this panel at once.
      forgetRoom(room.id);
      renderPoolEmpty();
      return;
    }
    const before = state.rooms.get(room.id);
    state.rooms.set(room.id, room);
    const created = !roomUI.has(room.id);
    if (created) {
      if (room.status === "expired" && !before && !live) return;
      buildRoomUI(room);
      requestHistory(room.id);
    }
    renderRoom(room.id);
    const asked = wantsFocus.rooms.delete(room.id) | wantsFocus.visitors.delete(room.visitor);
    if (room.status !== "expired" && (asked || state.current === null)) selectRoom(room.id, { focus: Boolean(asked) });
    refreshRow(room.visitor);
    renderRoomsEmpty();
    renderPoolEmpty();
  }

  function forgetRoom(roomId) {
    const room = state.rooms.get(roomId);
    state.rooms.delete(roomId);
    state.logs.delete(roomId);
    state.unread.delete(roomId);
    removePoolItem(roomId);
    const ui = roomUI.get(roomId);
    if (ui) {
      ui.tab.remove();
      ui.panel.remove();
      roomUI.delete(roomId);
      if (state.current === roomId) {
        state.current = null;
        const next = [...roomUI.keys()].pop();
        if (next !== undefined) selectRoom(next);
      }
    }
    for (const [clientId, pending] of pendingSends) if (pending.room === roomId) pendingSends.delete(clientId);
    if (room) {
      if (![...state.rooms.values()].some((r) => r.visitor === room.visitor)) state.gone.delete(room.visitor);
      refreshRow(room.visitor);
    }
    renderRoomsEmpty();
  }

  function requestHistory(roomId) {
    const log = getLog(roomId);
    send({ type: "history", room: roomId, after: log.lastId });
  }

  function getLog(roomId) {
    let log = state.logs.get(roomId);
    if (!log) {
      log = { messages: new Map(), lastId: 0, primed: false };
      state.logs.set(roomId, log);
    }
    return log;
  }

  // ---- pool

  function upsertPoolItem(room) {
    let ui = poolUI.get(room.id);
    if (!ui) {
      ui = { accepting: false };
      ui.who = h("span", { class: "who", text: visitorLabel(room.visitor) });
      ui.wait = h("span", { class: "wait num", testid: "pool-wait" });
      ui.page = h("div", { class: "pool-page", testid: "pool-page" });
      ui.message = h("p", { class: "pool-message", testid: "pool-message" });
      ui.accept = h("button", { type: "button", class: "primary", testid: "accept", text: "Accept", onclick: () => acceptRoom(room.id) });
      ui.item = h(
        "li",
        { class: "pool-item", testid: "pool-item", dataset: { roomId: String(room.id), visitorId: String(room.visitor) } },
        h("div", { class: "pool-main" }, h("div", { class: "pool-line" }, ui.who, ui.wait), ui.page, ui.message),
        ui.accept,
      );
      ui.created = parseTime(room.created_at);
      poolUI.set(room.id, ui);
      // Oldest request first: it has waited longest.
      let before = null;
      for (const [otherId, other] of poolUI) {
        if (otherId !== room.id && other.created > ui.created && (!before || other.created < before.created)) before = other;
      }
      dom.pool.insertBefore(ui.item, before ? before.item : null);
    }
    ui.created = parseTime(room.created_at);
    updatePoolItem(room.id);
    renderPoolEmpty();
  }

  function updatePoolItem(roomId) {
    const ui = poolUI.get(roomId);
    const room = state.rooms.get(roomId);
    if (!ui || !room) return;
    const visitor = state.visitors.get(room.visitor);
    const page = visitor ? str(visitor.title) || str(visitor.url) : state.gone.has(room.visitor) ? "left the site" : "";
    setText(ui.page, page ? "on " + page : "");
    ui.page.title = visitor ? str(visitor.url) : "";
    const first = firstVisitorMessage(roomId);
    setText(ui.message, first ? first.body : "(no message yet)");
    ui.message.classList.toggle("muted", !first);
    updatePoolClock(ui, Date.now());
  }

  function updatePoolClock(ui, now) {
    const text = Number.isFinite(ui.created) ? "waiting " + duration(now - ui.created) : "";
    if (ui.waitText !== text) {
      ui.waitText = text;
      ui.wait.textContent = text;
    }
  }

  function firstVisitorMessage(roomId) {
    const log = state.logs.get(roomId);
    if (!log) return null;
    let first = null;
    for (const m of log.messages.values()) if (m.sender === "visitor" && (!first || m.id < first.id)) first = m;
    return first;
  }

  function removePoolItem(roomId) {
    const ui = poolUI.get(roomId);
    if (!ui) return;
    ui.item.remove();
    poolUI.delete(roomId);
    renderPoolEmpty();
  }

  function renderPoolEmpty() {
    dom.poolEmpty.hidden = poolUI.size > 0;
    setText(dom.poolCount, String(poolUI.size));
    dom.poolCount.classList.toggle("hot", poolUI.size > 0);
  }

  function acceptRoom(roomId) {
    const ui = poolUI.get(roomId);
    if (!send({ type: "accept", room: roomId })) {
      notice("Not connected — try again in a moment.");
      return;
    }
    wantsFocus.rooms.add(roomId);
    if (ui) {
      ui.accept.disabled = true;
      ui.accept.textContent = "Accepting…";
      setTimeout(() => resetAccept(roomId), 10000);
    }
  }

  function resetAccept(roomId) {
    const ui = poolUI.get(roomId);
    if (ui) {
      ui.accept.disabled = false;
      ui.accept.textContent = "Accept";
    }
  }

  // ---- room tabs and panels

  function buildRoomUI(room) {
    const id = room.id;
    const ui = {};
    ui.tabName = h("span", { class: "tab-name", text: visitorLabel(room.visitor) });
    ui.tabDot = h("span", { class: "tab-dot", "aria-hidden": "true" });
    ui.unread = h("span", { class: "unread", testid: "room-unread", hidden: true });
    ui.tab = h(
      "button",
      {
        type: "button",
        class: "tab",
        role: "tab",
        id: "room-tab-" + id,
        "aria-selected": "false",
        "aria-controls": "room-panel-" + id,
        testid: "room-tab",
        dataset: { roomId: String(id) },
        onclick: () => selectRoom(id, { focus: true }),
      },
      ui.tabDot,
      ui.tabName,
      ui.unread,
    );

    ui.title = h("h3", { class: "room-title", text: visitorLabel(room.visitor) });
    ui.page = h("div", { class: "room-page", testid: "room-visitor-page" });
    ui.status = h("span", { class: "room-status", testid: "room-status" });
    ui.countdown = h("span", { class: "countdown num", testid: "countdown", hidden: true, role: "timer" });
    ui.signal = h("div", { class: "room-signal", testid: "room-signal", hidden: true, role: "status" });
    ui.close = h("button", { type: "button", class: "ghost", testid: "close-room", text: "Close chat", onclick: () => roomAction("close", id) });
    ui.reopen = h("button", { type: "button", class: "primary", testid: "reopen-room", text: "Reopen", hidden: true, onclick: () => roomAction("reopen", id) });
    ui.dismiss = h("button", { type: "button", class: "ghost", testid: "dismiss-room", text: "Dismiss", hidden: true, onclick: () => forgetRoom(id) });
    ui.transcript = h("ol", { class: "transcript", testid: "transcript", "aria-live": "polite", "aria-label": "Transcript" });
    ui.input = h("textarea", {
      class: "composer-input",
      testid: "message-input",
      rows: 2,
      maxLength: MAX_BODY,
      placeholder: "Type a message — Enter to send, Shift+Enter for a new line",
      "aria-label": "Message",
    });
    ui.send = h("button", { type: "submit", class: "primary", testid: "send", text: "Send" });
    ui.form = h("form", { class: "composer" }, ui.input, ui.send);
    ui.form.addEventListener("submit", (event) => {
      event.preventDefault();
      submitMessage(id);
    });
    ui.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submitMessage(id);
      }
    });

    ui.panel = h(
      "section",
      {
        class: "room-panel",
        role: "tabpanel",
        id: "room-panel-" + id,
        "aria-labelledby": "room-tab-" + id,
        testid: "room-panel",
        dataset: { roomId: String(id), visitorId: String(room.visitor) },
        hidden: true,
      },
      h(
        "header",
        { class: "room-head" },
        h("div", { class: "room-who" }, ui.title, ui.page),
        h("div", { class: "room-state" }, ui.status, ui.countdown),
        h("div", { class: "room-actions" }, ui.reopen, ui.close, ui.dismiss),
      ),
      ui.signal,
      ui.transcript,
      ui.form,
    );
    roomUI.set(id, ui);
    dom.tabs.append(ui.tab);
    dom.rooms.append(ui.panel);
    // Messages seen while the room was in the pool.
    const log = state.logs.get(id);
    if (log) [...log.messages.values()].sort((a, b) => a.id - b.id).forEach((m) => ui.transcript.append(messageNode(m)));
    for (const pending of pendingSends.values()) if (pending.room === id && pending.el) ui.transcript.append(pending.el);
    scrollToEnd(ui, true);
  }

  function renderRoom(roomId) {
    const ui = roomUI.get(roomId);
    const room = state.rooms.get(roomId);
    if (!ui || !room) return;
    const visitor = state.visitors.get(room.visitor);
    const goneFromSite = state.gone.has(room.visitor) || (room.status === "expired" && room.reason === "visitor_left");

    // Who and where.
    if (visitor) {
      const title = str(visitor.title);
      const url = str(visitor.url);
      const key = title + "\u0000" + url;
      if (ui.pageKey !== key) {
        ui.pageKey = key;
        ui.page.replaceChildren(h("span", { class: "page-title", text: title || "(no title)" }), " ", urlNode(url, null, "url"));
      }
    } else if (ui.pageKey !== "-") {
      ui.pageKey = "-";
      ui.page.replaceChildren(h("span", { class: "muted", text: goneFromSite ? "Not on the site" : "Page unknown" }));
    }

    // Status, countdown and actions.
    let status;
    if (room.status === "active") status = "Active";
    else if (room.status === "closing") status = "Closing";
    else if (room.status === "expired") status = "Expired: " + (REASONS[room.reason] || "ended while you were away");
    else status = str(room.status);
    setText(ui.status, status);
    ui.status.dataset.state = room.status;
    ui.panel.dataset.status = room.status;
    ui.tab.dataset.status = room.status;
    ui.countdown.hidden = room.status !== "closing";
    updateCountdown(ui, room, Date.now());
    ui.close.hidden = room.status !== "active";
    ui.reopen.hidden = room.status !== "closing";
    ui.dismiss.hidden = room.status !== "expired";
    if (room.status !== "closing") ui.reopen.disabled = false;
    if (room.status !== "active") ui.close.disabled = false;

    const expired = room.status === "expired";
    ui.input.disabled = expired;
    ui.send.disabled = expired;
    ui.input.placeholder = expired ? "This chat has ended." : "Type a message — Enter to send, Shift+Enter for a new line";

    // The signal: what the operator should know about the visitor right now.
    let signal = "";
    let kind = "";
    if (goneFromSite) {
      signal = "Visitor left the site";
      kind = "left-site";
    } else if (expired) {
      signal = "";
    } else if (!room.visitor_in_room) {
      signal = "Visitor left the chat window";
      kind = "left-window";
    }
    if (expired && !goneFromSite) {
      signal = "This chat has expired: messages can no longer be sent. The visitor's next message goes to the pool.";
      kind = "expired";
    }
    setText(ui.signal, signal);
    ui.signal.dataset.signal = kind;
    ui.signal.hidden = !signal;
    if (kind === "left-window") ui.signal.title = "They are still on the site; your messages still reach their page.";
    else ui.signal.removeAttribute("title");
    ui.tab.classList.toggle("away", kind === "left-window");
    ui.tab.classList.toggle("ended", expired || kind === "left-site");

    // Tab name: the visitor's name as the server spells it, once known.
    const name = visitorName(roomId) || visitorLabel(room.visitor);
    setText(ui.tabName, name);
    setText(ui.title, name);
  }

  function visitorName(roomId) {
    const log = state.logs.get(roomId);
    if (!log) return "";
    for (const m of log.messages.values()) if (m.sender === "visitor" && m.name) return str(m.name);
    return "";
  }

  function updateCountdown(ui, room, now) {
    if (room.status !== "closing") return;
    const at = parseTime(room.expires_at);
    const text = Number.isFinite(at) ? "expires in " + countdown(at - now) : "expiring";
    if (ui.countdown.textContent !== text) ui.countdown.textContent = text;
    ui.countdown.classList.toggle("urgent", Number.isFinite(at) && at - now < 15000);
  }

  function selectRoom(roomId, { focus = false } = {}) {
    const target = roomUI.get(roomId);
    if (!target) return;
    state.current = roomId;
    for (const [id, ui] of roomUI) {
      const on = id === roomId;
      ui.tab.setAttribute("aria-selected", String(on));
      ui.tab.classList.toggle("current", on);
      ui.tab.tabIndex = on ? 0 : -1;
      ui.panel.hidden = !on;
    }
    target.tab.scrollIntoView({ block: "nearest", inline: "nearest" });
    if (!document.hidden) clearUnread(roomId);
    scrollToEnd(target, true);
    if (focus && !target.input.disabled) target.input.focus({ preventScroll: true });
    renderRoomsEmpty();
  }

  function renderRoomsEmpty() {
    dom.roomsEmpty.hidden = roomUI.size > 0;
    if (roomUI.size > 0 && (state.current === null || !roomUI.has(state.current))) {
      state.current = null;
      const first = roomUI.keys().next().value;
      if (first !== undefined) selectRoom(first);
    }
  }

  function roomAction(type, roomId) {
    const ui = roomUI.get(roomId);
    if (!send({ type, room: roomId })) {
      notice("Not connected — try again in a moment.");
      return;
    }
    const button = type === "close" ? ui && ui.close : ui && ui.reopen;
    if (button) {
      button.disabled = true;
      setTimeout(() => {
        button.disabled = false;
      }, 5000);
    }
  }

  // Keyboard: arrow keys move between tabs.
  dom.tabs.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const ids = [...roomUI.keys()];
    const index = ids.indexOf(state.current);
    if (index < 0) return;
    const next = ids[(index + (event.key === "ArrowRight" ? 1 : ids.length - 1)) % ids.length];
    selectRoom(next);
    roomUI.get(next).tab.focus();
    event.preventDefault();
  });

  // ---------------------------------------------------------------- messages

  function messageNode(m, sendState) {
    const sender = ["visitor", "operator", "system"].includes(m.sender) ? m.sender : "system";
    const meta = h(
      "div",
      { class: "msg-meta" },
      h("span", { class: "msg-name", text: str(m.name) || (sender === "visitor" ? "Visitor" : sender === "system" ? "System" : "Operator") }),
      h("time", { class: "msg-time", text: clockTime(m.at), dateTime: str(m.at), title: Number.isFinite(parseTime(m.at)) ? new Date(parseTime(m.at)).toLocaleString() : "" }),
    );
    const li = h(
      "li",
      { class: "msg msg-" + sender, testid: "message", dataset: { sender } },
      meta,
      h("div", { class: "msg-body", testid: "message-body", text: str(m.body) }),
    );
    if (sender === "operator" && state.me && m.name === state.me.name) li.classList.add("msg-self");
    if (typeof m.id === "number") li.dataset.messageId = String(m.id);
    if (sendState) {
      li.dataset.state = sendState;
      li.classList.add("msg-self");
      const note = h("span", { class: "msg-note", testid: "message-state", text: "sending…" });
      meta.append(note);
    }
    return li;
  }

  // Insert a stored message in id order, before any still-unsent messages.
  function placeMessage(ui, li, id) {
    const list = ui.transcript;
    let anchor = null;
    for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
      const nodeId = node.dataset.messageId ? Number(node.dataset.messageId) : Infinity;
      if (nodeId < id) break;
      anchor = node;
    }
    const stick = nearEnd(ui);
    list.insertBefore(li, anchor);
    if (stick) scrollToEnd(ui, true);
  }

  function nearEnd(ui) {
    const list = ui.transcript;
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function scrollToEnd(ui, force) {
    if (force || nearEnd(ui)) ui.transcript.scrollTop = ui.transcript.scrollHeight;
  }

  // Returns true when the message was new here.
  function addMessage(m) {
    if (!m || typeof m.id !== "number" || typeof m.room !== "number") return false;
    if (!state.rooms.has(m.room)) return false;
    const log = getLog(m.room);
    if (log.messages.has(m.id)) return false;
    log.messages.set(m.id, m);
    if (m.id > log.lastId) log.lastId = m.id;
    const pending = m.client_id ? pendingSends.get(m.client_id) : null;
    const ui = roomUI.get(m.room);
    if (pending && pending.room === m.room) {
      // My own message, stored: the "sending" line becomes the stored one.
      pendingSends.delete(m.client_id);
      if (pending.el) pending.el.remove();
    }
    if (ui) placeMessage(ui, messageNode(m), m.id);
    return true;
  }

  function onMessage(m, { live }) {
    if (!addMessage(m)) return;
    const room = state.rooms.get(m.room);
    if (poolUI.has(m.room)) updatePoolItem(m.room);
    if (!roomUI.has(m.room) || m.sender !== "visitor") {
      if (roomUI.has(m.room)) renderRoom(m.room);
      return;
    }
    renderRoom(m.room);
    const inView = state.current === m.room && !document.hidden;
    const log = getLog(m.room);
    if (!inView && (live || log.primed)) bumpUnread(m.room);
    if (live && (!inView || !document.hasFocus())) {
      alertUser({
        kind: "message",
        roomId: m.room,
        title: (str(m.name) || visitorLabel(room ? room.visitor : "")) + " wrote",
        body: str(m.body),
        inView,
      });
    }
  }

  function onHistory(frame) {
    const roomId = frame.room;
    if (typeof roomId !== "number" || !Array.isArray(frame.messages)) return;
    if (!state.rooms.has(roomId)) return;
    const log = getLog(roomId);
    for (const m of frame.messages) onMessage(m, { live: false });
    log.primed = true;
    if (poolUI.has(roomId)) updatePoolItem(roomId);
    if (roomUI.has(roomId)) renderRoom(roomId);
    // A full page means there may be more.
    if (frame.messages.length >= HISTORY_PAGE) requestHistory(roomId);
  }

  function submitMessage(roomId) {
    const ui = roomUI.get(roomId);
    const room = state.rooms.get(roomId);
    if (!ui || !room || room.status === "expired") return;
    const body = ui.input.value;
    if (!body.trim()) return;
    if (body.length > MAX_BODY) {
      notice("That message is too long (at most " + MAX_BODY + " characters).");
      return;
    }
    const clientId = newClientId();
    const message = {
      room: roomId,
      sender: "operator",
      name: state.me ? state.me.name : "",
      body,
      at: new Date().toISOString(),
      client_id: clientId,
    };
    const el = messageNode(message, "sending");
    el.dataset.clientId = clientId;
    pendingSends.set(clientId, { room: roomId, message, el });
    ui.transcript.append(el);
    scrollToEnd(ui, true);
    ui.input.value = "";
    send({ type: "message", room: roomId, body, client_id: clientId }); // sent again after a reconnect if unacked
  }

  function onAck(frame) {
    const pending = pendingSends.get(frame.client_id);
    if (!pending || typeof frame.id !== "number") return;
    pendingSends.delete(frame.client_id);
    const log = getLog(pending.room);
    if (log.messages.has(frame.id)) {
      pending.el.remove(); // the stored message arrived first
      return;
    }
    const stored = { ...pending.message, id: frame.id };
    log.messages.set(frame.id, stored);
    if (frame.id > log.lastId) log.lastId = frame.id;
    const el = pending.el;
    el.dataset.messageId = String(frame.id);
    el.dataset.state = "sent";
    const note = el.querySelector(".msg-note");
    if (note) note.remove();
    const ui = roomUI.get(pending.room);
    if (ui) {
      el.remove();
      placeMessage(ui, el, frame.id);
    }
  }

  function resendPending() {
    for (const [clientId, pending] of pendingSends) {
      const room = state.rooms.get(pending.room);
      if (!room || room.status === "expired") {
        markFailed(clientId, "not sent: the chat has ended");
        continue;
      }
      // Same client_id: the server stores it once even if the first try got through.
      send({ type: "message", room: pending.room, body: pending.message.body, client_id: clientId });
      setPendingNote(pending, "sending…", "sending");
    }
  }

  function setPendingNote(pending, text, kind) {
    if (!pending.el) return;
    pending.el.dataset.state = kind;
    let note = pending.el.querySelector(".msg-note");
    if (!note) {
      note = h("span", { class: "msg-note", testid: "message-state" });
      pending.el.querySelector(".msg-meta").append(note);
    }
    note.replaceChildren(text);
    if (kind === "failed") {
      const room = state.rooms.get(pending.room);
      if (room && room.status !== "expired") {
        const clientId = pending.message.client_id;
        note.append(
          " ",
          h("button", {
            type: "button",
            class: "link",
            testid: "retry",
            text: "Retry",
            onclick: () => {
              const p = pendingSends.get(clientId);
              if (p && send({ type: "message", room: p.room, body: p.message.body, client_id: clientId })) setPendingNote(p, "sending…", "sending");
            },
          }),
        );
      }
    }
  }

  function markFailed(clientId, text) {
    const pending = pendingSends.get(clientId);
    if (pending) setPendingNote(pending, text, "failed");
  }

  // ---------------------------------------------------------------- unread, title

  function bumpUnread(roomId) {
    const count = (state.unread.get(roomId) || 0) + 1;
    state.unread.set(roomId, count);
    renderUnread(roomId);
  }

  function clearUnread(roomId) {
    if (!state.unread.get(roomId)) return;
    state.unread.delete(roomId);
    renderUnread(roomId);
    updateTitle();
  }

  function renderUnread(roomId) {
    const ui = roomUI.get(roomId);
    if (!ui) return;
    const count = state.unread.get(roomId) || 0;
    setText(ui.unread, count ? String(count) : "");
    ui.unread.hidden = !count;
    ui.tab.classList.toggle("has-unread", count > 0);
  }

  const baseTitle = document.title;
  function updateTitle() {
    let unread = 0;
    for (const count of state.unread.values()) unread += count;
    const waiting = poolUI.size;
    const parts = [];
    if (unread) parts.push(unread + " unread");
    if (waiting) parts.push(waiting + " waiting");
    const title = (parts.length ? "(" + parts.join(", ") + ") " : "") + baseTitle;
    if (document.title !== title) document.title = title;
  }

  // ---------------------------------------------------------------- operators

  function onOperator(operator) {
    if (typeof operator.id !== "number") return;
    state.operators.set(operator.id, operator);
    if (state.me && operator.id === state.me.id) state.me = { ...state.me, ...operator };
    renderOperators();
  }

  function renderOperators() {
    const online = [...state.operators.values()]
      .filter((o) => o.online)
      .sort((a, b) => (state.me && a.id === state.me.id ? -1 : state.me && b.id === state.me.id ? 1 : str(a.name).localeCompare(str(b.name))));
    const nodes = online.map((o) =>
      h(
        "span",
        { class: "operator" + (state.me && o.id === state.me.id ? " self" : ""), testid: "operator", dataset: { operatorId: String(o.id) } },
        str(o.name),
      ),
    );
    if (!nodes.length) nodes.push(h("span", { class: "muted", text: "—" }));
    // Chips on screen, "Peter, Jane" as text.
    const list = nodes.flatMap((node, i) => (i ? [h("span", { class: "sr-only", text: ", " }), node] : [node]));
    dom.operators.replaceChildren(...list);
  }

  // ---------------------------------------------------------------- errors and notices

  const ERROR_TEXT = {
    taken: "Another operator took that request first.",
    expired: "That chat has already expired.",
    not_allowed: "That action is not allowed.",
    not_found: "That chat or visitor no longer exists.",
    unavailable: "The server is busy — please try again.",
    server_error: "Something went wrong on the server.",
    too_long: "That message is too long.",
  };

  function onError(frame, request) {
    const code = str(frame.code);
    const type = request ? request.type : null;
    const transient = code === "unavailable" || code === "server_error";
    if (type === "message") {
      markFailed(request.client_id, code === "expired" ? "not sent: the chat has ended" : "not sent (" + (ERROR_TEXT[code] || code) + ")");
      // The database or Redis was away for a moment: try again by itself (same client_id, stored once).
      if (transient) retryLater(() => {
        const pending = pendingSends.get(request.client_id);
        if (pending && send({ type: "message", room: pending.room, body: pending.message.body, client_id: request.client_id })) {
          setPendingNote(pending, "sending…", "sending");
        }
      });
      return;
    }
    if (type === "history" || type === "ping") {
      console.warn("White Panel:", type, code, frame.detail);
      // A gap in a transcript must not stay: ask again.
      if (type === "history" && transient) retryLater(() => state.rooms.has(request.room) && requestHistory(request.room));
      return;
    }
    if (type === "accept") {
      wantsFocus.rooms.delete(request.room);
      resetAccept(request.room);
      if (code === "taken" || code === "not_found" || code === "expired") removePoolItem(request.room);
    }
    if (type === "start") {
      wantsFocus.visitors.delete(request.visitor);
      clearStartPending(request.visitor);
      if (code === "not_allowed") {
        notice("That visitor has left the site.");
        return;
      }
      if (code === "taken") {
        notice("Another operator is already chatting with that visitor.");
        return;
      }
    }
    if (!type) {
      // Could not tell which frame this answers: let every waiting button try again.
      for (const roomId of poolUI.keys()) resetAccept(roomId);
      for (const visitorId of [...startPending.keys()]) clearStartPending(visitorId);
    }
    notice(ERROR_TEXT[code] || (frame.detail ? str(frame.detail) : "Error: " + code), code === "taken" ? "info" : "warn");
  }

  function retryLater(action) {
    setTimeout(action, 1000 + Math.random() * 2000);
  }

  function notice(text, kind = "info") {
    const item = h("div", { class: "notice notice-" + kind, testid: "notice", role: kind === "warn" ? "alert" : "status" }, str(text));
    dom.notices.append(item);
    while (dom.notices.children.length > 4) dom.notices.firstElementChild.remove();
    setTimeout(() => {
      item.classList.add("fade");
      setTimeout(() => item.remove(), 400);
    }, NOTICE_MS);
  }

  // ---------------------------------------------------------------- sound and desktop notifications

  let audio = null;
  let soundOn = localStorage.getItem("whitepanel.sound") !== "off";

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

  let lastBeep = 0;
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
    dom.sound.textContent = soundOn ? "Sound on" : "Sound off";
    dom.sound.setAttribute("aria-pressed", String(soundOn));
    dom.sound.classList.toggle("off", !soundOn);
  }
  dom.sound.addEventListener("click", () => {
    soundOn = !soundOn;
    localStorage.setItem("whitepanel.sound", soundOn ? "on" : "off");
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

  function alertUser({ kind, roomId, title, body, inView = false }) {
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
        if (kind === "message") selectRoom(roomId, { focus: true });
        notification.close();
      };
    } catch {
      /* some browsers allow notifications only from a service worker */
    }
  }

  // ---------------------------------------------------------------- clocks

  let ticks = 0;
  function tick() {
    const now = Date.now();
    ticks += 1;
    for (const [roomId, ui] of roomUI) {
      const room = state.rooms.get(roomId);
      if (room && room.status === "closing") updateCountdown(ui, room, now);
    }
    if (retryTimer) updateRetryText();
    if (ticks % CLOCK_EVERY === 0) {
      for (const ui of rowsUI.values()) updateRowClock(ui, now);
      for (const ui of poolUI.values()) updatePoolClock(ui, now);
      heartbeat();
    }
  }

  // ---------------------------------------------------------------- page wiring

  let filterTimer = null;
  dom.filter.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      filterText = dom.filter.value.trim().toLowerCase();
      for (const [id, ui] of rowsUI) applyFilter(ui, state.visitors.get(id));
    }, 120);
  });

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.current !== null) clearUnread(state.current);
    if (!document.hidden && !socket && !leaving) reconnectNow();
  });
  window.addEventListener("focus", () => {
    if (state.current !== null) clearUnread(state.current);
  });
  window.addEventListener("online", reconnectNow);
  dom.status.addEventListener("click", reconnectNow);
  dom.logout.addEventListener("submit", () => {
    leaving = true; // the server closes the socket; no reconnect while the page goes
  });
  window.addEventListener("pagehide", () => {
    leaving = true;
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) {
      leaving = false;
      if (!socket) connect();
    }
  });

  // Read-only view for debugging in the console.
  Object.defineProperty(window, "whitePanel", {
    value: Object.freeze({
      get state() {
        return state;
      },
    }),
    writable: false,
    configurable: false,
  });

  renderPoolEmpty();
  renderRoomsEmpty();
  updateVisitorCount();
  renderOperators();
  setInterval(tick, 1000);
  connect();
})();
