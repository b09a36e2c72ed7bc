"""The panel, the login page and admin in the operator's language (issue 24): every shipped
language says every word of the templates and of the panel's scripts, with the same places to
fill in; the page speaks the operator's choice, else their browser's language; Arabic reads
right to left."""

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.db import models
from django.test import Client
from django.utils import translation
from django.utils.functional import Promise

from chat.models import Room
from operators.models import Operator
from tests.owners import admin_client, make_chat, make_staff
from visitors.widget_texts import languages as widget_languages

ROOT = Path(settings.BASE_DIR)
SHIPPED = [code for code, _ in settings.LANGUAGES if code != "en"]
# The places a text fills in: Python's %(name)s, the panel's {name} and the canned replies' {a.b}.
PLACE = re.compile(r"%\(\w+\)s|\{[\w.]+\}")


def po_entries(path: Path) -> tuple[dict, list[dict]]:
    """The header and the entries of a .po file: msgid, msgid_plural, msgstr (a list), flags.
    Obsolete (#~) entries are left out. Read here, so the test needs no gettext."""
    entries, entry, field = [], None, None
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if not line or line.startswith("#~"):
            if entry is not None:
                entries.append(entry)
            entry, field = None, None
            continue
        if entry is None:
            entry = {"msgid": "", "msgid_plural": None, "msgstr": {}, "flags": set()}
        if line.startswith("#,"):
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            value = unquote(line)
            if isinstance(field, int):
                entry["msgstr"][field] += value
            else:
                entry[field] += value
        else:
            keyword, _, rest = line.partition(" ")
            value = unquote(rest)
            match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            if match:
                field = int(match[1])
                entry["msgstr"][field] = value
            elif keyword == "msgstr":
                field = 0
                entry["msgstr"][0] = value
            else:
                field = keyword
                entry[field] = value
    header = next(e for e in entries if e["msgid"] == "")
    return header, [e for e in entries if e["msgid"] != ""]


def unquote(text: str) -> str:
    return re.sub(r'\\(["\\nt])', lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), text.strip()[1:-1])


def catalog(language: str, domain: str) -> tuple[dict, list[dict]]:
    return po_entries(ROOT / "locale" / language / "LC_MESSAGES" / f"{domain}.po")


def test_the_panel_speaks_the_snippets_languages():
    assert [code for code, _ in settings.LANGUAGES] == widget_languages()


@pytest.mark.parametrize("domain", ["django", "djangojs"])
@pytest.mark.parametrize("language", SHIPPED)
def test_every_shipped_language_says_every_word_with_the_same_places(language, domain):
    header, entries = catalog(language, domain)
    assert "fuzzy" not in header["flags"], "a fuzzy header: the build skips the whole catalog"
    forms = int(re.search(r"nplurals=(\d+)", header["msgstr"][0])[1])
    assert forms == {"ar": 6, "es": 3}.get(language, 2)  # as CLDR counts them: static/panel/i18n.js
    for entry in entries:
        msgid = entry["msgid"]
        assert "fuzzy" not in entry["flags"], f"{language} {domain}: fuzzy {msgid!r}"
        wanted = forms if entry["msgid_plural"] is not None else 1
        assert len(entry["msgstr"]) == wanted, f"{language} {domain}: {msgid!r} has not {wanted} forms"
        places = set(PLACE.findall(msgid)) | set(PLACE.findall(entry["msgid_plural"] or ""))
        for text in entry["msgstr"].values():
            assert text.strip(), f"{language} {domain}: {msgid!r} is not translated"
            assert set(PLACE.findall(text)) <= places, f"{language} {domain}: {text!r} fills in what {msgid!r} has not"
            if entry["msgid_plural"] is None or "{count}" not in places:
                assert set(PLACE.findall(text)) == places, f"{language} {domain}: {text!r} drops a place of {msgid!r}"
            if "<" in msgid:
                assert re.findall(r"</?\w+", text) == re.findall(r"</?\w+", msgid), f"{language}: markup of {msgid!r}"


# The product's own words, said one way in each language: an operator who reads "Gespräche" in
# the reports and "Unterhaltungen" in admin wonders whether they are two things.
GLOSSARY = {"conversation": {"de": "gespräch", "fr": "conversation", "es": "conversaci", "ar": "محادث"}}


@pytest.mark.parametrize("language", SHIPPED)
def test_each_language_says_the_products_words_one_way(language):
    for word, stems in GLOSSARY.items():
        for domain in ("django", "djangojs"):
            for entry in catalog(language, domain)[1]:
                if word in entry["msgid"].lower():
                    for text in entry["msgstr"].values():
                        assert stems[language] in text.lower(), f"{language} {domain}: {text!r} for {word!r}"


JS_CALL = re.compile(r'\bt\(\s*"((?:[^"\\]|\\.)*)"')
JS_PLURAL = re.compile(r'\bn\(\s*"((?:[^"\\]|\\.)*)"\s*,\s*"((?:[^"\\]|\\.)*)"')
TRANSLATE = re.compile(r'{%\s*translate\s+"((?:[^"\\]|\\.)*)"')
BLOCK = re.compile(r"{%\s*blocktranslate\b([^%]*)%}(.*?){%\s*endblocktranslate\s*%}", re.S)


def panel_scripts() -> list[Path]:
    return [path for path in (ROOT / "static" / "panel").rglob("*.js") if "tests" not in path.parts]


def test_every_word_of_the_panels_scripts_is_in_the_catalogs():
    used, plural = set(), set()
    for path in panel_scripts():
        code = re.sub(r"^\s*//.*$", "", path.read_text(encoding="utf-8"), flags=re.M)  # not the comments
        used |= {text.replace('\\"', '"') for text in JS_CALL.findall(code)}
        plural |= {(one, many) for one, many in JS_PLURAL.findall(code)}
        # A word the extraction cannot see: t() of anything but a string literal.
        if path.name != "i18n.js":
            assert not re.search(r'\b[tn]\((?!\s*")', code), f"{path.name}: t()/n() of something not a string"
    assert len(used) > 100, "the panel's words are not called through t()"
    for language in SHIPPED:
        _, entries = catalog(language, "djangojs")
        known = {e["msgid"] for e in entries if e["msgid_plural"] is None}
        known_plural = {(e["msgid"], e["msgid_plural"]) for e in entries if e["msgid_plural"] is not None}
        assert used <= known, f"{language}: not in djangojs.po, run `make messages`: {sorted(used - known)}"
        assert plural <= known_plural, f"{language}: not in djangojs.po: {sorted(plural - known_plural)}"


def test_every_word_of_the_templates_is_in_the_catalogs():
    used = set()
    for path in (ROOT / "templates").rglob("*.html"):
        source = path.read_text(encoding="utf-8")
        used |= set(TRANSLATE.findall(source))
        for options, body in BLOCK.findall(source):
            body = re.split(r"{%\s*plural\s*%}", body)[0]
            if "trimmed" in options:
                body = " ".join(body.split())
            used.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", body))
    assert {"Operator sign-in", "General pool", "Log in"} <= used
    for language in SHIPPED:
        _, entries = catalog(language, "django")
        known = {e["msgid"] for e in entries}
        assert used <= known, f"{language}: not in django.po, run `make messages`: {sorted(used - known)}"


PYTHON_APPS = ["operators", "visitors", "chat", "integrations", "whitepanel"]
GETTEXT = {"_", "gettext", "gettext_lazy"}
NGETTEXT = {"ngettext", "ngettext_lazy"}


def python_words() -> tuple[set[str], set[tuple[str, str]]]:
    """The literal words of the apps' Python given to _(), gettext(), gettext_lazy() (and the two
    of ngettext()): read from the syntax tree, so strings split over lines count as one."""
    used, plural = set(), set()
    for app in PYTHON_APPS:
        for path in (ROOT / app).rglob("*.py"):
            if {"tests", "migrations"} & set(path.parts):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
                    continue
                texts = [arg.value for arg in node.args[:2] if isinstance(arg, ast.Constant)]
                if node.func.id in GETTEXT and texts and isinstance(texts[0], str):
                    used.add(texts[0])
                elif node.func.id in NGETTEXT and len(texts) == 2:
                    plural.add((texts[0], texts[1]))
    return used, plural


def test_every_word_of_the_python_is_in_the_catalogs():
    used, plural = python_words()
    assert {"White Panel admin", "Verified visitors", "Export transcripts as CSV"} <= used
    for language in SHIPPED:
        _, entries = catalog(language, "django")
        known = {e["msgid"] for e in entries if e["msgid_plural"] is None}
        known_plural = {(e["msgid"], e["msgid_plural"]) for e in entries if e["msgid_plural"] is not None}
        assert used <= known, f"{language}: not in django.po, run `make messages`: {sorted(used - known)}"
        assert plural <= known_plural, f"{language}: not in django.po: {sorted(plural - known_plural)}"


# ------------------------------------------------------------------ which language a page speaks


def login_page(client: Client, **headers):
    response = client.get("/operators/login/", **headers)
    assert response.status_code == 200
    return response.content.decode()


def test_the_login_page_speaks_the_browsers_language(db):
    german = login_page(Client(), HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5")
    assert '<html lang="de" dir="ltr">' in german
    assert "Anmeldung für Bedienpersonen" in german
    assert "Passwort vergessen?" in german
    english = login_page(Client(), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert '<html lang="en" dir="ltr">' in english
    assert "Operator sign-in" in english
    # A language White Panel does not speak: English.
    assert "Operator sign-in" in login_page(Client(), HTTP_ACCEPT_LANGUAGE="ja-JP")
    arabic = login_page(Client(), HTTP_ACCEPT_LANGUAGE="ar")
    assert '<html lang="ar" dir="rtl">' in arabic
    assert "دخول المشغّلين" in arabic


def test_the_operators_choice_wins_over_the_browser_and_is_kept(peter):
    client = Client()
    client.force_login(peter.user)
    german = {"HTTP_ACCEPT_LANGUAGE": "de-DE"}
    page = client.get("/panel/", **german).content.decode()
    assert '<html lang="de"' in page
    assert "Allgemeiner Pool" in page
    # The panel's scripts get the same language's words, in the page.
    assert '"language": "de"' in page
    assert "Besucher {id}" in page

    response = client.post("/operators/language/", {"language": "fr"}, **german)
    assert response.status_code == 302
    assert response["Location"] == "/panel/"
    peter.refresh_from_db()
    assert peter.language == "fr"
    page = client.get("/panel/", **german).content.decode()
    assert '<html lang="fr"' in page
    assert "File commune" in page
    assert "Visiteur {id}" in page
    assert '<option value="fr" lang="fr" selected>' in page
    # Admin too, and after logging out the language cookie keeps the login page in it.
    peter.user.is_staff = True
    peter.user.save()
    assert "Connexion à deux facteurs" in client.get("/admin/", **german).content.decode()
    client.post("/operators/logout/")
    assert "Connexion des opérateurs" in login_page(client, **german)

    # Back to the browser's language.
    client.force_login(peter.user)
    client.post("/operators/language/", {"language": ""}, **german)
    peter.refresh_from_db()
    assert peter.language == ""
    assert "Allgemeiner Pool" in client.get("/panel/", **german).content.decode()


def test_arabic_reads_right_to_left(peter):
    peter.language = "ar"
    peter.save()
    client = Client()
    client.force_login(peter.user)
    page = client.get("/panel/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert '<html lang="ar" dir="rtl">' in page
    assert "قائمة الانتظار العامة" in page


def test_only_a_shipped_language_is_saved(peter):
    client = Client()
    client.force_login(peter.user)
    assert client.post("/operators/language/", {"language": "xx"}).status_code == 400
    assert client.get("/operators/language/").status_code == 405
    response = client.post("/operators/language/", {"language": "es", "next": "https://evil.example/"})
    assert response["Location"] == "/panel/"
    peter.refresh_from_db()
    assert peter.language == "es"


def test_admins_own_words_speak_the_owners_language(site):
    """Admin's own screens, not only Django's: the site page's groups, help texts and preview, the
    admin's titles, in the owner's language: their operator's choice, else their browser's."""
    owner = make_staff("owner", site)
    client = admin_client(owner)
    url = f"/admin/visitors/site/{site.pk}/change/"
    german = client.get(url, HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9").content.decode()
    assert '<html lang="de"' in german
    headings = re.findall(r'class="fieldset-heading">([^<]+)</h2>', german)
    groups = ["Website", "Aussehen", "Chat", "Öffnungszeiten", "Verifizierte Besucher", "Datenschutz", "Eigentümer"]
    assert headings == groups
    assert "Die Farbe von Chat-Button und -Fenster." in german  # a form's help text
    assert "Tage, die die Seitenaufrufe eines Besuchers aufbewahrt werden; 0: für immer." in german  # a model's
    assert '<h2 id="wp-preview-heading">Vorschau</h2>' in german  # the preview beside "Aussehen"
    assert "In der Sprache Ihres Browsers (%(code)s)" in german  # its line, for the script
    assert "| White Panel Verwaltung</title>" in german
    index = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "<h1>Ihre Websites, Bedienpersonen und Gespräche</h1>" in index

    # An owner who is also an operator and chose German gets it whatever the browser says.
    Operator.objects.create(user=owner, language="de")
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert "Verifizierte Besucher</h2>" in page
    assert "Die Farbe von Chat-Button und -Fenster." in page
    english = admin_client(make_staff("other", site)).get(url, HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert re.findall(r'class="fieldset-heading">([^<]+)</h2>', english)[:2] == ["Site", "Look"]
    assert "The chat button's and window's colour." in english


# ------------------------------------------------------------------ admin's names of our models

OUR_APPS = ["visitors", "chat", "operators", "integrations"]
# English words a language says the same way, checked by hand: loanwords (Chat, Webhook, Browser,
# online, Bot, Tablet), the acronym URL, and words both languages have (French site, message, secret;
# Spanish error; German Name, Status). Compared ignoring case: German writes its nouns with a capital.
SAME_WORDS = {
    "de": {"Chat", "Bot", "Tablet", "URL", "name", "status", "browser", "online", "webhook", "webhooks"},
    "fr": {"URL", "secret", "site", "sites", "message", "messages", "webhook", "webhooks"},
    "es": {"Chat", "URL", "error", "webhook", "webhooks"},
    "ar": set(),
}


def admin_models() -> set[type[models.Model]]:
    """Our models admin shows: those registered in its site, and those shown inside their pages."""
    shown = set()
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in OUR_APPS:
            shown |= {model, *(inline.model for inline in model_admin.inlines)}
    return shown


def admin_names() -> list[tuple[str, Promise]]:
    """Every name admin shows of our apps, with where it is from: the apps' and every model's (the
    list of what a deletion takes with it names models admin has no page for), and the fields and
    choices of the models admin shows."""
    names = []
    for app in OUR_APPS:
        config = apps.get_app_config(app)
        names.append((app, config.verbose_name))
        for model in config.get_models():
            names += [(model.__name__, model._meta.verbose_name), (model.__name__, model._meta.verbose_name_plural)]
    for model in admin_models():
        for field in model._meta.get_fields():
            if field.auto_created and (not field.concrete or field.primary_key):
                continue  # the reverse relations and the automatic id: Django's
            where = f"{model.__name__}.{field.name}"
            names.append((where, field.verbose_name))
            # A language's own name is the same in every language (settings.LANGUAGES).
            names += [
                (where, label) for value, label in field.choices or () if (value, label) not in settings.LANGUAGES
            ]
    return names


def test_every_name_admin_shows_of_our_models_is_translated():
    """Given to gettext_lazy, and said by every shipped language in its own words (or one of the
    few it shares with English)."""
    names = admin_names()
    shown = {model.__name__ for model in admin_models()}
    assert shown == {
        "Site", "Visitor", "PageView", "Room", "Message", "Ban", "Erasure", "Operator", "CannedReply", "Webhook",
        "Delivery",
    }  # fmt: skip
    assert len(names) > 200
    untranslated = [(where, name) for where, name in names if not isinstance(name, Promise)]
    assert not untranslated, f"not given to gettext_lazy: {untranslated}"
    for language in SHIPPED:
        same = {word.casefold() for word in SAME_WORDS[language]}
        for where, name in names:
            with translation.override("en"):
                english = str(name)
            with translation.override(language):
                said = str(name)
            assert said.casefold() != english.casefold() or english.casefold() in same, (
                f"{language}: {where} {english!r} is not translated"
            )


def german_admin_page(client: Client, url: str) -> str:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 200, url
    return response.content.decode()


def says(page: str, text: str) -> bool:
    """Whether the page says the text, as words: "site ändern" is not in "Website ändern"."""
    return re.search(r"(?<!\w)" + re.escape(text), page) is not None


def test_admin_names_the_models_fields_and_choices_in_the_owners_language(site):
    """The index's sections and models, the pages' titles, the forms' labels, the list's columns and
    its filters' choices: in German for an owner whose browser asks for German, English nowhere."""
    owner = make_staff("owner", site)
    make_chat(site)
    client = admin_client(owner)

    index = german_admin_page(client, "/admin/")
    sections = re.findall(r'<caption>\s*<a href="/admin/(\w+)/"[^>]*>([^<]+)</a>', index)
    assert sorted(sections) == [
        ("chat", "Chat"), ("integrations", "Integrationen"), ("operators", "Bedienpersonen"), ("visitors", "Besucher"),
    ]  # fmt: skip
    rows = dict(re.findall(r'<th scope="row"[^>]*>\s*<a href="/admin/(\w+/\w+)/"[^>]*>([^<]+)</a>', index))
    assert rows == {
        "chat/room": "Räume",
        "chat/message": "Nachrichten",
        "chat/ban": "Sperren",
        "chat/erasure": "Löschungen",
        "integrations/webhook": "Webhooks",
        "integrations/delivery": "Zustellungen",
        "operators/operator": "Bedienpersonen",
        "operators/cannedreply": "Vorlagen",
        "visitors/site": "Websites",
        "visitors/visitor": "Besucher",
    }

    page = german_admin_page(client, f"/admin/visitors/site/{site.pk}/change/")
    assert "<h1>Website ändern</h1>" in page
    labels = set(re.findall(r"<label[^>]*>([^<]+):</label>", page))
    assert {
        "Schlüssel", "Name", "Erlaubte Origins", "Begrüßung", "Farbe", "Sprache", "Anhebung des Chat-Buttons",
        "Zuweisung", "Max. Chats pro Bedienperson", "Formular vor dem Chat", "Zeitzone", "Öffnungszeiten",
        "Geschlossene Tage", "Seitenaufrufe aufbewahren (Tage)", "Eigentümer",
    } <= labels  # fmt: skip
    assert "Allgemeiner Pool: Bedienpersonen nehmen Anfragen an</option>" in page
    assert "Kein Formular: der Besucher schreibt sofort</option>" in page
    for english in [
        "Allowed origins:", "Greeting:", "Color:", "Max chats per operator:", "Keep page views days:", "Timezone:",
        "Hours:", "Closed days:", "Owners:", "site ändern", "The general pool", "No form",
    ]:  # fmt: skip
        assert not says(page, english), english

    rooms = german_admin_page(client, "/admin/chat/room/")
    assert "<h1>Raum zur Änderung auswählen</h1>" in rooms
    columns = re.findall(r'class="[^"]*column-(\w+)[^"]*">.*?<div class="text"><(?:a [^>]*|span)>([^<]+)<', rooms, re.S)
    assert {("site", "Website"), ("visitor", "Besucher"), ("status", "Status"), ("created_at", "Erstellt am")} <= set(
        columns
    )
    # The filters' choices (status, reason), and the room's status in its row.
    for choice in ["Ausstehend", "Aktiv", "Wird geschlossen", "Abgelaufen", "Von der Bedienperson geschlossen"]:
        assert f">{choice}</a></li>" in rooms, choice
    assert '<td class="field-status">Aktiv</td>' in rooms
    for english in ["room zur Änderung auswählen", "Pending", "Closing", "Expired", "Operator Closed", "Created at"]:
        assert not says(rooms, english), english

    # Objects' own names: the room's visitor in its row, the room in its page's title.
    room = Room.objects.get()
    assert f"Besucher {room.visitor_id}" in rooms
    assert not says(rooms, f"Visitor {room.visitor_id}")
    page = german_admin_page(client, f"/admin/chat/room/{room.pk}/change/")
    assert f"<title>Raum {room.pk} (Aktiv) | Raum ändern |" in page
    assert not says(page, f"Room {room.pk}")

    add = german_admin_page(client, "/admin/integrations/webhook/add/")
    assert "<h1>Webhook hinzufügen</h1>" in add
    labels = set(re.findall(r"<label[^>]*>([^<]+?):?</label>", add))
    assert {"Website", "URL", "Ereignisse", "Aktiv", "Neues Geheimnis", "Geheimnis", "Erstellt am"} <= labels
    for english in ["webhook hinzufügen", "Url:", "Events:", ">Active</label>", "New secret", "Secret:", "Created at:"]:
        assert not says(add, english), english
