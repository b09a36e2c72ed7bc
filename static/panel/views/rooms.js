// My chats: a tab and a panel per room (header, signal, transcript, composer), keyed by
// room id; messages keyed by id, my unacknowledged ones by client_id.

import { ERROR_TEXT, clockTime, contactText, countdown, fileSize, fullTime, parseTime, str, visitorLabel } from "../format.js";
import { t } from "../i18n.js";
import { acceptAttribute } from "../uploads.js";
import { contactNodes, fileBadge, fileNode, h, linkedText, paperclip, pathNode, setText } from "./dom.js";

const REASONS = {
  operator_closed: t("closed by you"),
  operator_logout: t("you logged out"),
  operator_timeout: t("timed out"),
  visitor_left: t("visitor left"),
  ended_by_admin: t("ended in admin"),
  banned: t("visitor blocked"),
};
const PLACEHOLDER = t("Type a message — Enter to send, Shift+Enter for a new line");
const NOTE_PLACEHOLDER = t("Internal note — only operators see it");
const HOLD_MS = 5000; // Close / Reopen stay disabled this long, or until the room changes

// dom: {tabs, rooms, empty}; actions: {select(roomId, {focus}), roomAction(type, roomId),
// dismiss(roomId), send(roomId, body) → true when taken, retry(clientId), composer(textarea, roomId),
// upload(roomId, file): a file chosen, dropped or pasted (issue 23)}.
export function createRoomsView({ store, dom, actions }) {
  const views = new Map(); // room id → tab + panel record
  const pendingNodes = new Map(); // client_id → list item of a message not acknowledged yet
  const uploads = new Map(); // upload key → {room, li, bar, note, buttons}: files on their way (issue 23)

  // ---------------------------------------------------------------- messages

  // `roomId`: the tab it is shown in; a message of the visitor's earlier room (R15) is dimmed.
  function messageNode(m, sendState, roomId = m.room) {
    const sender = ["visitor", "operator", "system", "note"].includes(m.sender) ? m.sender : "system";
    const at = parseTime(m.at);
    if (sender === "system") return systemNode(m, at, roomId);
    const meta = h(
      "div",
      { class: "msg-meta" },
      h("span", { class: "msg-name", dir: "auto", text: (sender === "note" ? t("Note") + " · " : "") + (str(m.name) || (sender === "visitor" ? t("Visitor") : t("Operator"))) }),
      h("time", { class: "msg-time", text: clockTime(m.at), dateTime: str(m.at), title: fullTime(at) }),
    );
    const li = h(
      "li",
      { class: "msg msg-" + (sender === "note" ? "internal" : sender) + (m.room !== roomId ? " msg-earlier" : ""), testid: "message", dataset: { sender, room: String(m.room) } },
      meta,
      // A file's caption may be empty (issue 23): then only the file.
      str(m.body) || !m.file ? h("div", { class: "msg-body", testid: "message-body", dir: "auto" }, ...linkedText(m.body)) : null,
      fileNode(m.file),
    );
    const me = store.me;
    if (sender === "operator" && me && m.name === me.name) li.classList.add("msg-self");
    if (typeof m.id === "number") li.dataset.messageId = String(m.id);
    const room = store.state.rooms.get(roomId);
    if (sender === "operator" && typeof m.id === "number" && room && m.id <= (room.visitor_seen || 0)) meta.append(seenMark());
    if (sendState) {
      li.dataset.state = sendState;
      li.classList.add("msg-self");
      meta.append(h("span", { class: "msg-note", testid: "message-state", text: t("sending…") }));
    }
    return li;
  }

  // "Seen" on my messages the visitor has seen (issue 23): marks only move forward.
  const seenMark = () => h("span", { class: "msg-seen", testid: "message-seen", text: t("Seen") });
  function markSeen(ui, upTo) {
    if (upTo <= ui.seenUpTo) return;
    for (const li of ui.transcript.querySelectorAll("li[data-sender=operator][data-message-id]")) {
      const id = Number(li.dataset.messageId);
      if (id > ui.seenUpTo && id <= upTo && !li.querySelector(".msg-seen")) li.firstChild.append(seenMark());
    }
    ui.seenUpTo = upTo;
  }

  // Who was there when (R15: joined, closed, left the window…): a muted line across the
  // transcript, not a bubble. Its text is the server's English (`event` says what it records).
  function systemNode(m, at, roomId) {
    return h(
      "li",
      {
        class: "msg msg-system" + (m.room !== roomId ? " msg-earlier" : ""),
        testid: "message",
        dataset: { sender: "system", event: str(m.event), room: String(m.room), messageId: String(m.id) },
      },
      h("span", { class: "msg-body", testid: "message-body", dir: "auto", text: str(m.body) }),
      h("time", { class: "msg-time", text: clockTime(m.at), dateTime: str(m.at), title: fullTime(at) }),
    );
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

  function addStored(ui, roomId, id) {
    if (ui.messages.has(id)) return;
    const log = store.state.logs.get(roomId);
    const m = log && log.messages.get(id);
    if (!m) return;
    const li = messageNode(m, undefined, roomId);
    ui.messages.set(id, li);
    placeMessage(ui, li, id);
  }

  function renderPending(clientId) {
    const pending = store.state.pending.get(clientId);
    let li = pendingNodes.get(clientId);
    if (!pending) {
      if (li) li.remove();
      pendingNodes.delete(clientId);
      return;
    }
    const ui = views.get(pending.room);
    if (!li) {
      li = messageNode(pending.message, "sending");
      li.dataset.clientId = clientId;
      pendingNodes.set(clientId, li);
      if (ui) {
        ui.transcript.append(li);
        scrollToEnd(ui, true);
      }
    }
    const note = li.querySelector(".msg-note");
    li.dataset.state = pending.state;
    if (pending.state !== "failed") {
      note.replaceChildren(t("sending…"));
      return;
    }
    const code = pending.error;
    note.replaceChildren(code === "expired" ? t("not sent: the chat has ended") : t("not sent ({reason})", { reason: ERROR_TEXT[code] || code }));
    const room = store.state.rooms.get(pending.room);
    if (room && room.status !== "expired") {
      note.append(" ", h("button", { type: "button", class: "link", testid: "retry", text: t("Retry"), onclick: () => actions.retry(clientId) }));
    }
  }

  // ---------------------------------------------------------------- files on their way (issue 23)

  // A file being sent: its name, a progress bar and Cancel, at the end of the transcript until
  // the server has it (then its message takes its place) or refuses it (then why, and Dismiss).
  function uploadStarted(roomId, key, file, cancel) {
    const ui = views.get(roomId);
    if (!ui) return;
    const bar = h("progress", { class: "upload-bar", testid: "upload-progress", max: 1, value: 0 });
    const note = h("span", { class: "msg-note", testid: "upload-state", text: "sending…" });
    const buttons = h("span", { class: "upload-actions" });
    if (cancel) buttons.append(h("button", { type: "button", class: "link", testid: "upload-cancel", text: t("Cancel"), onclick: cancel }));
    const size = fileSize(file.size);
    const li = h(
      "li",
      { class: "msg msg-operator msg-self msg-upload", testid: "upload", dataset: { state: "sending", uploadKey: key } },
      h("div", { class: "msg-meta" }, note, buttons),
      h(
        "div",
        { class: "msg-body" },
        fileBadge(file.name),
        h("bdi", { class: "file-name", testid: "upload-name", text: str(file.name) || "file" }),
        size ? h("span", { class: "file-size", text: size }) : null,
        bar,
      ),
    );
    uploads.set(key, { room: roomId, li, bar, note, buttons });
    ui.transcript.append(li);
    scrollToEnd(ui, true);
  }

  function uploadProgress(key, sent, total) {
    const upload = uploads.get(key);
    if (!upload || !(total > 0)) return;
    upload.bar.value = Math.min(1, sent / total);
    setText(upload.note, sent >= total ? "processing…" : "sending… " + Math.floor((100 * sent) / total) + "%");
  }

  function uploadDone(key) {
    const upload = uploads.get(key);
    if (!upload) return;
    upload.li.remove();
    uploads.delete(key);
  }

  function uploadFailed(key, text) {
    const upload = uploads.get(key);
    if (!upload) return;
    upload.li.dataset.state = "failed";
    upload.bar.remove();
    setText(upload.note, "not sent: " + text);
    upload.note.setAttribute("role", "alert");
    upload.buttons.replaceChildren(h("button", { type: "button", class: "link", testid: "upload-dismiss", text: t("Dismiss"), onclick: () => uploadDone(key) }));
  }

  function nearEnd(ui) {
    const list = ui.transcript;
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function scrollToEnd(ui, force) {
    if (force || nearEnd(ui)) ui.transcript.scrollTop = ui.transcript.scrollHeight;
  }

  // ---------------------------------------------------------------- tabs and panels

  function build(room) {
    const id = room.id;
    const ui = { messages: new Map() };
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
        onclick: () => actions.select(id, { focus: true }),
      },
      ui.tabDot,
      ui.tabName,
      ui.unread,
    );

    ui.title = h("h3", { class: "room-title", text: visitorLabel(room.visitor) });
    ui.page = h("div", { class: "room-page", testid: "room-visitor-page" });
    ui.contact = h("div", { class: "room-contact", testid: "room-contact", hidden: true });
    ui.status = h("span", { class: "room-status", testid: "room-status" });
    ui.countdown = h("span", { class: "countdown num", testid: "countdown", hidden: true, role: "timer" });
    ui.typing = h("span", { class: "room-typing", testid: "room-typing", text: t("typing…"), hidden: true });
    ui.seenUpTo = 0; // my messages up to this id carry "Seen"
    ui.signal = h("div", { class: "room-signal", testid: "room-signal", hidden: true, role: "status" });
    ui.rating = h("div", { class: "room-rating", testid: "room-rating", hidden: true });
    ui.close = h("button", { type: "button", class: "ghost", testid: "close-room", text: t("Close chat"), onclick: () => actions.roomAction("close", id) });
    ui.reopen = h("button", { type: "button", class: "primary", testid: "reopen-room", text: t("Reopen"), hidden: true, onclick: () => actions.roomAction("reopen", id) });
    ui.dismiss = h("button", { type: "button", class: "ghost", testid: "dismiss-room", text: t("Dismiss"), hidden: true, onclick: () => actions.dismiss(id) });
    // Who the visitor is (issue 23): a column beside the transcript, read when the room opens.
    ui.info = actions.visitorInfo ? actions.visitorInfo(room.visitor) : null;
    ui.infoToggle = h("button", {
      type: "button",
      class: "ghost info-toggle",
      testid: "info-toggle",
      text: t("Visitor info"),
      hidden: !ui.info,
      onclick: () => setInfoShown(!infoShown()),
    });
    // Hand the chat to a colleague online now, or back to the pool: the choices are read when
    // the list is opened, so they are the operators online at that moment.
    ui.transfer = h("select", { class: "transfer", testid: "transfer-to", "aria-label": t("Transfer this chat") });
    const transferChoices = () => {
      const options = [h("option", { value: "", text: t("Transfer…") }), h("option", { value: "pool", text: t("Back to the pool") })];
      for (const operator of store.state.operators.values()) {
        if (operator.online && (!store.me || operator.id !== store.me.id)) {
          options.push(h("option", { value: String(operator.id), text: t("To {name}", { name: str(operator.name) || t("operator {id}", { id: operator.id }) }) }));
        }
      }
      ui.transfer.replaceChildren(...options);
    };
    transferChoices();
    ui.transfer.addEventListener("focus", transferChoices);
    ui.transfer.addEventListener("change", () => {
      const choice = ui.transfer.value;
      ui.transfer.value = "";
      if (choice) actions.transfer(id, choice === "pool" ? null : Number(choice));
    });
    // New messages are read out politely, once each (not what is typed, not the whole list again).
    ui.transcript = h("ol", { class: "transcript", testid: "transcript", "aria-live": "polite", "aria-relevant": "additions", "aria-label": t("Transcript") });
    ui.input = h("textarea", {
      class: "composer-input",
      testid: "message-input",
      rows: 2,
      placeholder: PLACEHOLDER,
      "aria-label": t("Message"),
    });
    applyLimit(ui);
    ui.send = h("button", { type: "submit", class: "primary", testid: "send", text: t("Send") });
    ui.form = h("form", { class: "composer" }, ui.input, ui.send);
    // An internal note instead of a message (issue 23): operators only, never the visitor.
    ui.noteMode = false;
    ui.noteToggle = h("button", {
      type: "button",
      class: "ghost note-toggle",
      testid: "note-toggle",
      text: t("Note"),
      title: t("Write an internal note: only operators see it"),
      "aria-pressed": "false",
      onclick: () => {
        ui.noteMode = !ui.noteMode;
        ui.noteToggle.setAttribute("aria-pressed", String(ui.noteMode));
        ui.form.classList.toggle("note-mode", ui.noteMode);
        ui.input.placeholder = ui.noteMode ? NOTE_PLACEHOLDER : PLACEHOLDER;
        ui.attach.disabled = ui.noteMode || store.state.rooms.get(id)?.status === "expired";
        ui.input.focus();
      },
    });
    ui.form.prepend(ui.noteToggle);
    // Files and images (issue 23): chosen with Attach, dropped on the chat, or pasted in the
    // composer; each is sent at once as a message of its own. Not in a note: notes carry none.
    ui.fileInput = h("input", { type: "file", class: "file-input", testid: "file-input", multiple: true, tabIndex: -1, "aria-hidden": "true" });
    ui.attach = h(
      "button",
      {
        type: "button",
        class: "ghost attach",
        testid: "attach",
        title: t("Send a file or an image (or drop it on the chat, or paste it)"),
        "aria-label": t("Attach a file"),
        onclick: () => ui.fileInput.click(),
      },
      paperclip(),
    );
    ui.form.prepend(ui.attach, ui.fileInput);
    applyUploadLimit(ui);
    const canUpload = () => {
      const room = store.state.rooms.get(id);
      return Boolean(actions.upload) && !ui.noteMode && !ui.attach.hidden && room && room.status !== "expired";
    };
    const sendFiles = (list) => {
      for (const file of list) actions.upload(id, file);
    };
    ui.fileInput.addEventListener("change", () => {
      const chosen = [...ui.fileInput.files];
      ui.fileInput.value = "";
      if (canUpload()) sendFiles(chosen);
    });
    ui.input.addEventListener("paste", (event) => {
      const pasted = event.clipboardData ? [...event.clipboardData.files] : [];
      if (!pasted.length || !canUpload()) return;
      event.preventDefault();
      sendFiles(pasted);
    });
    const submit = () => {
      if (ui.noteMode) {
        if (actions.note && ui.input.value.trim()) {
          actions.note(id, ui.input.value);
          ui.input.value = "";
          saveDraft(id, "");
          renderCounter(ui);
        }
        return;
      }
      if (actions.send(id, ui.input.value)) {
        ui.input.value = "";
        saveDraft(id, "");
        renderCounter(ui);
      }
    };
    ui.form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit();
    });
    // What is typed and not sent survives a reload (issue 23), per room, in this browser only.
    ui.input.value = loadDraft(id);
    ui.counter = h("span", { class: "composer-counter", testid: "composer-counter", hidden: true, "aria-live": "polite" });
    ui.form.append(ui.counter);
    renderCounter(ui);
    ui.input.addEventListener("input", () => {
      if (ui.input.value.trim() && actions.typing) actions.typing(id);
      saveDraft(id, ui.input.value);
      renderCounter(ui);
    });
    // Before the composer's own keys: canned replies' suggestions take Enter while they show.
    if (actions.composer) actions.composer(ui.input, id);
    ui.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
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
        h("div", { class: "room-who" }, ui.title, ui.contact, ui.page),
        h("div", { class: "room-state" }, ui.status, ui.countdown, ui.typing),
        h("div", { class: "room-actions" }, ui.infoToggle, ui.transfer, ui.reopen, ui.close, ui.dismiss),
      ),
      h("div", { class: "room-body" }, h("div", { class: "room-main" }, ui.signal, ui.rating, ui.transcript, ui.form), ui.info ? ui.info.node : null),
    );
    const carriesFiles = (event) => Boolean(event.dataTransfer) && [...event.dataTransfer.types].includes("Files");
    ui.panel.addEventListener("dragover", (event) => {
      if (!carriesFiles(event) || !canUpload()) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      ui.panel.classList.add("drop-target");
    });
    ui.panel.addEventListener("dragleave", (event) => {
      if (!ui.panel.contains(event.relatedTarget)) ui.panel.classList.remove("drop-target");
    });
    ui.panel.addEventListener("drop", (event) => {
      ui.panel.classList.remove("drop-target");
      if (!carriesFiles(event)) return;
      event.preventDefault();
      if (canUpload()) sendFiles([...event.dataTransfer.files]);
    });
    showInfo(ui);
    if (ui.info) ui.info.load();
    views.set(id, ui);
    dom.tabs.append(ui.tab);
    dom.rooms.append(ui.panel);
    // Messages seen while the room was in the pool, and mine still unsent.
    for (const m of store.messagesOf(id)) {
      const li = messageNode(m, undefined, id);
      ui.messages.set(m.id, li);
      ui.transcript.append(li);
    }
    for (const [clientId, pending] of store.state.pending) {
      if (pending.room !== id) continue;
      renderPending(clientId);
      const li = pendingNodes.get(clientId);
      if (li && li.parentNode !== ui.transcript) ui.transcript.append(li);
    }
    scrollToEnd(ui, true);
    return ui;
  }

  // The visitor side panel, shown or folded away in every room alike; remembered in this browser.
  const INFO_KEY = "whitepanel.visitor-info";
  function infoShown() {
    try {
      return localStorage.getItem(INFO_KEY) !== "hidden";
    } catch {
      return true;
    }
  }
  function setInfoShown(on) {
    try {
      if (on) localStorage.removeItem(INFO_KEY);
      else localStorage.setItem(INFO_KEY, "hidden");
    } catch {
      /* refused: this page only */
    }
    for (const ui of views.values()) showInfo(ui, on);
  }
  function showInfo(ui, on = infoShown()) {
    if (!ui.info) return;
    ui.info.node.hidden = !on;
    ui.infoToggle.setAttribute("aria-expanded", String(on));
    ui.infoToggle.classList.toggle("on", on);
  }

  // The longest message the server takes (its limit, not ours).
  const draftKey = (roomId) => "whitepanel.draft." + roomId;
  function loadDraft(roomId) {
    try {
      return localStorage.getItem(draftKey(roomId)) || "";
    } catch {
      return "";
    }
  }
  function saveDraft(roomId, text) {
    try {
      if (text) localStorage.setItem(draftKey(roomId), text);
      else localStorage.removeItem(draftKey(roomId));
    } catch {
      /* storage full or refused: the draft lives as long as the page */
    }
  }

  // Near the length limit, how much is left: not a silent cut at the limit.
  function renderCounter(ui) {
    const max = store.limits.message_length;
    const length = ui.input.value.length;
    const near = Boolean(max) && length > max * 0.9;
    ui.counter.hidden = !near;
    if (near) setText(ui.counter, `${length} / ${max}`);
    ui.counter.classList.toggle("full", near && length >= max);
  }

  function applyLimit(ui) {
    const max = store.limits.message_length;
    if (max) ui.input.maxLength = max;
    else ui.input.removeAttribute("maxlength");
    if (ui.attach) applyUploadLimit(ui);
  }

  // No Attach on a server that takes no files (its snapshot says so).
  function applyUploadLimit(ui) {
    const types = store.limits.upload_types;
    ui.attach.hidden = !actions.upload || (Array.isArray(types) && types.length === 0);
    ui.fileInput.accept = acceptAttribute(store.limits);
  }

  function remove(roomId) {
    const ui = views.get(roomId);
    if (!ui) return;
    saveDraft(roomId, "");
    ui.tab.remove();
    ui.panel.remove();
    if (ui.info) ui.info.stop();
    views.delete(roomId);
    for (const [key, upload] of uploads) if (upload.room === roomId) uploads.delete(key);
  }

  function renderRoom(roomId) {
    const room = store.state.rooms.get(roomId);
    const ui = views.get(roomId) || build(room);
    const visitor = store.state.visitors.get(room.visitor);
    const goneFromSite = store.state.gone.has(room.visitor) || (room.status === "expired" && room.reason === "visitor_left");

    // Who and where.
    if (visitor) {
      const title = str(visitor.title);
      const url = str(visitor.url);
      const key = title + "\u0000" + url;
      if (ui.pageKey !== key) {
        ui.pageKey = key;
        ui.page.replaceChildren(h("span", { class: "page-title", dir: "auto", text: title || t("(no title)") }), " ", pathNode(url, null, "url"));
      }
      // A page event: the side panel's trail and time read again (a burst of them, once).
      const trailKey = url + "\u0000" + visitor.pages + "\u0000" + visitor.since;
      if (ui.info && ui.trailKey !== undefined && ui.trailKey !== trailKey) ui.info.refresh();
      ui.trailKey = trailKey;
    } else if (ui.pageKey !== "-") {
      if (ui.info && ui.pageKey !== undefined) ui.info.refresh(); // they left: the panel says so
      ui.pageKey = "-";
      ui.page.replaceChildren(h("span", { class: "muted", text: goneFromSite ? t("Not on the site") : t("Page unknown") }));
    }

    // The name and email they left (R16).
    const contact = contactText(room.contact);
    if (ui.contactText !== contact) {
      ui.contactText = contact;
      ui.contact.replaceChildren(...contactNodes(room.contact));
    }
    ui.contact.hidden = !contact;

    // Status, countdown and actions.
    let status;
    if (room.status === "active") status = t("Active");
    else if (room.status === "closing") status = t("Closing");
    else if (room.status === "expired") status = t("Expired: {reason}", { reason: REASONS[room.reason] || t("ended while you were away") });
    else status = str(room.status);
    setText(ui.status, status);
    // "typing…" while the visitor types (issue 23), gone a few seconds after their last keystroke.
    const typing = store.isTyping(roomId);
    ui.typing.hidden = !typing;
    clearTimeout(ui.typingTimer);
    if (typing) ui.typingTimer = setTimeout(() => views.has(roomId) && renderRoom(roomId), 6100);
    markSeen(ui, room.visitor_seen || 0);
    // The visitor's rating of this chat (issue 23), their comment as their text.
    const ratingKey = room.rating ? room.rating + "\u0000" + str(room.rating_comment) : "";
    if (ui.ratingKey !== ratingKey) {
      ui.ratingKey = ratingKey;
      ui.rating.hidden = !room.rating;
      if (room.rating) {
        const stars = "★".repeat(room.rating) + "☆".repeat(Math.max(0, 5 - room.rating));
        ui.rating.replaceChildren(
          h("span", { class: "stars", text: stars, "aria-label": t("Rated {rating} of 5", { rating: room.rating }) }),
          ...(room.rating_comment ? [" ", h("bdi", { class: "rating-comment", text: "“" + str(room.rating_comment) + "”" })] : []),
        );
      }
    }
    ui.status.dataset.state = room.status;
    ui.panel.dataset.status = room.status;
    ui.tab.dataset.status = room.status;
    ui.countdown.hidden = room.status !== "closing";
    updateCountdown(ui, room, Date.now());
    ui.close.hidden = room.status !== "active";
    ui.transfer.hidden = room.status === "expired";
    ui.reopen.hidden = room.status !== "closing";
    ui.dismiss.hidden = room.status !== "expired";
    if (room.status !== "closing") ui.reopen.disabled = false;
    if (room.status !== "active") ui.close.disabled = false;

    const expired = room.status === "expired";
    ui.input.disabled = expired;
    ui.send.disabled = expired;
    ui.attach.disabled = expired || ui.noteMode;
    // A room event while the Note switch is on (the visitor opening the window) keeps its words.
    ui.input.placeholder = expired ? t("This chat has ended.") : ui.noteMode ? NOTE_PLACEHOLDER : PLACEHOLDER;

    // The signal: what the operator should know about the visitor right now.
    let signal = "";
    let kind = "";
    const email = room.contact ? str(room.contact.email) : "";
    if (goneFromSite && room.offline_at && !expired) {
      // An offline request outlives its visitor's visit (R16): the answer goes by email.
      signal = email
        ? t("Visitor left the site: what you write is emailed to {email}", { email })
        : t("Visitor left the site without leaving an email: close the chat when you are done");
      kind = "left-site";
    } else if (goneFromSite) {
      signal = t("Visitor left the site");
      kind = "left-site";
    } else if (expired) {
      signal = t("This chat has expired: messages can no longer be sent. The visitor's next message goes to the pool.");
      kind = "expired";
    } else if (visitor && visitor.lost) {
      signal = t("Connection lost — the visitor may have left");
      kind = "lost";
    } else if (room.window_opened === false) {
      signal = t("The visitor has not opened the chat window yet");
      kind = "not-opened";
    } else if (!room.visitor_in_room) {
      signal = t("Visitor left the chat window");
      kind = "left-window";
    }
    setText(ui.signal, signal);
    ui.signal.dataset.signal = kind;
    ui.signal.hidden = !signal;
    if (kind === "left-window" || kind === "not-opened") ui.signal.title = t("They are still on the site; your messages still reach their page.");
    else if (kind === "lost") ui.signal.title = t("Their last page closed or lost its connection; they leave the site if it does not come back.");
    else ui.signal.removeAttribute("title");
    ui.tab.classList.toggle("away", kind === "left-window" || kind === "not-opened" || kind === "lost");
    ui.tab.classList.toggle("ended", expired || kind === "left-site");

    // Tab name: the visitor's name as the server spells it, once known.
    const name = store.visitorName(roomId) || visitorLabel(room.visitor);
    setText(ui.tabName, name);
    setText(ui.title, name);
  }

  function updateCountdown(ui, room, now) {
    if (room.status !== "closing") return;
    const at = parseTime(room.expires_at);
    const text = Number.isFinite(at) ? t("expires in {time}", { time: countdown(at - now) }) : t("expiring");
    if (ui.countdown.textContent !== text) ui.countdown.textContent = text;
    ui.countdown.classList.toggle("urgent", Number.isFinite(at) && at - now < 15000);
  }

  function renderUnread(roomId) {
    const ui = views.get(roomId);
    if (!ui) return;
    const count = store.state.unread.get(roomId) || 0;
    setText(ui.unread, count ? String(count) : "");
    ui.unread.hidden = !count;
    ui.tab.classList.toggle("has-unread", count > 0);
  }

  // The tab in view: selected, its panel shown; scrolled to the end when it just came
  // into view (not when another tab changed: the operator may be reading further up).
  function renderCurrent({ scroll }) {
    const current = store.state.current;
    for (const [id, ui] of views) {
      const on = id === current;
      ui.tab.setAttribute("aria-selected", String(on));
      ui.tab.classList.toggle("current", on);
      ui.tab.tabIndex = on ? 0 : -1;
      ui.panel.hidden = !on;
    }
    const target = views.get(current);
    if (target && scroll) {
      target.tab.scrollIntoView({ block: "nearest", inline: "nearest" });
      scrollToEnd(target, true);
    }
  }

  // ---------------------------------------------------------------- from the store

  function render(changes) {
    for (const roomId of changes.tabs) {
      if (store.state.tabs.has(roomId)) renderRoom(roomId);
      else remove(roomId);
    }
    for (const { room, id } of changes.messages) {
      const ui = views.get(room);
      if (ui) addStored(ui, room, id);
    }
    for (const clientId of changes.pending) renderPending(clientId);
    for (const roomId of changes.unread) renderUnread(roomId);
    if (changes.limits) for (const ui of views.values()) applyLimit(ui);
    if (changes.current || changes.tabs.size) renderCurrent({ scroll: changes.current });
    dom.empty.hidden = views.size > 0;
  }

  // The tab the operator just opened (a click, a notification, an accepted request),
  // once the store has it in view: scrolled to its end, and its composer focused.
  function reveal(roomId, { focus = false } = {}) {
    const ui = views.get(roomId);
    if (!ui || store.state.current !== roomId) return;
    renderCurrent({ scroll: true });
    if (focus && !ui.input.disabled) ui.input.focus({ preventScroll: true });
  }

  // Close and Reopen stay disabled for a moment after a click, or until the room changes.
  function hold(roomId, type) {
    const ui = views.get(roomId);
    const button = ui && (type === "close" ? ui.close : ui.reopen);
    if (!button) return;
    button.disabled = true;
    setTimeout(() => {
      button.disabled = false;
    }, HOLD_MS);
  }

  // Keyboard: arrow keys move between tabs.
  dom.tabs.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const ids = [...views.keys()];
    const index = ids.indexOf(store.state.current);
    if (index < 0) return;
    const next = ids[(index + (event.key === "ArrowRight" ? 1 : ids.length - 1)) % ids.length];
    actions.select(next);
    views.get(next).tab.focus();
    event.preventDefault();
  });

  function tick(now) {
    for (const [roomId, ui] of views) {
      const room = store.state.rooms.get(roomId);
      if (room && room.status === "closing") updateCountdown(ui, room, now);
      if (ui.info) ui.info.tick(now);
    }
  }

  dom.empty.hidden = views.size > 0;
  return { render, reveal, hold, tick, uploadStarted, uploadProgress, uploadDone, uploadFailed };
}
