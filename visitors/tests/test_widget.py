"""The snippet as a site's visitors' browsers fetch it: small, compressed, cached while it is the same."""

import gzip
import json
import re

from django.contrib.staticfiles import finders
from django.test import Client

from visitors.views import snippet, widget_path

# What every visitor of every page downloads (static/widget/widget.js), and what a visitor who
# opens the chat window downloads once more (static/widget/chat.js), as served: with their words
# in every language (static/widget/texts.json) put in.
BUDGET_GZIPPED = 10 * 1024
CHAT_BUDGET_GZIPPED = 16 * 1024


def source(path: str = "widget/widget.js") -> bytes:
    with open(finders.find(path), "rb") as file:
        return file.read()


def served(name: str = "widget.js") -> bytes:
    return snippet(name).body


def test_the_snippet_stays_within_10_kb_gzipped():
    size = len(gzip.compress(served(), compresslevel=9))
    assert size <= BUDGET_GZIPPED, f"widget.js is {size} bytes gzipped, over the {BUDGET_GZIPPED}-byte budget"


def test_the_chat_window_stays_within_16_kb_gzipped():
    size = len(gzip.compress(served("widget-chat.js"), compresslevel=9))
    assert size <= CHAT_BUDGET_GZIPPED, f"chat.js is {size} bytes gzipped, over the {CHAT_BUDGET_GZIPPED}-byte budget"


def test_each_file_carries_its_words_in_every_language():
    for name, part in (("widget.js", "snippet"), ("widget-chat.js", "window")):
        body = served(name).decode()
        assert "/*TEXTS*/{}" not in body
        assert '"de":{' in body
        assert '"ar":{' in body
        words = json.loads(source("widget/texts.json"))[part]
        assert all(json.dumps(text, ensure_ascii=False) in body for text in words["de"].values())


def test_the_chat_window_is_served_like_the_snippet():
    response = Client().get("/widget-chat.js", headers={"accept-encoding": "gzip"})

    assert gzip.decompress(response.content) == served("widget-chat.js")
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=300"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_a_browser_accepting_gzip_gets_the_snippet_compressed():
    response = Client().get("/widget.js", headers={"accept-encoding": "gzip, deflate, br"})

    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    assert gzip.decompress(response.content) == served()
    assert len(response.content) < len(served()) / 2


def test_a_client_without_gzip_gets_it_as_it_is():
    response = Client().get("/widget.js")

    assert not response.has_header("Content-Encoding")
    assert response.content == served()
    assert response["Content-Type"] == "text/javascript; charset=utf-8"


def test_the_pasted_url_is_cached_briefly_and_the_versioned_one_for_a_year():
    pasted = Client().get("/widget.js")
    versioned = Client().get(widget_path())
    stale = Client().get("/widget.js?v=000000000000")

    assert pasted["Cache-Control"] == "public, max-age=300"
    assert versioned["Cache-Control"] == "public, max-age=31536000, immutable"
    # An old release's URL gets today's file, and never for a year.
    assert (stale.content, stale["Cache-Control"]) == (pasted.content, "public, max-age=300")
    assert versioned["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_a_browser_that_has_the_snippet_revalidates_without_downloading_it():
    first = Client().get("/widget.js", headers={"accept-encoding": "gzip"})
    again = Client().get("/widget.js", headers={"accept-encoding": "gzip", "if-none-match": first["ETag"]})

    assert (again.status_code, again.content) == (304, b"")


def test_the_demo_shop_loads_the_snippet_by_its_versioned_url(db):
    page = Client().get("/demo/").content.decode()

    assert re.search(r'src="http://testserver/widget\.js\?v=[0-9a-f]{12}" data-site="demo"', page)
