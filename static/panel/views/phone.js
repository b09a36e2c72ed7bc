// The panel on a phone (issue 24): one pane at a time, the lists (pool and visitors) or my
// chats, and the bar's actions folded into a menu. The CSS decides when this applies
// (panel.css, "Phones"); here is only which pane is chosen and whether the menu is open. On a
// wider screen both panes show, the menu button is not shown, and these attributes change nothing.

// Which pane shows after something happened. Pure, for the unit test.
//   {type: "show", pane}           the operator chose one ("lists" or "rooms")
//   {type: "room-opened"}          a chat was started, accepted or opened: it shows
//   {type: "rooms", before, count} my chats went from `before` to `count`: the last one gone,
//                                  back to the lists (an empty "My chats" chosen on purpose stays)
export function paneAfter(pane, event) {
  switch (event.type) {
    case "show":
      return event.pane === "rooms" ? "rooms" : "lists";
    case "room-opened":
      return "rooms";
    case "rooms":
      return event.before > 0 && event.count === 0 ? "lists" : pane;
    default:
      return pane;
  }
}

// dom: {panel (main), lists, rooms (the two pane buttons), listsCount, roomsCount, bar, menuButton, menu}.
export function createPhoneView({ dom }) {
  let pane = dom.panel.dataset.pane === "rooms" ? "rooms" : "lists";
  let rooms = 0;

  function show(next) {
    pane = next;
    dom.panel.dataset.pane = pane;
    dom.lists.setAttribute("aria-pressed", String(pane === "lists"));
    dom.rooms.setAttribute("aria-pressed", String(pane === "rooms"));
  }

  function choose(next) {
    show(paneAfter(pane, { type: "show", pane: next }));
    window.scrollTo(0, 0); // the top of the pane chosen, not the middle of the other's scroll
  }
  dom.lists.addEventListener("click", () => choose("lists"));
  dom.rooms.addEventListener("click", () => choose("rooms"));

  // The menu: the button says whether it is open; Escape or a tap elsewhere shuts it, and so
  // does using one of its buttons or links (the status select keeps it open while it is changed).
  function setMenu(open, { focus = false } = {}) {
    dom.menuButton.setAttribute("aria-expanded", String(open));
    dom.bar.classList.toggle("menu-open", open);
    if (!open && focus) dom.menuButton.focus();
  }
  const menuOpen = () => dom.menuButton.getAttribute("aria-expanded") === "true";
  dom.menuButton.addEventListener("click", () => setMenu(!menuOpen()));
  dom.menu.addEventListener("click", (event) => {
    if (event.target.closest("button, a")) setMenu(false);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menuOpen()) setMenu(false, { focus: true });
  });
  document.addEventListener("click", (event) => {
    if (menuOpen() && !dom.bar.contains(event.target)) setMenu(false);
  });

  return {
    roomOpened() {
      show(paneAfter(pane, { type: "room-opened" }));
    },
    // The counts on the two pane buttons: requests waiting, and my chats.
    counts({ pool, rooms: count }) {
      if (dom.listsCount.textContent !== String(pool)) dom.listsCount.textContent = String(pool);
      if (dom.roomsCount.textContent !== String(count)) dom.roomsCount.textContent = String(count);
      const next = paneAfter(pane, { type: "rooms", before: rooms, count });
      rooms = count;
      if (next !== pane) show(next);
    },
  };
}
