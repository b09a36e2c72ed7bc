// The bar at the top (who I am, the connection, the operators online) and the notices.

import { str } from "../format.js";
import { t } from "../i18n.js";
import { h, setText } from "./dom.js";

const NOTICE_MS = 5000;
const MAX_NOTICES = 4;

// dom: {me, status, operators, notices}.
export function createBarView({ store, dom }) {
  let connection = null; // the socket's status, as last told

  function renderMe() {
    if (!store.me) return;
    setText(dom.me, str(store.me.name));
    if (dom.myStatus && store.me.status && dom.myStatus.value !== store.me.status) dom.myStatus.value = store.me.status;
  }

  function renderOperators() {
    const me = store.me;
    const online = [...store.state.operators.values()]
      .filter((o) => o.online)
      .sort((a, b) => (me && a.id === me.id ? -1 : me && b.id === me.id ? 1 : str(a.name).localeCompare(str(b.name))));
    const nodes = online.map((o) =>
      h(
        "span",
        { class: "operator" + (me && o.id === me.id ? " self" : ""), testid: "operator", dataset: { operatorId: String(o.id), status: str(o.status) || "available" } },
        str(o.name),
        // Away or busy, in words too (issue 23); available needs none.
        o.status === "away" || o.status === "busy" ? h("span", { class: "operator-status", text: " (" + (o.status === "away" ? t("away") : t("busy")) + ")" }) : null,
      ),
    );
    if (!nodes.length) nodes.push(h("span", { class: "muted", text: "—" }));
    // Chips on screen, "Peter, Jane" as text.
    const list = nodes.flatMap((node, i) => (i ? [h("span", { class: "sr-only", text: ", " }), node] : [node]));
    dom.operators.replaceChildren(...list);
  }

  function render(changes) {
    if (changes.me) renderMe();
    if (changes.operators) renderOperators();
  }

  // {state: connecting | reconnecting | online | offline, attempt, retryAt}
  function setConnection(status) {
    connection = status;
    renderConnection(Date.now());
  }

  function renderConnection(now) {
    if (!connection) return;
    let text;
    if (connection.state === "online") text = t("Online");
    else if (connection.state === "offline") text = t("Logged out");
    else if (connection.state === "reconnecting") {
      const seconds = Math.max(0, Math.ceil((connection.retryAt - now) / 1000));
      text = seconds > 0 ? t("Offline — retrying in {seconds} s", { seconds }) : t("Reconnecting…");
    } else text = connection.attempt ? t("Reconnecting…") : t("Connecting…");
    dom.status.dataset.state = connection.state;
    setText(dom.status, text);
  }

  function notice(text, kind = "info") {
    const item = h("div", { class: "notice notice-" + kind, testid: "notice", role: kind === "warn" ? "alert" : "status" }, str(text));
    dom.notices.append(item);
    while (dom.notices.children.length > MAX_NOTICES) dom.notices.firstElementChild.remove();
    setTimeout(() => {
      item.classList.add("fade");
      setTimeout(() => item.remove(), 400);
    }, NOTICE_MS);
  }

  function tick(now) {
    if (connection && connection.state === "reconnecting") renderConnection(now);
  }

  renderOperators();
  return { render, setConnection, notice, tick };
}
