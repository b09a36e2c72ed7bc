/* White Panel's chat window, loaded by the site snippet (widget.js) the first time the
 * visitor opens it, hovers the button or gets a message: the snippet every page loads stays
 * small. It draws what the snippet's state holds and sends through the snippet's socket;
 * it keeps no state of the conversation itself. Every text goes in with textContent. */
(() => {
  "use strict";
  const hub = window.__whitePanelWidget;
  if (!hub || !hub.mount) return;
  hub.mount((core) => {
    const { state, make, send, tab } = core;
    core.addStyle(`
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
    .msg img { display: block; max-width: 100%; height: auto; margin-top: 4px; border-radius: 6px; }
    .file { display: block; margin-top: 4px; }
    form .attach { padding: 0 8px; background: transparent; color: #5b6270; font-size: 18px; }
    progress { display: block; width: 100%; }
    .mail { margin-top: 6px; }
    .mail button { background: none; color: inherit; text-decoration: underline; }`);

    const win = make("div", "window", { "data-testid": "wp-window", role: "dialog", "aria-label": "Chat" });
    const head = make("div", "head");
    const status = make("span", "status", { "data-testid": "wp-status" });
    const closeButton = make("button", "", { "data-testid": "wp-close", "aria-label": "Close chat", type: "button" });
    closeButton.textContent = "\u00D7";
    head.append(status, closeButton);
    const queueLine = make("div", "queue", { "data-testid": "wp-queue", role: "status" });
    const transcript = make("div", "transcript", { "data-testid": "wp-transcript", "aria-live": "polite" });
    // The site's greeting heads every conversation; the visitor's first message is the request.
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
    skip.addEventListener("click", () => { tab.set("skipped", "1"); render(); });
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
    // Files and images (issue 23): sent by an upload, which makes the message (docs/protocol.md).
    const attach = make("button", "attach", { "data-testid": "wp-attach", "aria-label": "Send a file", type: "button" });
    attach.textContent = "\u{1F4CE}";
    const picker = make("input", "", { type: "file", "data-testid": "wp-file", hidden: "" });
    attach.addEventListener("click", () => picker.click());
    picker.addEventListener("change", () => { for (const file of picker.files) upload(file); picker.value = ""; });
    form.append(attach, picker, input, counter, sendButton);
    const typingLine = make("div", "typing", { "data-testid": "wp-typing", "aria-live": "polite" });
    typingLine.hidden = true;
    let typingAt = 0;
    let typingTimer = 0;
    const seenMark = make("span", "seen", { "data-testid": "wp-seen" });
    seenMark.textContent = "Seen";
    // Rating, once an answered chat has ended.
    const rate = make("div", "rate", { "data-testid": "wp-rate" });
    const rateText = make("span");
    let chosen = 0;
    const stars = [1, 2, 3, 4, 5].map((n) => {
      const star = make("button", "star", { type: "button", "aria-label": n + " of 5", "data-testid": "wp-star" });
      star.textContent = "\u2605";
      star.addEventListener("click", () => { chosen = n; stars.forEach((s, i) => s.classList.toggle("on", i < n)); });
      return star;
    });
    const rateComment = make("input", "", { placeholder: "Anything to add?", maxlength: "1000", "aria-label": "Comment", "data-testid": "wp-rate-comment" });
    const rateSend = make("button", "", { type: "button", "data-testid": "wp-rate-send" });
    rateSend.textContent = "Rate";
    rateSend.addEventListener("click", () => {
      if (chosen) send({ type: "rate", room: state.room.id, rating: chosen, comment: rateComment.value.trim() });
    });
    // The conversation by email, once it has ended (issue 23): to the address given, or one asked for here.
    const mail = make("form", "mail", { "data-testid": "wp-mail", novalidate: "" });
    const mailTo = make("input", "", { type: "email", placeholder: "Your email", maxlength: "254", "aria-label": "Email", "data-testid": "wp-mail-to" });
    const mailSend = make("button", "", { type: "submit", "data-testid": "wp-mail-send" });
    const mailText = make("span", "", { "data-testid": "wp-mail-text", role: "status" });
    mail.append(mailTo, mailSend, mailText);
    mail.addEventListener("submit", (event) => {
      event.preventDefault();
      send({ type: "transcript", room: state.room.id, email: mailTo.value.trim() || undefined });
    });
    rate.append(rateText, ...stars, rateComment, rateSend, mail);
    win.append(head, queueLine, transcript, typingLine, rate, away, form);
    core.root.insertBefore(win, core.launcher);

    const operatorName = () => (state.room && state.room.operator ? state.room.operator.name : null);
    // Why the chat ended, in the visitor's words: closing a chat is not going off duty.
    function ended(reason, name) {
      if (!name) return "This chat has ended";
      if (reason === "operator_closed") return name + " closed the chat. Write again any time.";
      if (reason === "operator_logout") return name + " has gone off duty. Write again and a colleague will answer.";
      if (reason === "operator_timeout") return name + " lost the connection. Write again and a colleague will answer.";
      return "This chat has ended. Write again any time.";
    }

    function render() {
      const room = state.room;
      const name = operatorName();
      greeting.textContent = state.greeting || "Questions? Write to us.";
      let text = greeting.textContent;
      // R16: nobody online, or nobody answering in time: offer to answer by email.
      const waiting = !room || room.status === "pending" || room.status === "expired";
      const offline = waiting && (state.online === false || Boolean(room && room.status === "pending" && room.offline_at));
      const told = (room && room.status !== "expired" && room.contact) || state.details;
      const email = (told && told.email) || core.visit.get("told");
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
      // Asked for on this page, or before (the room says so).
      const asked = !ratable ? null : mailState.room === room.id ? mailState : room.transcript;
      mail.hidden = !ratable || state.transcripts === false;
      mailTo.hidden = Boolean(asked || email);
      mailSend.hidden = Boolean(asked);
      mailSend.textContent = email ? "Email me this conversation" : "Email it";
      mailText.textContent = !asked ? "" : (asked.sent_at || asked.status === "sent" ? "Sent to " : "We'll send it to ") + asked.email;
      renderOutbox();
    }

    let mailState = {}; // the answer to asking for a room's transcript by email

    // The visitor's messages the server does not have yet, by client id; their files likewise.
    const pending = new Map();
    const uploading = new Map();
    // Stored (acked) ones lose their mark; the message itself, when it comes, takes their place.
    function renderOutbox() {
      for (const [clientId, node] of pending) {
        const kept = state.outbox.get(clientId);
        node.classList.toggle("sending", Boolean(kept));
        node.lastChild.hidden = !kept || (state.welcomed && Date.now() - kept.at < 3000);
      }
    }
    function drawPending(clientId, body) {
      const node = messageNode({ sender: "visitor", name: "You", body });
      node.classList.add("sending");
      const unsent = make("span", "unsent", { "data-testid": "wp-unsent" });
      unsent.textContent = "Not sent yet";
      node.append(unsent);
      transcript.append(node);
      transcript.scrollTop = transcript.scrollHeight;
      pending.set(clientId, node);
    }

    function renderSeen() {
      const mine = [...transcript.children].filter((n) => n.dataset.sender === "visitor" && n.dataset.id).pop();
      const room = state.room || {};
      const upTo = Math.max(room.operator_seen || 0, state.opSeen[0] === room.id ? state.opSeen[1] : 0);
      if (mine && Number(mine.dataset.id) <= upTo) mine.after(seenMark); else seenMark.remove();
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
      linked(body, message.body || "");
      node.append(who, body);
      if (message.file) node.append(fileNode(message.file));
      return node;
    }
    // An image as its thumbnail, anything else as a download; both open in a new tab.
    function fileNode(file) {
      const link = make("a", "file", { href: file.url, target: "_blank", rel: "noopener noreferrer", "data-testid": "wp-file-link" });
      if (file.image && file.thumb) {
        const image = make("img", "", { src: file.thumb, alt: file.name, "data-testid": "wp-image" });
        link.append(image);
      } else {
        link.textContent = file.name + " (" + size(file.size) + ")";
        link.setAttribute("download", file.name);
      }
      return link;
    }
    const size = (bytes) => (bytes < 1e6 ? Math.max(1, Math.round(bytes / 1e3)) + " KB" : (bytes / 1e6).toFixed(1) + " MB");

    // One file: a message with a progress bar until the server has it; refused, it says why.
    function upload(file) {
      const clientId = Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
      const node = messageNode({ sender: "visitor", name: "You", body: file.name });
      node.classList.add("sending");
      const bar = make("progress", "", { max: "1", value: "0", "data-testid": "wp-progress", "aria-label": "Sending " + file.name });
      const note = make("span", "unsent", { "data-testid": "wp-upload-error" });
      node.append(bar, note);
      transcript.append(node);
      transcript.scrollTop = transcript.scrollHeight;
      uploading.set(clientId, node);
      const data = new FormData();
      data.append("site", core.site);
      data.append("token", core.visit.get("token") || "");
      data.append("client_id", clientId);
      data.append("file", file);
      const request = new XMLHttpRequest();
      request.open("POST", new URL("files/visitor/", core.server).href);
      request.upload.onprogress = (event) => { if (event.lengthComputable) bar.value = event.loaded / event.total; };
      const failed = (detail) => { bar.remove(); note.textContent = detail || "Not sent: the file could not be uploaded"; };
      request.onload = () => {
        if (request.status < 300) { bar.value = 1; return; } // the message itself comes by the socket
        let answer = {};
        try { answer = JSON.parse(request.responseText); } catch { /* not ours */ }
        failed(answer.detail && "Not sent: " + answer.detail);
      };
      request.onerror = () => failed();
      request.send(data);
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
    function drawMessage(message) {
      for (const drawn of [pending, uploading]) {
        const waiting = message.client_id && drawn.get(message.client_id);
        if (waiting) { waiting.remove(); drawn.delete(message.client_id); }
      }
      const node = messageNode(message);
      node.dataset.id = String(message.id);
      // Keep id order even when history fills a gap after live messages.
      const later = [...transcript.children].find((child) => Number(child.dataset.id) > message.id);
      transcript.insertBefore(node, later || null);
      transcript.scrollTop = transcript.scrollHeight;
    }

    function close() {
      core.setOpen(false);
      core.launcher.focus();
    }
    closeButton.addEventListener("click", () => core.setOpen(false));
    win.addEventListener("keydown", (event) => { if (event.key === "Escape") close(); });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = input.value.trim();
      if (!body) return;
      input.value = "";
      counter.hidden = true;
      drawPending(core.sendMessage(body), body);
    });
    input.addEventListener("input", () => {
      const room = state.room;
      if (!input.value.trim() || !room || !room.operator || Date.now() - typingAt < 3000) return;
      typingAt = Date.now();
      send({ type: "typing" });
    });
    details.addEventListener("submit", (event) => {
      event.preventDefault();
      send({ type: "details", name: nameInput.value.trim(), email: emailInput.value.trim() });
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
    });

    function opened(open) {
      win.hidden = !open;
      if (!open) return;
      transcript.scrollTop = transcript.scrollHeight; // the newest message, not where it was left
      input.focus({ preventScroll: true });
    }

    // What the snippet had before this loaded: its messages, and what it still has to send.
    [...state.messages.values()].sort((a, b) => a.id - b.id).forEach(drawMessage);
    for (const [clientId, kept] of state.outbox) drawPending(clientId, kept.body);
    opened(state.open);
    if (state.open) core.markSeen();
    render();

    return {
      render,
      opened,
      message: drawMessage,
      // After the snippet has taken in a frame: what the window shows of it.
      frame(frame) {
        if (frame.type === "message" && frame.message.sender !== "visitor") typingLine.hidden = true;
        if (frame.type === "typing") {
          typingLine.textContent = (frame.name || "The operator") + " is typing…";
          typingLine.hidden = false;
          clearTimeout(typingTimer);
          typingTimer = setTimeout(() => { typingLine.hidden = true; }, 6000);
        }
        if (frame.type === "transcript") mailState = frame;
        if (frame.type === "error" && frame.for === "transcript") {
          render();
          mailTo.hidden = false;
          mailText.textContent = frame.code === "rate_limited" ? "Not sent: try again in a moment." : "Please check your email address.";
          return;
        }
        if (frame.type === "error" && frame.for === "details" && frame.code !== "rate_limited") {
          render();
          awayText.textContent = "Please check your email address.";
          return;
        }
        render();
      },
      // The message a toast showed, found in the transcript.
      flash(id) {
        const node = transcript.querySelector('[data-id="' + id + '"]');
        if (node) { node.scrollIntoView({ block: "center" }); node.classList.add("flash"); }
      },
    };
  });
})();
