// White Panel operator panel (docs/protocol.md, operator socket): the wiring only.
//
// store.js    the state, applied from the snapshot and events by id (no DOM)
// socket.js   the connection, and each request matched to its answer
// views/      the DOM of each part: bar, pool, visitors, rooms
// alerts.js   sound and desktop notifications
//
// Every frame goes to the store; what it changed goes to the views, which touch only
// those nodes. What the operator does goes out as a request, whose answer or error
// settles the button that sent it.

import { createAlerts } from "./alerts.js";
import { ERROR_TEXT, messageText, str, visitorLabel } from "./format.js";
import { n, t } from "./i18n.js";
import { createReplies } from "./replies.js";
import { createSocket } from "./socket.js";
import { createStore } from "./store.js";
import { UPLOAD_ERROR_TEXT, fileProblem, uploadFile } from "./uploads.js";
import { createBarView } from "./views/bar.js";
import { createHistory } from "./views/history.js";
import { createPhoneView } from "./views/phone.js";
import { createPoolView } from "./views/pool.js";
import { createReplyManager } from "./views/reply_manager.js";
import { createRoomsView } from "./views/rooms.js";
import { createVisitorInfo } from "./views/visitor_info.js";
import { attachReplySuggestions } from "./views/suggestions.js";
import { createVisitorsView } from "./views/visitors.js";

const LOGIN_URL = "/operators/login/";
const CLOCK_EVERY = 5; // refresh times on site / waiting times every 5 ticks of 1 s
const NOT_CONNECTED = t("Not connected — try again in a moment.");
const TRANSIENT = new Set(["unavailable", "server_error", "rate_limited"]); // worth the same frame again, later
const POOL_GONE = new Set(["taken", "not_found", "expired"]); // an accept that can never succeed

const $ = (id) => document.getElementById(id);

const store = createStore();
store.setVisible(!document.hidden);

const bar = createBarView({ store, dom: { me: $("me"), myStatus: $("my-status"), status: $("status"), operators: $("operators"), notices: $("notices") } });
const notice = bar.notice;
const alerts = createAlerts({ dom: { sound: $("sound-toggle"), notify: $("enable-notifications") }, onOpen: (roomId) => showRoom(roomId, { focus: true }) });
const visitors = createVisitorsView({
  store,
  dom: { body: $("visitors").tBodies[0], empty: $("visitors-empty"), count: $("visitor-count"), filter: $("visitor-filter") },
  actions: { startChat, openRoom: (roomId) => showRoom(roomId, { focus: true }) },
});
const phone = createPhoneView({
  dom: {
    panel: $("panel"),
    lists: $("pane-lists"),
    rooms: $("pane-rooms"),
    listsCount: $("pane-lists-count"),
    roomsCount: $("pane-rooms-count"),
    bar: document.querySelector(".bar"),
    menuButton: $("bar-menu"),
    menu: $("bar-actions"),
  },
});
const pool = createPoolView({ store, dom: { list: $("pool"), empty: $("pool-empty"), count: $("pool-count") }, actions: { accept: acceptRoom } });
// The REST API with the panel's session: its CSRF token is the logout form's.
const csrfToken = () => {
  const field = document.querySelector("#logout-form [name=csrfmiddlewaretoken]");
  return field ? field.value : "";
};
async function fetchJson(method, url, body) {
  const token = document.querySelector("#logout-form [name=csrfmiddlewaretoken]");
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...(token ? { "X-CSRFToken": token.value } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw (answer && answer.error) || { code: "server_error", detail: "" };
  return answer;
}
const replies = createReplies({ fetchJson });
createHistory({
  dom: { open: $("history-open"), dialog: $("history-dialog"), form: $("history-form"), list: $("history-list"), transcript: $("history-transcript"), status: $("history-status") },
  fetchJson,
});
replies.load().catch(() => {});
createReplyManager({
  dom: { open: $("replies-open"), dialog: $("replies-dialog"), list: $("replies-list"), form: $("reply-form"), error: $("reply-error") },
  replies,
  me: () => store.me,
});

// What a canned reply's placeholders become in this room, now.
function replyContext(roomId) {
  const room = store.state.rooms.get(roomId);
  const visitor = room && store.state.visitors.get(room.visitor);
  return {
    visitor: store.visitorName(roomId) || "",
    operator: store.me ? str(store.me.name) : "",
    page: visitor ? str(visitor.title) : "",
  };
}

const rooms = createRoomsView({
  store,
  dom: { tabs: $("room-tabs"), rooms: $("rooms"), empty: $("rooms-empty") },
  actions: {
    select: showRoom,
    roomAction,
    transfer: transferRoom,
    dismiss: (roomId) => apply(store.dismiss(roomId)),
    send: sendMessage,
    retry: retryMessage,
    composer: (input, roomId) => attachReplySuggestions(input, { replies, context: () => replyContext(roomId) }),
    typing: sendTyping,
    note: sendNote,
    upload: sendFile,
    visitorInfo: createVisitorInfo({ fetchJson, noteLength: () => store.limits.note_length || 0, block: askToBlock }),
  },
});

const socket = createSocket({
  url: () => (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/operator/",
  WebSocket: window.WebSocket,
  maxFrameBytes: () => store.limits.frame_bytes || 0,
  onFrame: (frame) => apply(store.applyEvent(frame)),
  onStatus: (status) => bar.setConnection(status),
  onUnmatchedError,
  onLoggedOut: () => location.assign(LOGIN_URL),
  onRefused: checkSession,
});

// ---------------------------------------------------------------- from the store to the page

function apply(changes) {
  bar.render(changes);
  visitors.render(changes);
  pool.render(changes);
  rooms.render(changes);
  phone.counts({ pool: Number($("pool-count").textContent) || 0, rooms: store.state.tabs.size });
  for (const roomId of changes.history) requestHistory(roomId);
  for (const clientId of changes.resend) transmit(clientId);
  for (const alert of changes.alerts) alertFor(alert);
  reportSeen();
  updateTitle();
}

// Typing and seen (issue 23). The visitor sees "Peter is typing…" while the operator types in
// one of their live rooms: a frame every few seconds at most, none per keystroke.
const TYPING_EVERY_MS = 3000;
const typingSentAt = new Map(); // room id → when
function sendTyping(roomId) {
  const room = store.state.rooms.get(roomId);
  if (!store.isMine(room) || (room.status !== "active" && room.status !== "closing")) return;
  const now = Date.now();
  if (now - (typingSentAt.get(roomId) || 0) < TYPING_EVERY_MS) return;
  if (socket.notify({ type: "typing", room: roomId })) typingSentAt.set(roomId, now);
}

// An internal note (issue 23): stored and shown once acknowledged (its `message` event comes
// to this panel too); refused, its text comes back into the composer's notice.
let noteCounter = 0;
function sendNote(roomId, body) {
  noteCounter += 1;
  const frame = { type: "note", room: roomId, body, client_id: "n-" + Date.now().toString(36) + "-" + noteCounter };
  socket.request(frame).catch((error) => {
    errorNotice(error.frame || { code: error.code, detail: t("The note was not saved: {text}", { text: body.slice(0, 80) }) });
  });
}

// The room in view, on a visible page: the visitor's newest message in it has been seen.
function reportSeen() {
  const roomId = store.state.current;
  if (roomId === null || !store.state.visible) return;
  const id = store.unseenByMe(roomId);
  if (id && socket.notify({ type: "seen", room: roomId, id })) store.markSeenByMe(roomId, id);
}

// The operator opens a tab: in view (its unread count cleared), scrolled, maybe focused.
function showRoom(roomId, { focus = false } = {}) {
  apply(store.selectRoom(roomId));
  phone.roomOpened();
  rooms.reveal(roomId, { focus });
}

function alertFor(alert) {
  // Away (issue 23): no sound or notification for new requests; messages in one's own chats still.
  if (alert.kind === "pool" && store.me && store.me.status === "away") return;
  if (alert.kind === "assigned") {
    alerts.alert({ kind: "pool", roomId: alert.room, title: t("New chat for you"), body: t("{visitor} was given to you.", { visitor: visitorLabel(alert.visitor) }) });
    return;
  }
  if (alert.kind === "pool") {
    alerts.alert({ kind: "pool", roomId: alert.room, title: t("New chat request"), body: t("{visitor} is waiting in the pool.", { visitor: visitorLabel(alert.visitor) }) });
    return;
  }
  if (alert.inView && document.hasFocus()) return;
  const m = alert.message;
  const room = store.state.rooms.get(alert.room);
  alerts.alert({
    kind: "message",
    roomId: alert.room,
    title: t("{name} wrote", { name: str(m.name) || visitorLabel(room ? room.visitor : "") }),
    body: messageText(m),
    inView: alert.inView,
  });
}

const baseTitle = document.title;
function updateTitle() {
  const unread = store.unreadTotal();
  const waiting = pool.size;
  const parts = [];
  if (unread) parts.push(t("{count} unread", { count: unread }));
  if (waiting) parts.push(t("{count} waiting", { count: waiting }));
  const title = (parts.length ? "(" + parts.join(", ") + ") " : "") + baseTitle;
  if (document.title !== title) document.title = title;
}

// ---------------------------------------------------------------- requests

function errorNotice(frame) {
  const code = str(frame.code);
  notice(ERROR_TEXT[code] || (frame.detail ? str(frame.detail) : t("Error: {code}", { code })), code === "taken" ? "info" : "warn");
}

// A request that failed without an answer (offline, disconnected) is settled by the
// snapshot after the reconnect; only a server's error says more.
const answeredWithError = (error) => Boolean(error && error.frame);

function retryLater(action) {
  setTimeout(action, 1000 + Math.random() * 2000);
}

function acceptRoom(roomId) {
  if (!socket.open) {
    notice(NOT_CONNECTED);
    return;
  }
  pool.setAccepting(roomId, true);
  socket.request({ type: "accept", room: roomId }, { accepts: (answer) => store.isMine(answer.room) }).then(
    (answer) => showRoom(answer.room.id, { focus: true }),
    (error) => {
      if (!answeredWithError(error)) return;
      pool.setAccepting(roomId, false);
      if (POOL_GONE.has(error.code)) apply(store.dropFromPool(roomId));
      errorNotice(error.frame);
    },
  );
}

function startChat(visitorId) {
  if (!socket.open) {
    notice(NOT_CONNECTED);
    return;
  }
  visitors.setStarting(visitorId, true);
  socket.request({ type: "start", visitor: visitorId }, { accepts: (answer) => store.isMine(answer.room) }).then(
    (answer) => showRoom(answer.room.id, { focus: true }),
    (error) => {
      if (!answeredWithError(error)) return;
      visitors.setStarting(visitorId, false);
      if (error.code === "not_allowed") notice(t("That visitor has left the site."));
      else if (error.code === "taken") notice(t("Another operator is already chatting with that visitor."));
      else errorNotice(error.frame);
    },
  );
}

// Hand a room to a colleague (operatorId) or back to the pool (null): its tab goes when the
// server's answer says it is no longer mine.
function transferRoom(roomId, operatorId) {
  if (!socket.open) {
    notice(NOT_CONNECTED);
    return;
  }
  socket.request({ type: "transfer", room: roomId, operator: operatorId }).then(
    () => {},
    (error) => answeredWithError(error) && errorNotice(error.frame),
  );
}

function roomAction(type, roomId) {
  if (!socket.open) {
    notice(NOT_CONNECTED);
    return;
  }
  rooms.hold(roomId, type);
  socket.request({ type, room: roomId }).then(
    () => {},
    (error) => answeredWithError(error) && errorNotice(error.frame),
  );
}

function requestHistory(roomId) {
  if (!socket.open) return; // asked again after the reconnect's snapshot
  socket.request({ type: "history", room: roomId, after: store.historyAfter(roomId) }).then(
    () => {},
    (error) => {
      if (!answeredWithError(error)) return;
      console.warn("White Panel: history", error.code, error.frame.detail);
      // A gap in a transcript must not stay: ask again.
      if (TRANSIENT.has(error.code)) retryLater(() => store.state.rooms.has(roomId) && requestHistory(roomId));
    },
  );
}

let clientCounter = 0;
function newClientId() {
  let id;
  if (window.crypto && typeof crypto.randomUUID === "function") id = crypto.randomUUID();
  else {
    clientCounter += 1;
    id = "p-" + Date.now().toString(36) + "-" + clientCounter;
  }
  const max = store.limits.client_id_length;
  return max ? id.slice(0, max) : id;
}

// Returns true when the message is on its way (the composer then empties).
function sendMessage(roomId, body) {
  const room = store.state.rooms.get(roomId);
  if (!room || room.status === "expired") return false;
  const problem = store.messageProblem(body);
  if (problem === "empty") return false;
  if (problem === "too_long") {
    notice(t("That message is too long (at most {count} characters).", { count: store.limits.message_length }));
    return false;
  }
  const clientId = newClientId();
  const changes = store.addPending({ room: roomId, body, clientId, at: new Date().toISOString() });
  if (!changes.pending.size) return false;
  apply(changes);
  transmit(clientId); // sent again after a reconnect if unacknowledged
  return true;
}

// Sends a pending message. Its ack (or stored copy) and an error naming its client_id
// reach the store as frames; here only what to do next.
function transmit(clientId) {
  const frame = store.messageFrame(clientId);
  if (!frame) return;
  socket.request(frame).then(
    () => {},
    (error) => {
      if (error.code === "too_big") apply(store.sendFailed(clientId, "too_long"));
      if (!answeredWithError(error)) return;
      // The database or Redis was away for a moment: try again by itself (same client_id, stored once).
      if (TRANSIENT.has(error.code)) retryLater(() => store.state.pending.has(clientId) && socket.open && retryMessage(clientId));
    },
  );
}

// A file or image to the visitor (issue 23): a message of its own, sent over HTTP (XHR: its
// progress shows in the transcript, with Cancel) to POST /api/rooms/{id}/files/. Its stored
// message comes back as the answer and as the socket's event; a refusal says why in the room.
let uploadCounter = 0;
function sendFile(roomId, file) {
  const room = store.state.rooms.get(roomId);
  if (!room || room.status === "expired") return;
  uploadCounter += 1;
  const key = "u-" + uploadCounter;
  const problem = fileProblem(file, store.limits);
  if (problem) {
    rooms.uploadStarted(roomId, key, file, null);
    rooms.uploadFailed(key, UPLOAD_ERROR_TEXT[problem]);
    return;
  }
  const upload = uploadFile({
    XMLHttpRequest: window.XMLHttpRequest,
    FormData: window.FormData,
    url: `/api/rooms/${roomId}/files/`,
    file,
    fields: { client_id: newClientId() },
    csrfToken: csrfToken(),
    onProgress: (sent, total) => rooms.uploadProgress(key, sent, total),
  });
  rooms.uploadStarted(roomId, key, file, () => upload.cancel());
  upload.promise.then(
    (message) => {
      rooms.uploadDone(key);
      apply(store.applyEvent({ type: "message", message }));
    },
    (error) => {
      if (error.code === "cancelled") rooms.uploadDone(key);
      else rooms.uploadFailed(key, UPLOAD_ERROR_TEXT[error.code] || ERROR_TEXT[error.code] || str(error.detail) || str(error.code));
    },
  );
}

function retryMessage(clientId) {
  if (!store.state.pending.has(clientId) || !socket.open) return;
  apply(store.resending(clientId));
  transmit(clientId);
}

// An error that names no request this panel is waiting for (or none at all).
function onUnmatchedError(frame) {
  if (["message", "history", "ping", "typing", "seen"].includes(frame.for)) {
    console.warn("White Panel:", frame.for, frame.code, frame.detail);
    return;
  }
  if (frame.for === "accept" && typeof frame.room === "number") pool.setAccepting(frame.room, false);
  else if (frame.for === "start" && typeof frame.visitor === "number") visitors.setStarting(frame.visitor, false);
  else {
    // Could not tell which frame this answers: let every waiting button try again.
    pool.stopAllAccepting();
    visitors.stopAllStarting();
  }
  errorNotice(frame);
}

// A refused handshake may mean the session ended: ask the panel page itself.
function checkSession() {
  fetch(location.pathname, { method: "GET", credentials: "same-origin", redirect: "manual", cache: "no-store" })
    .then((response) => {
      if (response.type === "opaqueredirect" || response.status === 302 || response.status === 403) {
        socket.leave();
        location.assign(LOGIN_URL);
      }
    })
    .catch(() => {});
}

// ---------------------------------------------------------------- clocks and page events

let ticks = 0;
function tick() {
  const now = Date.now();
  ticks += 1;
  rooms.tick(now);
  bar.tick(now);
  if (ticks % CLOCK_EVERY === 0) {
    visitors.tick(now);
    pool.tick(now);
  }
}

document.addEventListener("visibilitychange", () => {
  apply(store.setVisible(!document.hidden));
  if (!document.hidden) socket.reconnectNow();
});
window.addEventListener("focus", () => apply(store.setVisible(!document.hidden)));
window.addEventListener("online", () => socket.reconnectNow());
$("status").addEventListener("click", () => socket.reconnectNow());
// The server closes the socket on logout; no reconnect while the page goes.
// Available, away or busy (issue 23): the server answers with my operator, which the store applies.
$("my-status").addEventListener("change", () => {
  const select = $("my-status");
  const wanted = select.value;
  socket.request({ type: "status", status: wanted }).then(
    (frame) => apply(store.applyEvent(frame)),
    (error) => {
      if (store.me) select.value = store.me.status || "available";
      errorNotice(error.frame || { code: error.code });
    },
  );
});
// The panel's language (issue 24): saved on the operator, and the page loads again in it.
$("language").addEventListener("change", () => $("language-form").requestSubmit());

// Logging out ends one's chats at once (R10): with some open, the panel asks first and says
// where they go.
$("logout-form").addEventListener("submit", (event) => {
  const open = [...store.state.rooms.values()].filter((r) => store.isMine(r) && (r.status === "active" || r.status === "closing"));
  if (open.length && !event.submitter?.dataset.confirmed) {
    event.preventDefault();
    const dialog = $("logout-dialog");
    $("logout-text").textContent =
      n("You have {count} open chat. Logging out ends it now:", "You have {count} open chats. Logging out ends them now:", open.length) +
      " " +
      t("a visitor whose last question you have not answered goes back to the pool with the conversation; the others may write again and a colleague will answer.");
    dialog.returnValue = "";
    dialog.showModal();
    return;
  }
  socket.leave();
});
$("logout-dialog").addEventListener("close", () => {
  if ($("logout-dialog").returnValue !== "logout") return;
  const button = $("logout-form").querySelector("button[type=submit]");
  button.dataset.confirmed = "1";
  $("logout-form").requestSubmit(button);
});
// Blocking a visitor (issue 25): the dialog asks why, and whether their address or network
// too; the server ends their chat (a `room` event, as other endings) and closes their sockets.
let blocking = null; // the visitor id the dialog is about
function askToBlock(visitorId) {
  blocking = visitorId;
  $("ban-form").reset();
  $("ban-error").hidden = true;
  $("ban-dialog").showModal();
}
$("ban-dialog").querySelector("[data-testid=ban-cancel]").addEventListener("click", () => $("ban-dialog").close());
$("ban-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (blocking === null) return;
  if (!socket.open) {
    notice(NOT_CONNECTED);
    return;
  }
  const form = $("ban-form");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const frame = { type: "ban", visitor: blocking, reason: form.elements.reason.value, address: form.elements.address.checked, network: form.elements.network.checked };
  socket
    .request(frame)
    .then(
      () => {
        $("ban-dialog").close();
        notice(t("Visitor blocked. A site owner can lift it in admin."), "info");
      },
      (error) => {
        const detail = error.frame ? ERROR_TEXT[str(error.frame.code)] || str(error.frame.detail) : NOT_CONNECTED;
        $("ban-error").textContent = t("Not blocked: {detail}", { detail });
        $("ban-error").hidden = false;
      },
    )
    .finally(() => (button.disabled = false));
});

window.addEventListener("pagehide", () => socket.leave());
window.addEventListener("pageshow", (event) => {
  if (event.persisted) socket.resume();
});

// Read-only view for debugging in the console.
Object.defineProperty(window, "whitePanel", {
  value: Object.freeze({
    get state() {
      return store.state;
    },
    get connection() {
      return socket.status;
    },
  }),
  writable: false,
  configurable: false,
});

updateTitle();
setInterval(tick, 1000);
socket.connect();
