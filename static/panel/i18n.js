// The panel's words in the operator's language (issue 24, docs/architecture.md, Languages).
//
// panel.html carries the djangojs catalog of the page's language as JSON (operators/i18n.py):
// {"language": "de", "catalog": {"English text": "Deutscher Text", "one": ["form 0", "form 1"]}}.
// Without it (Node's tests, a page without the block) every text stays the English one.
//
//   t("Visitor {id}", { id: 7 })            a text, with {name} placeholders filled in
//   n("{count} visitor", "{count} visitors", count)   a text by number; {count} filled in
//
// `make messages` finds them (keywords t and n:1,2, operators/management/commands/makemessages.py):
// call them with string literals only, never a variable or a template literal.

function readCatalog() {
  if (typeof document === "undefined") return { language: "", catalog: {} };
  const node = document.getElementById("i18n-catalog");
  try {
    const data = node ? JSON.parse(node.textContent) : null;
    if (data && typeof data.catalog === "object") return data;
  } catch {
    /* a broken block: English */
  }
  return { language: "", catalog: {} };
}

const { language, catalog } = readCatalog();

// The locale of dates, times and numbers: the page's language (<html lang>, the operator's choice
// or their browser's), as the browser has it when it is the same language ("en" on an en-GB
// browser keeps its 24-hour clock, "de" on de-CH its own ways), else the page's as it is.
function pickLocale() {
  if (typeof document === "undefined") return undefined;
  const page = document.documentElement.lang || language;
  if (!page) return undefined;
  const primary = (tag) => String(tag).split("-")[0].toLowerCase();
  const browser = typeof navigator !== "undefined" ? navigator.languages || [navigator.language] : [];
  return browser.find((tag) => tag && primary(tag) === primary(page)) || page;
}
export const locale = pickLocale();

function fill(text, values) {
  if (!values) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (Object.hasOwn(values, name) ? String(values[name]) : whole));
}

export function t(text, values) {
  const found = catalog[text];
  return fill(typeof found === "string" && found ? found : text, values);
}

// Which of a catalog entry's forms a count takes: the catalogs order them as CLDR orders the
// language's categories (Arabic: zero, one, two, few, many, other; Spanish: one, many, other;
// German: one, other), so the browser's Intl.PluralRules picks the form, and no formula of the
// catalog is ever evaluated (the page's CSP allows no eval).
const ORDER = ["zero", "one", "two", "few", "many", "other"];
let categories = null;
let rules = null;
function formIndex(count, forms) {
  if (!rules) {
    rules = new Intl.PluralRules(locale);
    categories = ORDER.filter((category) => rules.resolvedOptions().pluralCategories.includes(category));
  }
  return Math.min(Math.max(0, categories.indexOf(rules.select(count))), forms - 1);
}

export function n(singular, plural, count, values) {
  const found = catalog[singular];
  const all = { count, ...values };
  if (Array.isArray(found) && found.length && found.every(Boolean)) return fill(found[formIndex(count, found.length)], all);
  return fill(count === 1 ? singular : plural, all);
}
