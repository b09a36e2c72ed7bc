// i18n.js: the panel's words from the page's catalog, English without one; plural forms by
// the language's own rules (Arabic has six).

import assert from "node:assert/strict";
import { test } from "node:test";

import { n, t } from "../i18n.js";

// A page with a catalog in it, as panel.html writes it: a module loaded fresh for it.
async function pageIn(language, catalog) {
  globalThis.document = {
    documentElement: { lang: language },
    getElementById: (id) => (id === "i18n-catalog" ? { textContent: JSON.stringify({ language, catalog }) } : null),
  };
  try {
    return await import("../i18n.js?" + language);
  } finally {
    delete globalThis.document;
  }
}

test("without a catalog, the English text with its places filled in", () => {
  assert.equal(t("Visitor {id}", { id: 7 }), "Visitor 7");
  assert.equal(t("{name} wrote", {}), "{name} wrote");
  assert.equal(n("You have {count} open chat.", "You have {count} open chats.", 1), "You have 1 open chat.");
  assert.equal(n("You have {count} open chat.", "You have {count} open chats.", 3), "You have 3 open chats.");
});

test("a catalog's words, and English for what it lacks", async () => {
  const { t, n, locale } = await pageIn("de", {
    "Visitor {id}": "Besucher {id}",
    "{count} chat": ["{count} Chat", "{count} Chats"],
    Empty: "",
  });
  assert.equal(locale, "de");
  assert.equal(t("Visitor {id}", { id: 7 }), "Besucher 7");
  assert.equal(t("Accept"), "Accept");
  assert.equal(t("Empty"), "Empty");
  assert.deepEqual([0, 1, 2].map((count) => n("{count} chat", "{count} chats", count)), ["0 Chats", "1 Chat", "2 Chats"]);
});

test("Arabic picks each of its six forms, French says 0 in the singular", async () => {
  const forms = ["zero {count}", "one {count}", "two {count}", "few {count}", "many {count}", "other {count}"];
  const ar = await pageIn("ar", { "{count} chat": forms });
  const said = [0, 1, 2, 3, 10, 11, 99, 100, 102].map((count) => ar.n("{count} chat", "{count} chats", count));
  assert.deepEqual(said, ["zero 0", "one 1", "two 2", "few 3", "few 10", "many 11", "many 99", "other 100", "other 102"]);
  const fr = await pageIn("fr", { "{count} chat": ["{count} conversation", "{count} conversations"] });
  assert.deepEqual([0, 1, 2].map((count) => fr.n("{count} chat", "{count} chats", count)), ["0 conversation", "1 conversation", "2 conversations"]);
  const es = await pageIn("es", { "{count} chat": ["{count} chat", "{count} chats", "{count} chats"] });
  assert.deepEqual([1, 2, 1000000].map((count) => es.n("{count} chat", "{count} chats", count)), ["1 chat", "2 chats", "1000000 chats"]);
});

test("dates in the page's language, as the browser has it when it is the same language", async () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  Object.defineProperty(globalThis, "navigator", { value: { languages: ["en-GB", "de-CH"] }, configurable: true });
  try {
    const document = (lang) => ({ documentElement: { lang }, getElementById: () => null });
    const localeOf = async (lang, key) => {
      globalThis.document = document(lang);
      try {
        return (await import("../i18n.js?locale-" + key)).locale;
      } finally {
        delete globalThis.document;
      }
    };
    assert.equal(await localeOf("en", "en"), "en-GB"); // its 24-hour clock, not America's
    assert.equal(await localeOf("de", "de"), "de-CH");
    assert.equal(await localeOf("ar", "ar"), "ar"); // chosen in the panel, not the browser's
  } finally {
    if (saved) Object.defineProperty(globalThis, "navigator", saved);
    else delete globalThis.navigator;
  }
});
