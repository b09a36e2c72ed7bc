// The site page's live preview (templates/admin/visitors/site/change_form.html): the chat
// button and the window's head as the snippet would draw them with the form's current values.
// The choices mirror the snippet's applyBranding (static/widget/widget.js) and its window's
// words (static/widget/chat.js): change them there, then here. Every value is put in as text.
(() => {
  "use strict";

  function start() {
    const dataNode = document.getElementById("widget-preview-data");
    const widget = document.querySelector("[data-testid=preview-widget]");
    if (!dataNode || !widget) return;
    const { texts: TABLE, right_to_left: RIGHT_TO_LEFT, saved, words } = JSON.parse(dataNode.textContent);
    const page = document.querySelector("[data-testid=preview-page]");
    const part = (name) => document.querySelector(`[data-testid=preview-${name}]`);
    const field = (name) => document.getElementById(`id_${name}`);

    // A field the user may only read has no input: the saved value stands in.
    const value = (name, fallback) => {
      const input = field(name);
      return input ? input.value : fallback;
    };
    function ownTexts() {
      const input = field("texts");
      if (!input) return saved.texts || {};
      try {
        const parsed = JSON.parse(input.value || "{}");
        return parsed && typeof parsed === "object" ? parsed : {};
      } catch {
        return {}; // half-typed: the snippet's own words meanwhile
      }
    }
    // The site's language, else the first of the browser's the snippet speaks (pickLanguage).
    function pickLanguage(fixed) {
      for (const tag of [fixed, ...(navigator.languages || [navigator.language])]) {
        const code = String(tag || "").toLowerCase().split("-")[0];
        if (TABLE.snippet[code]) return code;
      }
      return "en";
    }
    function luminance(color) {
      const [r, g, b] = [1, 3, 5].map((i) => {
        const c = parseInt(color.slice(i, i + 2), 16) / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    }

    function render() {
      const fixed = value("language", saved.language);
      const lang = pickLanguage(fixed);
      const own = ownTexts()[lang] || {};
      const word = (part, key) =>
        typeof own[key] === "string" ? own[key] : (TABLE[part][lang] || {})[key] || TABLE[part].en[key] || key;
      const raw = value("greeting", saved.greeting);
      // No greeting: the window's own (chat.js).
      const greeting = raw.trim() ? raw.slice(0, 200) : word("window", "greeting");

      const rtl = RIGHT_TO_LEFT.includes(lang);
      widget.dir = rtl ? "rtl" : "ltr";
      const offset = Math.min(400, Math.max(0, Number(value("launcher_offset", saved.offset)) || 0));
      widget.style.bottom = 20 + offset + "px";
      page.style.height = 340 + offset + "px";

      const color = value("color", saved.color);
      if (/^#[0-9a-fA-F]{6}$/.test(color)) {
        widget.style.setProperty("--wp-color", color);
        widget.style.setProperty("--wp-on-color", luminance(color) > 0.179 ? "#1b1b1b" : "#fff");
      }

      part("launcher").setAttribute("aria-label", word("snippet", "open"));
      part("status").textContent = greeting;
      part("greeting").textContent = greeting;
      part("input").textContent = word("window", "message");
      part("send").textContent = word("window", "send");
      const select = field("language");
      const name = select && select.selectedOptions[0] ? select.selectedOptions[0].textContent : lang;
      // The line in the admin page's language (visitors/admin.py), its places filled in here.
      part("language").textContent = fixed
        ? words.fixed.replace("%(language)s", name)
        : words.browser.replace("%(code)s", lang);
    }

    const form = widget.closest("form");
    form.addEventListener("input", render);
    form.addEventListener("change", render);
    render();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
