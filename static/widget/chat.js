/* White Panel's chat window, loaded by the site snippet (widget.js) the first time the
 * visitor opens it, points at the button, gets a message or has a conversation going: the
 * snippet every page loads stays small. It draws what the snippet's state holds and sends
 * through the snippet's socket; it keeps no state of the conversation itself. Every text
 * goes in with textContent; what visitors and operators wrote with dir="auto". */
(() => {
  "use strict";
  const hub = window.__whitePanelWidget;
  if (!hub || !hub.mount) return;
  hub.mount((core) => {
    const { state, make, send, tab } = core;
    // The window's words in each language (static/widget/texts.json, put in by the server);
    // the site's own (`texts`, per language) go before them. `{name}`-style places filled in.
    const TEXTS = /*TEXTS*/{};
    const t = (key, values = {}) => {
      const own = state.texts[state.lang] || {};
      const text = typeof own[key] === "string" ? own[key] : (TEXTS[state.lang] || {})[key] || TEXTS.en[key];
      return text.replace(/\{(\w+)\}/g, (place, name) => (name in values ? String(values[name]) : place));
    };
    core.addStyle(`
    .window { position: absolute; right: 0; bottom: 72px; width: 340px; height: 460px; max-height: calc(100vh - 110px);
      display: flex; flex-direction: column; background: #fff; color: #1b1b1b; border-radius: 12px;
      box-shadow: 0 8px 30px rgba(0,0,0,.25); overflow: hidden; }
    :host([dir=rtl]) .window { right: auto; left: 0; }
    .head { display: flex; align-items: center; gap: 8px; padding: 12px 14px; background: var(--wp-color, #2457d6);
      color: var(--wp-on-color, #fff); }
    .head .status { flex: 1; margin: 0; font-weight: 600; }
    .head button { background: transparent; color: inherit; font-size: 20px; line-height: 1; }
    .transcript { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 6px; background: #f6f7f9; }
    .msg { max-width: 80%; padding: 7px 10px; border-radius: 10px; white-space: pre-wrap; overflow-wrap: anywhere; }
    .msg .who { display: block; font-size: 11px; }
    .msg a { color: inherit; text-decoration: underline; }
    .msg.visitor { align-self: flex-end; background: var(--wp-color, #2457d6); color: var(--wp-on-color, #fff); }
    .msg.operator { align-self: flex-start; background: #fff; border: 1px solid #e2e4e8; }
    .msg.operator .who { color: #5b6270; }
    .msg.system { align-self: center; max-width: 90%; padding: 0 8px; color: #5b6270; font-size: 12px; text-align: center; }
    .msg.sending { opacity: .75; }
    .unsent { display: block; font-size: 11px; font-style: italic; }
    .counter { align-self: center; font-size: 11px; color: #5b6270; }
    .rate { padding: 8px 12px; border-top: 1px solid #e2e4e8; text-align: center; }
    .rate span { display: block; margin-bottom: 4px; }
    .rate .star { background: none; font-size: 22px; color: #767676; }
    .rate .star.on { color: #a35f00; }
    .rate input { width: 68%; margin: 4px; padding: 6px; border: 1px solid #767676; border-radius: 6px; }
    .rate > button:not(.star) { padding: 6px 12px; border-radius: 6px; background: var(--wp-color, #2457d6); color: var(--wp-on-color, #fff); }
    .queue { padding: 6px 14px; background: #eef1f6; color: #3b4250; font-size: 13px; }
    .greeting { align-self: center; max-width: 90%; padding: 4px 8px; color: #5b6270; font-size: 13px; text-align: center; }
    .msg.flash { outline: 2px solid #a35f00; }
    .typing, .seen { padding: 0 12px 4px; font-size: 12px; color: #5b6270; background: #f6f7f9; }
    .seen { align-self: flex-end; padding: 0; }
    form { display: flex; gap: 6px; padding: 10px; border-top: 1px solid #e2e4e8; }
    textarea { flex: 1; resize: none; height: 40px; padding: 8px; border: 1px solid #767676; border-radius: 8px; }
    form button { padding: 0 14px; border-radius: 8px; background: var(--wp-color, #2457d6); color: var(--wp-on-color, #fff); }
    .away { padding: 10px 12px 0; border-top: 1px solid #e2e4e8; background: #fffbea; color: #4a4335; font-size: 13px; }
    .away form { padding: 8px 0 10px; border: 0; }
    input { flex: 1; min-width: 0; padding: 6px 8px; border: 1px solid #767676; border-radius: 8px; }
    .msg img { display: block; max-width: 100%; height: auto; margin-top: 4px; border-radius: 6px; }
    .file { display: block; margin-top: 4px; }
    form .attach { display: grid; place-items: center; padding: 0 8px; background: transparent; color: #3b4250; }
    progress { display: block; width: 100%; }
    .mail { margin-top: 6px; border: 0; padding: 0; justify-content: center; flex-wrap: wrap; }
    .mail button { background: none; color: inherit; text-decoration: underline; padding: 4px; }
    .sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
    /* A phone: the window is a sheet over the whole screen, clear of notches and home bars,
       with inputs large enough that the browser does not zoom into them. */
    @media (max-width: 480px) {
      .window { position: fixed; inset: 0; width: auto; height: auto; max-height: none; border-radius: 0;
        padding: env(safe-area-inset-top) env(safe-area-inset-right) env(safe-area-inset-bottom) env(safe-area-inset-left); }
      textarea, input { font-size: 16px; }
    }`);

    const win = make("div", "window", { "data-testid": "wp-window", role: "dialog" });
    const head = make("div", "head");
    const status = make("h2", "status", { "data-testid": "wp-status", dir: "auto" });
    const closeButton = make("button", "", { "data-testid": "wp-close", type: "button" });
    closeButton.textContent = "\u00D7";
    head.append(status, closeButton);
    const queueLine = make("div", "queue", { "data-testid": "wp-queue", role: "status" });
    const transcript = make("div", "transcript", { "data-testid": "wp-transcript", tabindex: "0" });
    // The site's greeting heads every conversation; the visitor's first message is the request.
    const greeting = make("div", "greeting", { "data-testid": "wp-greeting", dir: "auto" });
    transcript.append(greeting);
    // New messages from the operator side, said once to a screen reader (not every keystroke).
    const announce = make("div", "sr", { "aria-live": "polite", "data-testid": "wp-announce" });
    const away = make("div", "away", { "data-testid": "wp-offline" });
    const awayText = make("div", "", { "data-testid": "wp-offline-text", role: "status" });
    const details = make("form", "", { "data-testid": "wp-details" });
    const nameInput = make("input", "", { "data-testid": "wp-name", maxlength: "100", autocomplete: "name", dir: "auto" });
    const emailInput = make("input", "", { "data-testid": "wp-email", type: "email", maxlength: "254", autocomplete: "email", required: "" });
    const detailsButton = make("button", "", { "data-testid": "wp-details-save", type: "submit" });
    const skip = make("button", "", { "data-testid": "wp-details-skip", type: "button" });
    skip.addEventListener("click", () => { tab.set("skipped", "1"); render(); });
    details.append(nameInput, emailInput, detailsButton, skip);
    away.append(awayText, details);
    const form = make("form");
    const input = make("textarea", "", { "data-testid": "wp-input", maxlength: "4000", dir: "auto" });
    const sendButton = make("button", "", { "data-testid": "wp-send", type: "submit" });
    const counter = make("span", "counter", { "data-testid": "wp-counter", "aria-live": "polite" });
    counter.hidden = true;
    input.addEventListener("input", () => {
      counter.hidden = input.value.length < 3600;
      counter.textContent = input.value.length + "/4000";
    });
    // Files and images (issue 23): an upload makes the message (docs/protocol.md).
    const attach = make("button", "attach", { "data-testid": "wp-attach", type: "button" });
    // A paperclip, drawn (emoji fonts are not everywhere), as the panel's.
    const clip = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    clip.setAttribute("viewBox", "0 0 24 24");
    clip.setAttribute("width", "20");
    clip.setAttribute("height", "20");
    clip.setAttribute("aria-hidden", "true");
    const clipPath = document.createElementNS("http://www.w3.org/2000/svg", "path");
    const drawn = { d: "M16.5 6.5 8.4 14.6a2 2 0 0 0 2.8 2.8l8.1-8.1a4 4 0 0 0-5.7-5.7l-8.3 8.3a6 6 0 0 0 8.5 8.5l6.7-6.7",
      fill: "none", stroke: "currentColor", "stroke-width": "2", "stroke-linecap": "round" };
    for (const [name, value] of Object.entries(drawn)) clipPath.setAttribute(name, value);
    clip.append(clipPath);
    attach.append(clip);
    const picker = make("input", "", { type: "file", "data-testid": "wp-file", hidden: "", tabindex: "-1" });
    attach.addEventListener("click", () => picker.click());
    picker.addEventListener("change", () => { for (const file of picker.files) upload(file); picker.value = ""; });
    form.append(attach, picker, input, counter, sendButton);
    const typingLine = make("div", "typing", { "data-testid": "wp-typing" });
    typingLine.hidden = true;
    let typingAt = 0;
    let typingTimer = 0;
    // "Peter is typing…" for 6 s after the operator's last typing frame (state.typing).
    function showTyping() {
      const age = state.typing ? Date.now() - state.typing.at : Infinity;
      if (age >= 6000) return;
      typingLine.textContent = t("typing", { name: state.typing.name || t("the_operator") });
      typingLine.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => { typingLine.hidden = true; }, 6000 - age);
    }
    const seenMark = make("span", "seen", { "data-testid": "wp-seen" });
    // Rating, once an answered chat has ended.
    const rate = make("div", "rate", { "data-testid": "wp-rate" });
    const rateText = make("span");
    let chosen = 0;
    const stars = [1, 2, 3, 4, 5].map((n) => {
      const star = make("button", "star", { type: "button", "data-testid": "wp-star" });
      star.textContent = "\u2605";
      star.addEventListener("click", () => {
        chosen = n;
        stars.forEach((s, i) => { s.classList.toggle("on", i < n); s.setAttribute("aria-pressed", String(i < n)); });
      });
      return star;
    });
    const rateComment = make("input", "", { maxlength: "1000", "data-testid": "wp-rate-comment", dir: "auto" });
    const rateSend = make("button", "", { type: "button", "data-testid": "wp-rate-send" });
    rateSend.addEventListener("click", () => {
      if (chosen) send({ type: "rate", room: state.room.id, rating: chosen, comment: rateComment.value.trim() });
    });
    // The conversation by email, once it has ended (issue 23): to the address given, or one asked for here.
    const mail = make("form", "mail", { "data-testid": "wp-mail", novalidate: "" });
    const mailTo = make("input", "", { type: "email", maxlength: "254", "data-testid": "wp-mail-to" });
    const mailSend = make("button", "", { type: "submit", "data-testid": "wp-mail-send" });
    const mailText = make("span", "", { "data-testid": "wp-mail-text", role: "status" });
    mail.append(mailTo, mailSend, mailText);
    mail.addEventListener("submit", (event) => {
      event.preventDefault();
      send({ type: "transcript", room: state.room.id, email: mailTo.value.trim() || undefined });
    });
    rate.append(rateText, ...stars, rateComment, rateSend, mail);
    win.append(head, queueLine, transcript, typingLine, rate, away, form, announce);
    core.root.insertBefore(win, core.launcher);

    // The window's fixed words, in the language of the moment (a site may fix it in welcome).
    function label() {
      win.setAttribute("aria-label", t("chat"));
      closeButton.setAttribute("aria-label", t("close"));
      transcript.setAttribute("aria-label", t("chat"));
      const placeholders = [[nameInput, "name"], [emailInput, "email"], [input, "message"], [rateComment, "comment"], [mailTo, "email"]];
      for (const [node, key] of placeholders) node.placeholder = t(key);
      for (const [node, key] of [[nameInput, "name"], [emailInput, "email"], [input, "message_label"], [rateComment, "comment_label"], [mailTo, "mail_label"], [attach, "attach"]]) {
        node.setAttribute("aria-label", t(key));
      }
      detailsButton.textContent = t("save");
      skip.textContent = t("skip");
      sendButton.textContent = t("send");
      seenMark.textContent = t("seen");
      rateSend.textContent = t("rate");
      stars.forEach((star, i) => star.setAttribute("aria-label", t("stars", { n: i + 1 })));
    }

    const operatorName = () => (state.room && state.room.operator ? state.room.operator.name : null);
    // Why the chat ended, in the visitor's words: closing a chat is not going off duty.
    function ended(reason, name) {
      if (!name) return t("ended");
      const why = { operator_closed: "ended_closed", operator_logout: "ended_logout", operator_timeout: "ended_timeout" };
      return t(why[reason] || "ended_other", { name });
    }
    // When a site with business hours opens again, in the visitor's words and time zone.
    function backAt(when) {
      const at = new Date(when);
      if (!when || isNaN(at)) return null;
      return at.toLocaleString(state.lang, { weekday: "long", hour: "2-digit", minute: "2-digit" });
    }

    function render() {
      label();
      attach.hidden = !state.uploads;
      picker.accept = state.uploads ? state.uploads.types.map((type) => "." + type).join(",") : "";
      const room = state.room;
      const name = operatorName();
      greeting.textContent = state.greeting || t("greeting");
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
      const back = state.online === false && backAt(state.backAt);
      awayText.textContent = email ? t("reply_to", { email })
        : asking && !offline ? t("prechat")
        : state.online === false ? (back ? t("back_at", { time: back }) + ". " : "") + t("offline_form")
        : t("busy_form");
      if (state.wasWelcomed && !state.welcomed) text = t("reconnecting");
      else if (offline && room) text = state.online === false ? t("offline") : t("busy");
      else if (room && room.status === "pending" && room.returned) text = t("returned");
      else if (room && room.status === "pending") text = t("waiting");
      else if (room && (room.status === "active" || room.status === "closing")) text = t("here", { name });
      else if (room && room.status === "expired") text = ended(room.reason, name);
      status.textContent = text;
      const queue = state.queue;
      const queued = room && room.status === "pending" && queue && queue.room === room.id;
      queueLine.hidden = !queued;
      if (queued) {
        let line = t("queue", { n: queue.position });
        if (typeof queue.wait === "number") {
          line += " \u00B7 " + (queue.wait < 60 ? t("wait_short") : t("wait_long", { n: Math.round(queue.wait / 60) }));
        }
        queueLine.textContent = line;
      }
      renderSeen();
      const ratable = room && room.status === "expired" && room.operator;
      rate.hidden = !ratable;
      rateText.textContent = room && room.rating ? t("rate_thanks") : t("rate_ask");
      for (const node of [...stars, rateComment, rateSend]) node.hidden = Boolean(room && room.rating);
      // Asked for on this page, or before (the room says so).
      const asked = !ratable ? null : mailState.room === room.id ? mailState : room.transcript;
      mail.hidden = !ratable || state.transcripts === false;
      mailTo.hidden = Boolean(asked || email);
      mailSend.hidden = Boolean(asked);
      mailSend.textContent = email ? t("mail_me") : t("mail_it");
      if (asked) mailText.textContent = t(asked.sent_at || asked.status === "sent" ? "mail_sent" : "mail_queued", { email: asked.email });
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
      const node = messageNode({ sender: "visitor", body });
      node.classList.add("sending");
      const unsent = make("span", "unsent", { "data-testid": "wp-unsent" });
      unsent.textContent = t("not_sent");
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

    // A system line (R15) in the visitor's language, from its code; one the window does not
    // word keeps the server's text.
    const lineText = (message) => (TEXTS.en[message.event] ? t(message.event, { name: message.name }) : message.body);
    function messageNode(message) {
      const node = make("div", "msg " + message.sender, { "data-testid": "wp-message", "data-sender": message.sender });
      // R15 system line: muted, never unread.
      if (message.sender === "system") { node.textContent = lineText(message); return node; }
      const who = make("span", "who");
      const author = make("span", "", { dir: "auto" });
      author.textContent = message.sender === "visitor" ? t("you") : message.name;
      who.append(author);
      const at = message.at ? new Date(message.at) : new Date();
      if (!isNaN(at)) {
        const time = make("time", "", { datetime: at.toISOString(), "data-testid": "wp-time" });
        time.textContent = " \u00B7 " + at.toLocaleTimeString(state.lang, { hour: "2-digit", minute: "2-digit" });
        who.append(time);
      }
      const body = make("span", "", { dir: "auto" });
      linked(body, message.body || "");
      node.append(who, body);
      if (message.file) node.append(fileNode(message.file));
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
    // An image as its thumbnail, anything else as a download; both open in a new tab.
    function fileNode(file) {
      // The server's links are paths on its own origin, not the page's.
      const link = make("a", "file", { href: new URL(file.url, core.server).href, target: "_blank", rel: "noopener noreferrer", "data-testid": "wp-file-link", dir: "auto" });
      if (file.image && file.thumb) {
        link.append(make("img", "", { src: new URL(file.thumb, core.server).href, alt: file.name, "data-testid": "wp-image" }));
      } else {
        link.textContent = file.name + " (" + size(file.size) + ")";
        link.setAttribute("download", file.name);
      }
      return link;
    }
    const size = (bytes) => (bytes < 1e6 ? Math.max(1, Math.round(bytes / 1e3)) + " KB" : (bytes / 1e6).toFixed(1) + " MB");

    // One file: a message with a progress bar until the server has it; refused, it says why.
    function upload(file) {
      const limits = state.uploads || { types: [], max_bytes: 0 };
      const refused = !limits.types.includes(file.name.split(".").pop().toLowerCase()) ? "type_not_allowed"
        : file.size > limits.max_bytes ? "too_large" : null;
      const clientId = Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
      const node = messageNode({ sender: "visitor", body: file.name });
      node.classList.add("sending");
      const bar = make("progress", "", { max: "1", value: "0", "data-testid": "wp-progress", "aria-label": t("sending_file", { name: file.name }) });
      const note = make("span", "unsent", { "data-testid": "wp-upload-error", role: "status" });
      node.append(bar, note);
      transcript.append(node);
      transcript.scrollTop = transcript.scrollHeight;
      uploading.set(clientId, node);
      if (refused) { bar.remove(); note.textContent = t(refused); return; }
      const data = new FormData();
      data.append("token", core.visit.get("token") || "");
      data.append("client_id", clientId);
      data.append("file", file);
      const request = new XMLHttpRequest();
      request.open("POST", new URL("files/visitor/?site=" + encodeURIComponent(core.site), core.server).href);
      request.upload.onprogress = (event) => { if (event.lengthComputable) bar.value = event.loaded / event.total; };
      const failed = (code) => { bar.remove(); note.textContent = t(TEXTS.en[code] ? code : "upload_failed"); };
      request.onload = () => {
        if (request.status < 300) { bar.value = 1; return; } // the message itself comes by the socket
        let answer = {};
        try { answer = JSON.parse(request.responseText).error || {}; } catch { /* not ours: a proxy's page */ }
        failed(request.status === 413 ? "too_large" : answer.code);
      };
      request.onerror = () => failed();
      request.send(data);
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
    closeButton.addEventListener("click", close);
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

    // A phone's on-screen keyboard covers the bottom of the layout viewport: the sheet fits
    // the visible part, so the input stays above the keyboard.
    const viewport = window.visualViewport;
    const phone = window.matchMedia("(max-width: 480px)");
    function fit() {
      const on = phone.matches && viewport;
      win.style.height = on ? viewport.height + "px" : "";
      win.style.top = on ? viewport.offsetTop + "px" : "";
    }
    if (viewport) { viewport.addEventListener("resize", fit); viewport.addEventListener("scroll", fit); }

    function opened(open) {
      win.hidden = !open;
      if (!open) return;
      fit();
      transcript.scrollTop = transcript.scrollHeight; // the newest message, not where it was left
      input.focus({ preventScroll: true });
    }

    // What the snippet had before this loaded: its messages, and what it still has to send.
    [...state.messages.values()].sort((a, b) => a.id - b.id).forEach(drawMessage);
    for (const [clientId, kept] of state.outbox) drawPending(clientId, kept.body);
    showTyping(); // a typing frame may have come before this code did
    opened(state.open);
    if (state.open) core.markSeen();
    render();

    return {
      render,
      opened,
      message: drawMessage,
      // After the snippet has taken in a frame: what the window shows of it.
      frame(frame) {
        if (frame.type === "message" && frame.message.sender !== "visitor") {
          typingLine.hidden = true;
          if (frame.message.sender === "operator") announce.textContent = frame.message.name + ": " + (frame.message.body || frame.message.file && frame.message.file.name || "");
        }
        if (frame.type === "typing") showTyping();
        if (frame.type === "transcript") mailState = frame;
        render();
        if (frame.type === "error" && frame.for === "transcript") {
          mailTo.hidden = false;
          mailText.textContent = t(frame.code === "rate_limited" ? "try_again" : "check_email");
        }
        if (frame.type === "error" && frame.for === "details" && frame.code !== "rate_limited") awayText.textContent = t("check_email");
      },
      // This page became another visitor (identify): their conversation comes with the next welcome.
      reset() {
        pending.clear();
        uploading.clear();
        for (const node of [...transcript.children]) if (node !== greeting) node.remove();
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
