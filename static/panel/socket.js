// The operator socket (docs/protocol.md): connects, reconnects with backoff, keeps a
// quiet connection alive with pings, and matches each answer to the request it answers.
//
// The server answers every request, with its answer or with an `error` that says which
// request it answers (`for`: the request's type, plus its `client_id`, `room` or
// `visitor`). So answers are matched by what they carry, never by their order: a
// `history` answer may come after the `ack` of a message sent later.
//
// The WebSocket constructor and the clock are passed in, so Node's test runner can drive
// this module with a fake socket and a fake clock.

export const CLOSE_LOGGED_OUT = 4001;

const OPEN = 1; // WebSocket.OPEN

// For each request type: the type of its answer, and whether a frame of that type answers
// this request. Events of the same type may come first (a `room` event about the room an
// `accept` is waiting for, before the answer): only the frame that settles it counts.
export const ANSWERS = {
  accept: { type: "room", matches: (request, frame) => Boolean(frame.room) && frame.room.id === request.room && frame.room.status === "active" },
  start: { type: "room", matches: (request, frame) => Boolean(frame.room) && frame.room.visitor === request.visitor && frame.room.status === "active" },
  close: { type: "room", matches: (request, frame) => Boolean(frame.room) && frame.room.id === request.room && frame.room.status === "closing" },
  reopen: { type: "room", matches: (request, frame) => Boolean(frame.room) && frame.room.id === request.room && frame.room.status === "active" },
  // Handed over: to that operator, or back to the pool (operator null).
  transfer: {
    type: "room",
    matches: (request, frame) =>
      Boolean(frame.room) &&
      frame.room.id === request.room &&
      (request.operator === null ? frame.room.status === "pending" : Boolean(frame.room.operator) && frame.room.operator.id === request.operator),
  },
  message: { type: "ack", matches: (request, frame) => frame.client_id === request.client_id },
  note: { type: "ack", matches: (request, frame) => frame.client_id === request.client_id },
  history: { type: "history", matches: (request, frame) => frame.room === request.room },
  ping: { type: "pong", matches: () => true },
  // Available, away or busy (issue 23): my own operator, as it now is.
  ban: { type: "ban", matches: (request, frame) => Boolean(frame.ban) && frame.ban.visitor === request.visitor },
  status: { type: "operator", matches: (request, frame) => Boolean(frame.operator) && frame.operator.status === request.status },
};

// The fields of a request that the server copies into an error answering it.
const ECHOED = ["client_id", "room", "visitor"];

export function errorAnswers(request, error) {
  if (error.for !== request.type) return false;
  return ECHOED.every((name) => !(name in error) || error[name] === request[name]);
}

// Why a request did not get its answer: `code` is the server's error code, or one of
// "offline" (not sent: no open socket), "disconnected" (the socket closed before the
// answer), "too_big" (the frame is over the server's frame limit; not sent).
export class RequestError extends Error {
  constructor(code, { request = null, frame = null } = {}) {
    super(frame && frame.detail ? String(frame.detail) : code);
    this.name = "RequestError";
    this.code = code;
    this.request = request;
    this.frame = frame;
  }
}

const defaultClock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
  now: () => Date.now(),
};

export function createSocket({
  url,
  WebSocket,
  clock = defaultClock,
  random = Math.random,
  pingAfterMs = 25000, // ping a quiet socket this often
  pongWithinMs = 20000, // no frame at all by then after a ping: the socket is dead
  checkEveryMs = 5000,
  // The frame that says the connection is in use: the snapshot's last part (docs/protocol.md).
  isReady = (frame) => (frame.type === "snapshot" || frame.type === "snapshot_more") && frame.more !== true,
  maxFrameBytes = () => 0, // the server's limit (0: unknown)
  onFrame = () => {},
  onStatus = () => {},
  onUnmatchedError = () => {},
  onLoggedOut = () => {},
  onRefused = () => {},
  log = console,
}) {
  let socket = null;
  let attempt = 0;
  let retryTimer = null;
  let heartbeatTimer = null;
  let leaving = false;
  let stopped = false;
  let lastFrameAt = 0;
  let lastSentAt = 0;
  let pingSentAt = 0;
  let waiting = []; // requests sent on this socket, oldest first: {frame, accepts, resolve, reject}
  let status = { state: "connecting", attempt: 0, retryAt: 0 };

  function setStatus(next) {
    status = next;
    onStatus(status);
  }

  const isOpen = () => Boolean(socket) && socket.readyState === OPEN;

  function failAll(code) {
    const failed = waiting;
    waiting = [];
    for (const entry of failed) entry.reject(new RequestError(code, { request: entry.frame }));
  }

  function connect() {
    clock.clearTimeout(retryTimer);
    retryTimer = null;
    if (leaving || stopped) return;
    setStatus({ state: "connecting", attempt, retryAt: 0 });
    let ws;
    try {
      ws = new WebSocket(typeof url === "function" ? url() : url);
    } catch (error) {
      log.warn("White Panel: cannot open the socket", error);
      scheduleReconnect(false);
      return;
    }
    socket = ws;
    failAll("disconnected");
    pingSentAt = 0;
    let opened = false;
    ws.addEventListener("open", () => {
      if (ws !== socket) return;
      opened = true;
      lastFrameAt = clock.now();
      lastSentAt = clock.now();
    });
    ws.addEventListener("message", (event) => {
      if (ws !== socket) return;
      lastFrameAt = clock.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!frame || typeof frame !== "object" || Array.isArray(frame)) return;
      receive(frame);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== socket) return;
      socket = null;
      failAll("disconnected");
      if (event.code === CLOSE_LOGGED_OUT) {
        // The operator logged out (here or in another tab): the session is over. Logged out
        // from this page, its form's own navigation is on its way: a second one would abort it.
        const here = leaving;
        leaving = true;
        setStatus({ state: "offline", attempt, retryAt: 0 });
        if (!here) onLoggedOut();
        return;
      }
      if (leaving || stopped) return;
      scheduleReconnect(opened);
    });
    if (!heartbeatTimer) heartbeatTimer = clock.setTimeout(heartbeat, checkEveryMs);
  }

  function receive(frame) {
    if (isReady(frame)) {
      attempt = 0;
      setStatus({ state: "online", attempt: 0, retryAt: 0 });
    }
    try {
      onFrame(frame);
    } catch (error) {
      log.error("White Panel: could not apply a frame", frame.type, error);
    }
    settle(frame);
  }

  // The oldest waiting request this frame answers, if any, gets it.
  function settle(frame) {
    let index;
    if (frame.type === "error") {
      index = waiting.findIndex((entry) => errorAnswers(entry.frame, frame));
      if (index < 0) {
        onUnmatchedError(frame);
        return;
      }
    } else {
      index = waiting.findIndex((entry) => {
        const answer = ANSWERS[entry.frame.type];
        return answer.type === frame.type && answer.matches(entry.frame, frame) && (!entry.accepts || entry.accepts(frame));
      });
      if (index < 0) return;
    }
    const [entry] = waiting.splice(index, 1);
    if (frame.type === "error") entry.reject(new RequestError(String(frame.code || "error"), { request: entry.frame, frame }));
    else entry.resolve(frame);
  }

  // Sends the frame; resolves with its answer, rejects with a RequestError.
  // `accepts(answer)`: a further check on the answer (e.g. that the room is mine).
  function request(frame, { accepts = null } = {}) {
    if (!ANSWERS[frame.type]) return Promise.reject(new TypeError("no answer is known for a '" + frame.type + "' frame"));
    if (!isOpen()) return Promise.reject(new RequestError("offline", { request: frame }));
    const text = JSON.stringify(frame);
    const max = maxFrameBytes();
    if (max && new TextEncoder().encode(text).length > max) return Promise.reject(new RequestError("too_big", { request: frame }));
    return new Promise((resolve, reject) => {
      waiting.push({ frame, accepts, resolve, reject });
      socket.send(text);
      lastSentAt = clock.now();
    });
  }

  function scheduleReconnect(opened) {
    clock.clearTimeout(retryTimer);
    attempt += 1;
    // Exponential backoff with jitter: 0.5 s, 1 s, 2 s … up to 30 s, each 50–100 %.
    const ceiling = Math.min(30000, 500 * 2 ** (attempt - 1));
    const delay = Math.round(ceiling / 2 + random() * (ceiling / 2));
    retryTimer = clock.setTimeout(connect, delay);
    setStatus({ state: "reconnecting", attempt, retryAt: clock.now() + delay });
    // A refused handshake (e.g. the session expired) looks like a network error:
    // let the page ask whether the operator is still signed in.
    if (!opened && attempt >= 2) onRefused();
  }

  function heartbeat() {
    heartbeatTimer = stopped ? null : clock.setTimeout(heartbeat, checkEveryMs);
    if (!isOpen()) return;
    const now = clock.now();
    const unanswered = pingSentAt && lastFrameAt < pingSentAt;
    if (unanswered && now - pingSentAt > pongWithinMs) {
      // Not even a pong: the connection is dead (a half-open TCP connection). Start over.
      const dead = socket;
      socket = null;
      pingSentAt = 0;
      failAll("disconnected");
      try {
        dead.close();
      } catch {
        /* already closing */
      }
      scheduleReconnect(true);
      return;
    }
    // One ping at a time: a second one would restart the wait for the first one's pong.
    if (!unanswered && now - lastFrameAt > pingAfterMs && now - lastSentAt > pingAfterMs / 2) {
      pingSentAt = now;
      request({ type: "ping" }).catch((error) => {
        if (error.frame) log.warn("White Panel: ping", error.code, error.frame.detail);
      });
    }
  }

  // Try at once (the network is back, the operator clicked the status): one step back on
  // the backoff, so a server that is still down is not asked faster and faster.
  function reconnectNow() {
    if (socket || leaving || stopped) return;
    attempt = Math.max(0, attempt - 1);
    connect();
  }

  // Sends a frame no answer comes for (typing, seen): false when there is no connection, and
  // it is not sent again (the next one says the same, newer).
  function notify(frame) {
    if (!isOpen()) return false;
    socket.send(JSON.stringify(frame));
    lastSentAt = clock.now();
    return true;
  }

  return {
    connect,
    request,
    notify,
    reconnectNow,
    // The page is going away (logout, navigation): no reconnect when the socket closes.
    leave() {
      leaving = true;
    },
    // Back from the back-forward cache: connect again.
    resume() {
      leaving = false;
      if (!socket) connect();
    },
    // For tests: no timers left behind.
    stop() {
      stopped = true;
      clock.clearTimeout(retryTimer);
      clock.clearTimeout(heartbeatTimer);
      retryTimer = heartbeatTimer = null;
      if (socket) {
        const ws = socket;
        socket = null;
        failAll("disconnected");
        ws.close();
      }
    },
    get open() {
      return isOpen();
    },
    get connected() {
      return Boolean(socket);
    },
    get leaving() {
      return leaving;
    },
    get status() {
      return status;
    },
    get waiting() {
      return waiting.length;
    },
  };
}
