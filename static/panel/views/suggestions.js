// The composer's canned-reply suggestions: shown while the composer holds "/" and a few
// letters; ↑/↓ move, Enter or Tab puts the reply in, Esc closes. The list is added next to the
// composer's textarea; its keydown listener must be attached before the composer's own (Enter
// sends), which it stops while the list is open.

import { fillReply, matchReplies, typedShortcut } from "../replies.js";
import { h } from "./dom.js";

let lists = 0;

// replies: createReplies(); context(): {visitor, operator, page} for the placeholders.
export function attachReplySuggestions(input, { replies, context }) {
  const id = "reply-suggestions-" + ++lists;
  const list = h("ul", { class: "reply-suggestions", testid: "reply-suggestions", role: "listbox", id, hidden: true });
  input.after(list);
  input.setAttribute("aria-controls", id);
  let shown = [];
  let active = 0;

  function close() {
    shown = [];
    list.hidden = true;
    list.replaceChildren();
    input.removeAttribute("aria-activedescendant");
  }

  function render() {
    list.replaceChildren(
      ...shown.map((reply, index) =>
        h(
          "li",
          {
            role: "option",
            id: `${id}-${index}`,
            class: index === active ? "active" : "",
            testid: "reply-suggestion",
            "aria-selected": String(index === active),
            onmousedown: (event) => {
              event.preventDefault(); // the textarea keeps the focus
              pick(index);
            },
          },
          h("span", { class: "reply-shortcut", text: "/" + reply.shortcut }),
          h("span", { class: "reply-body", text: reply.body }),
        ),
      ),
    );
    list.hidden = false;
    // (A textarea is a textbox, which has no aria-expanded: the active option is enough.)
    input.setAttribute("aria-activedescendant", `${id}-${active}`);
  }

  function update() {
    const typed = typedShortcut(input.value);
    shown = typed === null ? [] : matchReplies(replies.list, typed);
    active = 0;
    if (shown.length) render();
    else close();
  }

  function pick(index) {
    const reply = shown[index];
    if (!reply) return;
    input.value = fillReply(reply.body, context());
    close();
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    replies.use(reply.id);
  }

  input.addEventListener("input", update);
  input.addEventListener("blur", () => setTimeout(close, 100));
  input.addEventListener("keydown", (event) => {
    if (list.hidden || !shown.length) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      active = (active + (event.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
      render();
    } else if ((event.key === "Enter" && !event.shiftKey && !event.isComposing) || event.key === "Tab") {
      pick(active);
    } else if (event.key === "Escape") {
      close();
    } else {
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
  });
  replies.onChange(() => {
    if (!list.hidden) update();
  });
}
