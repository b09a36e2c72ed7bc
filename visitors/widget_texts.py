"""The snippet's words (issue 24): its languages, the keys of its translation table
(static/widget/texts.json, the one source the snippet and these checks read), a site's own
words in place of any of them, and whether a site's colour can carry readable text."""

import json
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError

TEXTS_PATH = Path(settings.BASE_DIR) / "static" / "widget" / "texts.json"
# A site's own text for one of the snippet's words: as long as the longest of ours, about.
MAX_TEXT_LENGTH = 300
# Languages written right to left: the window mirrors for them.
RIGHT_TO_LEFT = frozenset({"ar", "he", "fa", "ur"})
# WCAG 2.2 AA for normal text.
MIN_CONTRAST = 4.5


@cache
def table() -> dict:
    """The translation table: {"snippet": {language: {key: text}}, "window": {…}}."""
    with open(TEXTS_PATH, encoding="utf-8") as file:
        return json.load(file)


def languages() -> list[str]:
    return list(table()["window"])


def keys() -> set[str]:
    return set(table()["snippet"]["en"]) | set(table()["window"]["en"])


def validate_texts(value) -> None:
    """A site's own words: {language: {key: text}}, each language one the snippet speaks, each
    key one of its words, each text a short string."""
    if not isinstance(value, dict):
        raise ValidationError('An object of languages, e.g. {"en": {"waiting": "One moment…"}}.')
    known = keys()
    for language, words in value.items():
        if language not in languages():
            raise ValidationError(f"{language!r} is not one of the snippet's languages ({', '.join(languages())}).")
        if not isinstance(words, dict):
            raise ValidationError(f'{language!r}: an object of words, e.g. {{"waiting": "One moment…"}}.')
        for key, text in words.items():
            if key not in known:
                raise ValidationError(f"{key!r} is not one of the snippet's words (docs/embedding.md lists them).")
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT_LENGTH:
                raise ValidationError(f"{language}.{key}: a text of 1 to {MAX_TEXT_LENGTH} characters.")


def _luminance(color: str) -> float:
    def channel(i: int) -> float:
        c = int(color[i : i + 2], 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)


def best_contrast(color: str) -> float:
    """The contrast of the text the snippet puts on this colour (dark or white, whichever
    reads better: the snippet chooses the same way)."""
    light = _luminance(color)
    dark = _luminance("#1b1b1b")
    return max((1.0 + 0.05) / (light + 0.05), (light + 0.05) / (dark + 0.05))
