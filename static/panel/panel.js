// Minimal operator panel on the operator socket (SPEC §3). Visitor text is
// always put in the page with textContent, never as HTML.
(() => {
  "use strict";
  const state = { me: null, visitors: new Map(), rooms: new Map(), messages: new Map(), operators: new Map() };
  let socket = null;
  let retry = 0;

  const $ = (id) => document.getElementById(id);
  const el = (tag, text, attrs = {}) => {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    Object.assign(node, attrs);
    return node;
  };
  const send = (frame) => socket && socket.readyState === WebSocket.OPEN && socket.send(JSON.stringify(frame));

  function chatState(room) {
    if (!room) return "browsing";
    if (room.status === "pending") return "waiting in pool";
    const who = room.operator ? room.operator.name : "?";
    const inRoom = room.visitor_in_room ? "" : " (left the chat window)";
    return (room.status === "closing" ? "closing, " : "chatting with ") + who + inRoom;
  }

  function renderVisitors() {
    const body = $("visitors").tBodies[0];
    body.replaceChildren();
    for (const v of state.visitors.values()) {
      const row = el("tr");
      row.append(el("td", "Visitor " + v.id), el("td", (v.title || "") + " " + (v.url || "")),
        el("td", v.pages), el("td", chatState(v.room)));
      const action = el("td");
      if (!v.room || v.room.status === "pending") {
        const button = el("button", "Start chat");
        button.addEventListener("click", () => send({ type: "start", visitor: v.id }));
        action.append(button);
      }
      row.append(action);
      body.append(row);
    }
  }

  function renderRooms() {
    const pool = $("pool");
    const mine = $("rooms");
    pool.replaceChildren();
    mine.replaceChildren();
    for (const room of state.rooms.values()) {
      const log = state.messages.get(room.id) || [];
      if (room.status === "pending") {
        const item = el("li", "Visitor " + room.visitor + ": " + (log.length ? log[0].body : "(no message yet)") + " ");
        const accept = el("button", "Accept");
        accept.addEventListener("click", () => send({ type: "accept", room: room.id }));
        item.append(accept);
        pool.append(item);
        continue;
      }
      if (!room.operator || !state.me || room.operator.id !== state.me.id) continue;
      const box = el("div", null, { className: "room" });
      const status = room.status === "expired" ? "expired (" + room.reason + ")" : room.status;
      box.append(el("div", "Visitor " + room.visitor + " · " + status + (room.visitor_in_room ? "" : " · visitor left the chat window"), { className: "state" }));
      const list = el("div", null, { className: "log" });
      for (const m of log) list.append(el("div", m.name + ": " + m.body));
      box.append(list);
      if (room.status !== "expired") {
        const form = el("form");
        const input = el("input", null, { placeholder: "Message", maxLength: 4000 });
        form.append(input, el("button", "Send"));
        form.addEventListener("submit", (event) => {
          event.preventDefault();
          if (input.value.trim()) send({ type: "message", room: room.id, body: input.value, client_id: crypto.randomUUID() });
          input.value = "";
        });
        const toggle = el("button", room.status === "closing" ? "Reopen" : "Close", { type: "button" });
        toggle.addEventListener("click", () => send({ type: room.status === "closing" ? "reopen" : "close", room: room.id }));
        box.append(form, toggle);
      }
      mine.append(box);
    }
  }

  function renderOperators() {
    $("operators").textContent = [...state.operators.values()].filter((o) => o.online).map((o) => o.name).join(", ");
  }

  function addMessage(message) {
    const log = state.messages.get(message.room) || [];
    if (!log.some((m) => m.id === message.id)) log.push(message);
    log.sort((a, b) => a.id - b.id);
    state.messages.set(message.room, log);
  }

  function handle(event) {
    switch (event.type) {
      case "snapshot":
        state.me = event.operator;
        state.visitors = new Map(event.visitors.map((v) => [v.id, v]));
        state.rooms = new Map(event.rooms.map((r) => [r.id, r]));
        state.operators = new Map(event.operators.map((o) => [o.id, o]));
        for (const room of event.rooms) {
          const known = state.messages.get(room.id) || [];
          send({ type: "history", room: room.id, after: known.length ? known[known.length - 1].id : 0 });
        }
        break;
      case "visitor": state.visitors.set(event.visitor.id, event.visitor); break;
      case "visitor_gone": state.visitors.delete(event.visitor); break;
      case "room": state.rooms.set(event.room.id, event.room); break;
      case "message": addMessage(event.message); break;
      case "history": event.messages.forEach(addMessage); break;
      case "operator": state.operators.set(event.operator.id, event.operator); break;
      case "error": console.warn("White Panel:", event.code, event.detail); break;
    }
    renderVisitors();
    renderRooms();
    renderOperators();
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/operator/");
    socket.addEventListener("open", () => { retry = 0; $("status").textContent = "online"; });
    socket.addEventListener("message", (event) => handle(JSON.parse(event.data)));
    socket.addEventListener("close", (event) => {
      $("status").textContent = "offline";
      if (event.code === 4001) { location.href = "/operators/login/"; return; }
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 500 * 2 ** retry * (0.5 + Math.random()));
    });
  }
  connect();
})();
