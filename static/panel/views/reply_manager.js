// The "Replies" dialog: the canned replies this operator is offered, their own with a way to
// remove them, and a form to add one (issue 23). Site replies are the owners' (admin).

import { t } from "../i18n.js";
import { h, setText } from "./dom.js";

// dom: {open (button), dialog, list, form, error}; replies: createReplies(); me(): my operator.
export function createReplyManager({ dom, replies, me }) {
  function render(list) {
    const mine = me();
    dom.list.replaceChildren(
      ...list.map((reply) =>
        h(
          "li",
          { testid: "reply-item" },
          h("span", { class: "reply-shortcut", text: "/" + reply.shortcut }),
          h("span", { class: "reply-body", text: reply.body }),
          reply.operator && mine && reply.operator === mine.id
            ? h("button", { type: "button", class: "small ghost", testid: "reply-remove", text: t("Remove"), onclick: () => replies.remove(reply.id).catch(showError) })
            : h("span", { class: "muted", text: t("site") }),
        ),
      ),
    );
    if (!list.length) dom.list.append(h("li", { class: "muted", text: t("No replies yet.") }));
  }

  function showError(error) {
    setText(dom.error, (error && error.detail) || t("Could not save that; try again."));
    dom.error.hidden = false;
  }

  replies.onChange(render);
  dom.open.addEventListener("click", () => {
    render(replies.list);
    dom.error.hidden = true;
    dom.dialog.showModal();
    replies.load().catch(() => {});
  });
  dom.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(dom.form);
    dom.error.hidden = true;
    replies.add(String(data.get("shortcut")).trim(), String(data.get("body"))).then(() => dom.form.reset(), showError);
  });
}
