// The panel's state, built from the snapshot and the events after it (docs/protocol.md,
// operator socket). No DOM here: every change returns what it touched, by id, so each
// view updates only those nodes, and Node's test runner can drive it with plain frames.
//
// Objects are applied by id, the latest wins (a frame may arrive twice: an answer and the
// group event of the same change); an expired room is final; messages are kept once by id.

import { parseTime } from "./format.js";

// What one change touched. Views read the store again for each id: a room id in `pool`
// that is no longer pending is taken out of the pool, a visitor id no longer online
// loses its row, and so on.
export function emptyChanges() {
  return {
    snapshot: false, // everything was replaced: views rebuild their lists
    me: false,
    operators: false,
    limits: false,
    visitors: new Set(), // visitor ids: row added, changed or gone
    pool: new Set(), // room ids: pool item added, changed or gone
    tabs: new Set(), // room ids: tab added, changed or gone
    messages: [], // {room, id}: stored messages new here
    pending: new Set(), // client ids of my unacknowledged messages: added, changed or gone
    unread: new Set(), // room ids whose unread count changed
    current: false, // the room in view changed
    history: new Set(), // room ids to ask `history` for (after their last message)
    resend: [], // client ids to send again (after a snapshot)
    alerts: [], // {kind: "pool", room, visitor} | {kind: "message", room, message, inView}
  };
}

export function hasChanges(c) {
  return (
    c.snapshot ||
    c.me ||
    c.operators ||
    c.limits ||
    c.current ||
    c.messages.length > 0 ||
    c.resend.length > 0 ||
    c.alerts.length > 0 ||
    [c.visitors, c.pool, c.tabs, c.pending, c.unread, c.history].some((set) => set.size > 0)
  );
}

const SNAPSHOT_LISTS = ["operators", "rooms", "visitors"];
const LIMIT_NAMES = ["message_length", "client_id_length", "history_page", "frame_bytes", "note_length", "upload_bytes"];
const TYPING_SHOWN_MS = 6000; // "typing…" shows this long after the visitor's last typing frame
const same = (a, b) => a === b || (a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b));

export function createStore() {
  const state = {
    me: null,
    limits: {}, // from the server: message_length, client_id_length, history_page, frame_bytes, note_length, upload_bytes, upload_types
    operators: new Map(), // id → operator
    visitors: new Map(), // id → visitor (as last received)
    rooms: new Map(), // id → room: the pool and my rooms
    // room id → {messages: Map id → message, lastId, synced, primed}: `synced` is the newest id a
    // history answer brought, which `history` asks after. Ids follow the commits of a room, but
    // events published by two processes may arrive out of order: the newest id heard live (lastId)
    // may skip one a reconnect's history must still bring.
    logs: new Map(),
    unread: new Map(), // room id → count
    gone: new Set(), // visitor ids who left the site (for rooms still on screen)
    tabs: new Set(), // room ids with a tab (my rooms), in the order they opened
    current: null, // room id of the tab in view
    visible: true, // the page is visible: messages in the current tab are read
    pending: new Map(), // client_id → {room, message, state: "sending" | "failed", error}
    typing: new Map(), // room id → until when (ms) the visitor shows as typing
  };

  const isMine = (room) => Boolean(room && room.operator && state.me && room.operator.id === state.me.id);

  function getLog(roomId) {
    let log = state.logs.get(roomId);
    if (!log) {
      log = { messages: new Map(), lastId: 0, synced: 0, primed: false };
      state.logs.set(roomId, log);
    }
    return log;
  }

  // ---------------------------------------------------------------- tabs and unread

  function select(roomId, c) {
    if (!state.tabs.has(roomId)) return;
    if (state.current !== roomId) {
      state.current = roomId;
      c.current = true;
    }
    if (state.visible) clearUnread(roomId, c);
  }

  // Some tab is in view whenever there are tabs.
  function keepCurrent(c) {
    if (state.tabs.size > 0 && (state.current === null || !state.tabs.has(state.current))) {
      state.current = null;
      c.current = true;
      select(state.tabs.values().next().value, c);
    }
  }

  function clearUnread(roomId, c) {
    if (!state.unread.get(roomId)) return;
    state.unread.delete(roomId);
    c.unread.add(roomId);
  }

  function bumpUnread(roomId, c) {
    state.unread.set(roomId, (state.unread.get(roomId) || 0) + 1);
    c.unread.add(roomId);
  }

  // ---------------------------------------------------------------- rooms

  function forget(roomId, c) {
    const room = state.rooms.get(roomId);
    state.rooms.delete(roomId);
    state.logs.delete(roomId);
    if (state.unread.delete(roomId)) c.unread.add(roomId);
    c.pool.add(roomId);
    if (state.tabs.delete(roomId)) {
      c.tabs.add(roomId);
      if (state.current === roomId) {
        state.current = null;
        c.current = true;
        const next = [...state.tabs].pop();
        if (next !== undefined) select(next, c);
      }
    }
    for (const [clientId, pending] of state.pending) {
      if (pending.room !== roomId) continue;
      state.pending.delete(clientId);
      c.pending.add(clientId);
    }
    if (room) {
      if (![...state.rooms.values()].some((r) => r.visitor === room.visitor)) state.gone.delete(room.visitor);
      c.visitors.add(room.visitor);
    }
    keepCurrent(c);
  }

  function applyRoom(room, live, c) {
    if (!room || typeof room.id !== "number") return;
    const before = state.rooms.get(room.id);
    // Seen marks only move forward: a room frame sent before a `seen` event takes none back.
    if (before && (before.visitor_seen || 0) > (room.visitor_seen || 0)) room = { ...room, visitor_seen: before.visitor_seen };
    if (before && before.status === "expired" && room.status !== "expired") return; // stale: expiry is final
    if (same(before, room) && (state.tabs.has(room.id) || room.status === "pending")) return; // the same frame twice

    if (room.status === "pending") {
      state.rooms.set(room.id, room);
      c.pool.add(room.id);
      c.visitors.add(room.visitor);
      // Made outside its site's business hours (issue 25): in the pool, without a beep.
      if (!before && live && !room.after_hours) c.alerts.push({ kind: "pool", room: room.id, visitor: room.visitor });
      // Back in the pool by itself (R14): its question is in the conversation before it.
      if (!before && room.returned) c.history.add(room.id);
      return;
    }
    if (before && before.status === "pending") c.pool.add(room.id); // it leaves the pool
    if (!isMine(room)) {
      // Taken by someone else, or expired while pooled: gone from this panel at once.
      if (before) forget(room.id, c);
      return;
    }
    // Given to me by the site's routing (issue 23): it never was in my pool, so say it.
    if (!before && live && room.routed && room.status === "active") c.alerts.push({ kind: "assigned", room: room.id, visitor: room.visitor });
    if (!state.tabs.has(room.id)) {
      // An ended room of mine that the panel never showed: nothing to show now.
      if (room.status === "expired" && !before && !live) return;
      // One tab per visitor: a new room with a visitor whose ended one is still on screen takes
      // its place (its history holds the ended room's messages too, R15).
      if (room.status !== "expired") {
        for (const [otherId, other] of [...state.rooms]) {
          if (otherId !== room.id && other.visitor === room.visitor && other.status === "expired" && state.tabs.has(otherId)) forget(otherId, c);
        }
      }
      state.tabs.add(room.id);
      c.history.add(room.id);
    }
    state.rooms.set(room.id, room);
    c.tabs.add(room.id);
    c.visitors.add(room.visitor);
    if (room.status !== "expired" && state.current === null) select(room.id, c);
    keepCurrent(c);
  }

  // A pool item whose accept was refused for good (taken, not found, expired).
  function dropFromPool(roomId) {
    const c = emptyChanges();
    const room = state.rooms.get(roomId);
    if (room && room.status === "pending") forget(roomId, c);
    return c;
  }

  function dismiss(roomId) {
    const c = emptyChanges();
    if (state.tabs.has(roomId)) forget(roomId, c);
    return c;
  }

  // ---------------------------------------------------------------- visitors

  // The pool items and tabs show the visitor's page and presence too.
  function touchRoomsOf(visitorId, c) {
    for (const [roomId, room] of state.rooms) {
      if (room.visitor !== visitorId) continue;
      if (room.status === "pending") c.pool.add(roomId);
      if (state.tabs.has(roomId)) c.tabs.add(roomId);
    }
  }

  function applyVisitor(visitor, c) {
    if (!visitor || typeof visitor.id !== "number") return;
    if (visitor.online === false) {
      applyVisitorGone(visitor.id, c);
      return;
    }
    const wasGone = state.gone.delete(visitor.id);
    const before = state.visitors.get(visitor.id);
    // `lost` comes only from who knows it (a page: null, the snapshot): a room's change keeps it.
    if (!("lost" in visitor)) visitor = { ...visitor, lost: before ? before.lost || null : null };
    if (!wasGone && same(before, visitor)) return; // the same frame twice
    state.visitors.set(visitor.id, visitor);
    c.visitors.add(visitor.id);
    touchRoomsOf(visitor.id, c);
  }

  // The visitor's last socket closed a few seconds ago and none came back: "connection lost".
  function applyVisitorLost(frame, c) {
    const visitor = state.visitors.get(frame.visitor);
    if (!visitor || visitor.lost === frame.since) return;
    state.visitors.set(visitor.id, { ...visitor, lost: typeof frame.since === "string" ? frame.since : "" });
    c.visitors.add(visitor.id);
    touchRoomsOf(visitor.id, c);
  }

  function applyVisitorGone(visitorId, c) {
    if (typeof visitorId !== "number") return;
    const had = state.visitors.delete(visitorId);
    // Remembered only while a room on screen needs it, so the set stays small all day.
    let needed = false;
    for (const room of state.rooms.values()) if (room.visitor === visitorId) needed = true;
    if (needed && !state.gone.has(visitorId)) state.gone.add(visitorId);
    else if (!had) return;
    c.visitors.add(visitorId);
    touchRoomsOf(visitorId, c);
  }

  // ---------------------------------------------------------------- typing and seen (issue 23)

  // The visitor is typing in one of my rooms: shown for a few seconds, or until their message.
  function applyTyping(frame, c, now = Date.now()) {
    if (frame.sender !== "visitor" || !state.tabs.has(frame.room)) return;
    state.typing.set(frame.room, now + TYPING_SHOWN_MS);
    c.tabs.add(frame.room);
  }

  function isTyping(roomId, now = Date.now()) {
    const until = state.typing.get(roomId);
    if (until && until <= now) state.typing.delete(roomId);
    return Boolean(until && until > now);
  }

  // The visitor saw my messages up to this id.
  function applySeen(frame, c) {
    const room = state.rooms.get(frame.room);
    if (frame.sender !== "visitor" || !room || typeof frame.id !== "number" || frame.id <= (room.visitor_seen || 0)) return;
    state.rooms.set(room.id, { ...room, visitor_seen: frame.id });
    if (state.tabs.has(room.id)) c.tabs.add(room.id);
  }

  // The newest visitor message of a room in view that the server has not heard I saw: its id, or 0.
  function unseenByMe(roomId) {
    const room = state.rooms.get(roomId);
    const log = state.logs.get(roomId);
    if (!room || !isMine(room) || !log) return 0;
    let newest = 0;
    for (const m of log.messages.values()) if (m.room === roomId && m.sender === "visitor" && m.id > newest) newest = m.id;
    return newest > (room.operator_seen || 0) ? newest : 0;
  }

  function markSeenByMe(roomId, id) {
    const room = state.rooms.get(roomId);
    if (room && id > (room.operator_seen || 0)) state.rooms.set(roomId, { ...room, operator_seen: id });
  }

  // ---------------------------------------------------------------- messages

  // A message goes in the log of its room; a history answer's also in the log of the room asked
  // about (`into`): the visitor's earlier rooms are part of its conversation (R15).
  function applyMessage(m, live, c, into = m && m.room) {
    if (!m || typeof m.id !== "number" || typeof m.room !== "number") return;
    const room = into;
    if (!state.rooms.has(room)) return;
    const log = getLog(room);
    if (log.messages.has(m.id)) return; // already here (history and event, or ack first)
    log.messages.set(m.id, m);
    if (m.id > log.lastId) log.lastId = m.id;
    const pending = m.client_id ? state.pending.get(m.client_id) : null;
    if (pending && pending.room === m.room) {
      // My own message, stored: the "sending" line becomes the stored one.
      state.pending.delete(m.client_id);
      c.pending.add(m.client_id);
    }
    c.messages.push({ room, id: m.id });
    if (state.rooms.get(room).status === "pending") c.pool.add(room);
    if (!state.tabs.has(room)) return;
    c.tabs.add(room);
    if (m.sender === "visitor" && live && state.typing.delete(room)) c.tabs.add(room); // their message is here
    if (m.sender !== "visitor" || m.room !== room) return;
    const inView = state.current === room && state.visible;
    if (!inView && (live || log.primed)) bumpUnread(room, c);
    if (live) c.alerts.push({ kind: "message", room, message: m, inView });
  }

  function applyHistory(frame, c) {
    const roomId = frame.room;
    if (typeof roomId !== "number" || !Array.isArray(frame.messages)) return;
    if (!state.rooms.has(roomId)) return;
    const log = getLog(roomId);
    for (const m of frame.messages) {
      applyMessage(m, false, c, roomId);
      if (m && typeof m.id === "number" && m.id > log.synced) log.synced = m.id;
    }
    log.primed = true;
    if (state.rooms.get(roomId).status === "pending") c.pool.add(roomId);
    if (state.tabs.has(roomId)) c.tabs.add(roomId);
    // The server says when there is more (a full page, or one cut to fit a frame): ask again.
    if (frame.more === true) c.history.add(roomId);
  }

  function applyAck(frame, c) {
    const pending = state.pending.get(frame.client_id);
    if (!pending || typeof frame.id !== "number") return;
    state.pending.delete(frame.client_id);
    c.pending.add(frame.client_id);
    if (!state.rooms.has(pending.room)) return;
    const log = getLog(pending.room);
    if (log.messages.has(frame.id)) return; // the stored message arrived first
    log.messages.set(frame.id, { ...pending.message, id: frame.id });
    if (frame.id > log.lastId) log.lastId = frame.id;
    c.messages.push({ room: pending.room, id: frame.id });
  }

  function sendFailed(clientId, code, c = emptyChanges()) {
    const pending = state.pending.get(clientId);
    if (!pending) return c;
    pending.state = "failed";
    pending.error = code;
    c.pending.add(clientId);
    return c;
  }

  // An error that answers one of my messages says which one by its client_id.
  function applyError(frame, c) {
    if (frame.for === "message" && typeof frame.client_id === "string") sendFailed(frame.client_id, String(frame.code || ""), c);
  }

  // ---------------------------------------------------------------- operators and limits

  function applyOperator(operator, c) {
    if (!operator || typeof operator.id !== "number") return;
    if (same(state.operators.get(operator.id), operator)) return;
    state.operators.set(operator.id, operator);
    if (state.me && operator.id === state.me.id) {
      state.me = { ...state.me, ...operator };
      c.me = true;
    }
    c.operators = true;
  }

  // The snapshot's limits replace the ones before (a server may have been restarted with others).
  function applyLimits(limits, c) {
    const next = {};
    if (!limits || typeof limits !== "object") limits = {};
    for (const name of LIMIT_NAMES) {
      const value = limits[name];
      if (Number.isInteger(value) && value > 0) next[name] = value;
    }
    // The file extensions the server takes (issue 23); [] when it takes none.
    if (Array.isArray(limits.upload_types)) next.upload_types = limits.upload_types.filter((type) => typeof type === "string");
    if (same(next, state.limits)) return;
    state.limits = next;
    c.limits = true;
  }

  // ---------------------------------------------------------------- the snapshot

  function applySnapshot(frame) {
    const c = emptyChanges();
    c.snapshot = true;
    c.me = true;
    c.operators = true;
    state.me = frame.operator || state.me;
    applyLimits(frame.limits, c);

    state.operators = new Map((frame.operators || []).filter((o) => o && typeof o.id === "number").map((o) => [o.id, o]));
    if (state.me && !state.operators.has(state.me.id)) state.operators.set(state.me.id, state.me);

    // Visitors: the snapshot replaces the list.
    for (const id of state.visitors.keys()) c.visitors.add(id);
    state.visitors = new Map();
    state.gone = new Set();
    for (const visitor of frame.visitors || []) {
      if (!visitor || typeof visitor.id !== "number" || visitor.online === false) continue;
      state.visitors.set(visitor.id, { ...visitor, lost: visitor.lost || null });
      c.visitors.add(visitor.id);
    }
    // Visitors of rooms still on screen who are not online any more have left the site.
    for (const room of state.rooms.values()) if (!state.visitors.has(room.visitor)) state.gone.add(room.visitor);

    // Rooms: the pool and my live rooms as the server has them now.
    const rooms = (frame.rooms || []).filter((r) => r && typeof r.id === "number");
    const seen = new Set(rooms.map((r) => r.id));
    for (const [id, room] of [...state.rooms]) {
      if (seen.has(id)) continue;
      if (state.tabs.has(id) && isMine(room)) {
        // My room ended while this panel was away: keep its tab (and transcript) until dismissed.
        if (room.status !== "expired") {
          state.rooms.set(id, { ...room, status: "expired", reason: room.reason || null, expires_at: null });
          c.tabs.add(id);
        }
        c.history.add(id);
      } else {
        forget(id, c);
      }
    }
    for (const room of rooms) applyRoom(room, false, c);
    for (const room of rooms) c.history.add(room.id);

    // My messages still unacknowledged: the same client_id again (stored once), or failed
    // for good when their chat has ended.
    for (const [clientId, pending] of state.pending) {
      const room = state.rooms.get(pending.room);
      if (!room || room.status === "expired") {
        sendFailed(clientId, "expired", c);
        continue;
      }
      pending.state = "sending";
      pending.error = null;
      c.pending.add(clientId);
      c.resend.push(clientId);
    }
    // Visitors, presence and rooms may all have moved while the panel was away: every pool
    // item and tab is drawn again.
    for (const [id, room] of state.rooms) if (room.status === "pending") c.pool.add(id);
    for (const id of state.tabs) c.tabs.add(id);
    keepCurrent(c);
    return c;
  }

  // A snapshot larger than one frame comes in parts (`snapshot`, then `snapshot_more` until one
  // says `"more": false`), before any event: they are put together and applied as one.
  let snapshotParts = null;
  function applySnapshotPart(frame) {
    if (frame.type === "snapshot") {
      snapshotParts = { ...frame };
      for (const name of SNAPSHOT_LISTS) snapshotParts[name] = Array.isArray(frame[name]) ? [...frame[name]] : [];
    } else if (snapshotParts) {
      for (const name of SNAPSHOT_LISTS) for (const item of Array.isArray(frame[name]) ? frame[name] : []) snapshotParts[name].push(item);
    } else {
      return emptyChanges(); // the rest of a snapshot whose start this panel never saw
    }
    if (frame.more === true) return emptyChanges();
    const whole = snapshotParts;
    snapshotParts = null;
    return applySnapshot(whole);
  }

  // ---------------------------------------------------------------- frames

  function applyEvent(frame) {
    if (!frame || typeof frame !== "object") return emptyChanges();
    if (frame.type === "snapshot" || frame.type === "snapshot_more") return applySnapshotPart(frame);
    const c = emptyChanges();
    switch (frame.type) {
      case "visitor":
        applyVisitor(frame.visitor, c);
        break;
      case "visitor_gone":
        applyVisitorGone(frame.visitor, c);
        break;
      case "visitor_lost":
        applyVisitorLost(frame, c);
        break;
      case "typing":
        applyTyping(frame, c);
        break;
      case "seen":
        applySeen(frame, c);
        break;
      case "room":
        applyRoom(frame.room, true, c);
        break;
      case "message":
        applyMessage(frame.message, true, c);
        break;
      case "history":
        applyHistory(frame, c);
        break;
      case "ack":
        applyAck(frame, c);
        break;
      case "operator":
        applyOperator(frame.operator, c);
        break;
      case "error":
        applyError(frame, c);
        break;
      default:
        break;
    }
    return c;
  }

  // ---------------------------------------------------------------- what the operator does

  // null when the body may be sent, else why not: "empty" or "too_long".
  function messageProblem(body) {
    if (typeof body !== "string" || !body.trim()) return "empty";
    const max = state.limits.message_length;
    if (max && body.length > max) return "too_long";
    return null;
  }

  // My message, shown as "sending…" until its ack (or its stored copy) arrives.
  function addPending({ room: roomId, body, clientId, at }) {
    const c = emptyChanges();
    const room = state.rooms.get(roomId);
    if (!room || room.status === "expired" || !state.tabs.has(roomId) || state.pending.has(clientId)) return c;
    const message = { room: roomId, sender: "operator", name: state.me ? state.me.name : "", body, at, client_id: clientId };
    state.pending.set(clientId, { room: roomId, message, state: "sending", error: null });
    c.pending.add(clientId);
    return c;
  }

  // The frame that sends a pending message (again: the same client_id, stored once), or null.
  function messageFrame(clientId) {
    const pending = state.pending.get(clientId);
    return pending ? { type: "message", room: pending.room, body: pending.message.body, client_id: clientId } : null;
  }

  // A failed message is being sent again: "sending…" once more.
  function resending(clientId) {
    const c = emptyChanges();
    const pending = state.pending.get(clientId);
    if (!pending) return c;
    pending.state = "sending";
    pending.error = null;
    c.pending.add(clientId);
    return c;
  }

  function selectRoom(roomId) {
    const c = emptyChanges();
    select(roomId, c);
    return c;
  }

  function setVisible(visible) {
    const c = emptyChanges();
    state.visible = Boolean(visible);
    if (state.visible && state.current !== null) clearUnread(state.current, c);
    return c;
  }

  // ---------------------------------------------------------------- reading

  function inPool(roomId) {
    const room = state.rooms.get(roomId);
    return Boolean(room && room.status === "pending");
  }

  function poolSize() {
    let n = 0;
    for (const room of state.rooms.values()) if (room.status === "pending") n += 1;
    return n;
  }

  function unreadTotal() {
    let n = 0;
    for (const count of state.unread.values()) n += count;
    return n;
  }

  function messagesOf(roomId) {
    const log = state.logs.get(roomId);
    return log ? [...log.messages.values()].sort((a, b) => a.id - b.id) : [];
  }

  // The request's question: its first visitor message, or, for a request back in the pool with
  // none of its own yet (R14), the last one of the conversation before it.
  function firstVisitorMessage(roomId) {
    const log = state.logs.get(roomId);
    if (!log) return null;
    let first = null;
    let earlier = null;
    for (const m of log.messages.values()) {
      if (m.sender !== "visitor") continue;
      if (m.room === roomId) {
        if (!first || m.id < first.id) first = m;
      } else if (!earlier || m.id > earlier.id) earlier = m;
    }
    return first || earlier;
  }

  // The visitor's name as the server spells it, once a message of theirs carries one.
  function visitorName(roomId) {
    const log = state.logs.get(roomId);
    if (!log) return "";
    for (const m of log.messages.values()) if (m.sender === "visitor" && m.name) return String(m.name);
    return "";
  }

  // Visitors newest first, as the visitors' table lists them after a snapshot.
  function visitorsNewestFirst() {
    return [...state.visitors.values()].sort((a, b) => parseTime(b.since) - parseTime(a.since));
  }

  return {
    state,
    applySnapshot,
    applyEvent,
    dropFromPool,
    dismiss,
    sendFailed: (clientId, code) => sendFailed(clientId, code),
    messageProblem,
    addPending,
    messageFrame,
    resending,
    selectRoom,
    setVisible,
    isMine,
    inPool,
    poolSize,
    unreadTotal,
    messagesOf,
    firstVisitorMessage,
    visitorName,
    visitorsNewestFirst,
    isTyping,
    unseenByMe,
    markSeenByMe,
    historyAfter: (roomId) => (state.logs.get(roomId) ? state.logs.get(roomId).synced : 0),
    get limits() {
      return state.limits;
    },
    get me() {
      return state.me;
    },
  };
}
