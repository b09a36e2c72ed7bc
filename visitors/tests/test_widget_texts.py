"""The snippet's words (issue 24): every language it ships says every word, with the same
places to fill in; a site's own words are checked before they reach a page; a site's colour
that no text reads well on is flagged to its owner."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError

from visitors.models import Site
from visitors.tests.test_admin import site_form
from visitors.widget_texts import best_contrast, languages, validate_texts

PLACE = re.compile(r"\{(\w+)\}")


def table() -> dict:
    with open(finders.find("widget/texts.json"), encoding="utf-8") as file:
        return json.load(file)


@pytest.mark.parametrize("part", ["snippet", "window"])
def test_every_shipped_language_has_every_word_with_the_same_places(part):
    words = table()[part]
    english = words["en"]
    assert {"en", "de", "fr", "es", "ar"} <= set(words)
    for language, texts in words.items():
        assert set(texts) == set(english), f"{language} misses or adds words: {set(texts) ^ set(english)}"
        for key, text in texts.items():
            assert text.strip(), f"{language}.{key} is empty"
            assert set(PLACE.findall(text)) == set(PLACE.findall(english[key])), f"{language}.{key}: other places"


def test_a_site_may_fix_only_a_language_the_snippet_speaks():
    field = Site._meta.get_field("language")
    assert [code for code, _ in field.choices if code] == languages() == list(table()["snippet"])


@pytest.mark.parametrize(
    "texts",
    [
        [],
        {"xx": {"waiting": "…"}},
        {"de": {"no_such_word": "…"}},
        {"de": {"waiting": ""}},
        {"de": {"waiting": "x" * 301}},
        {"de": {"waiting": 3}},
        {"de": ["waiting"]},
    ],
)
def test_a_sites_own_words_must_be_words_of_the_snippet(texts):
    with pytest.raises(ValidationError):
        validate_texts(texts)


def test_a_sites_own_words_in_any_language_pass():
    validate_texts({"de": {"waiting": "Einen Moment bitte", "open": "Fragen?"}, "en": {"greeting": "Hi!"}})


def test_the_text_on_a_colour_is_judged_as_the_snippet_picks_it():
    assert best_contrast("#2457d6") > 4.5  # white on the default blue
    assert best_contrast("#ffd23f") > 4.5  # dark on yellow
    assert best_contrast("#808080") < 4.5  # neither reads well on a mid grey


@pytest.mark.django_db
def test_admin_warns_the_owner_of_a_colour_no_text_reads_well_on(admin_client, site):
    page = f"/admin/visitors/site/{site.pk}/change/"
    form = site_form(
        site, color="#808080", language="de", texts='{"de": {"waiting": "Gleich geht es los"}}', launcher_offset="64"
    )
    response = admin_client.post(page, form, follow=True)

    assert "cannot carry readable text" in response.content.decode()
    site.refresh_from_db()
    assert (site.language, site.texts, site.launcher_offset) == ("de", {"de": {"waiting": "Gleich geht es los"}}, 64)

    response = admin_client.post(page, {**form, "color": "#2457d6", "texts": '{"de": {"nope": "x"}}'})
    assert "not one of the snippet" in response.content.decode()
    site.refresh_from_db()
    assert site.texts == {"de": {"waiting": "Gleich geht es los"}}  # nothing stored from a refused form


@pytest.mark.django_db
def test_the_welcome_carries_the_sites_language_words_and_lift(site):
    from chat.events import site_payload

    Site.objects.filter(pk=site.pk).update(language="ar", texts={"ar": {"waiting": "لحظة"}}, launcher_offset=80)
    payload = site_payload(Site.objects.get(pk=site.pk), online=True)
    assert (payload["language"], payload["texts"], payload["offset"]) == ("ar", {"ar": {"waiting": "لحظة"}}, 80)
    # The default greeting is left to the snippet, which says it in the visitor's language.
    assert payload["greeting"] == ""
