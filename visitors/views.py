"""The site snippet, `/widget.js`, and its chat window, `/widget-chat.js` (loaded by the snippet
the first time the window is wanted): small, compressed, and cached for as long as they are the same.

Owners paste `<script src=".../widget.js" data-site="KEY" async>`: that URL is cached for
five minutes, so a new release reaches every page soon. `/widget.js?v=<version>` (its
content's hash: `widget_path()`, which the pages White Panel renders itself use) is cached
for a year, immutable: a release has a new version. Both are sent gzipped to a browser that
accepts it (docs/embedding.md)."""

import gzip
import hashlib
import json
import os
from dataclasses import dataclass

from django.contrib.staticfiles import finders
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

SHORT_CACHE = "public, max-age=300"
VERSIONED_CACHE = "public, max-age=31536000, immutable"


# The files served, by the name the browser asks for: the source, and which part of the
# translation table (static/widget/texts.json, issue 24) it carries in place of `/*TEXTS*/{}`.
FILES = {"widget.js": ("widget/widget.js", "snippet"), "widget-chat.js": ("widget/chat.js", "window")}
TEXTS_MARK = b"/*TEXTS*/{}"


@dataclass(frozen=True)
class Snippet:
    mtime_ns: int
    body: bytes
    gzipped: bytes
    version: str


_snippets: dict[str, Snippet] = {}


def snippet(name: str = "widget.js") -> Snippet:
    """One of the snippet's files as served: its words put in, read and compressed once (again
    only when it or the words change)."""
    source, part = FILES[name]
    paths = [finders.find(source), finders.find("widget/texts.json")]
    mtime_ns = max(os.stat(path).st_mtime_ns for path in paths)
    current = _snippets.get(name)
    if current is None or current.mtime_ns != mtime_ns:
        body = build(paths[0], paths[1], part)
        version = hashlib.sha256(body).hexdigest()[:12]
        current = _snippets[name] = Snippet(mtime_ns, body, gzip.compress(body, compresslevel=9, mtime=0), version)
    return current


def build(source_path: str, texts_path: str, part: str) -> bytes:
    """The file with its part of the translation table in it, as compact JSON."""
    with open(source_path, "rb") as file:
        body = file.read()
    with open(texts_path, encoding="utf-8") as file:
        texts = json.load(file)[part]
    return body.replace(TEXTS_MARK, json.dumps(texts, ensure_ascii=False, separators=(",", ":")).encode(), 1)


def widget_path() -> str:
    """The snippet's versioned path, for the pages this server renders (the demo shop)."""
    return f"/widget.js?v={snippet().version}"


def _accepts_gzip(request) -> bool:
    return any(part.split(";")[0].strip() == "gzip" for part in request.headers.get("Accept-Encoding", "").split(","))


@require_GET
def widget_js(request, name: str = "widget.js"):
    """The site snippet, loaded by `<script src=".../widget.js" data-site="KEY" async>` on other
    sites, or its chat window's code (`name` "widget-chat.js")."""
    current = snippet(name)
    compressed = _accepts_gzip(request)
    etag = f'"{current.version}{"-gz" if compressed else ""}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    else:
        # The charset matters: a host page in another encoding would garble the widget's own text.
        response = HttpResponse(
            current.gzipped if compressed else current.body, content_type="text/javascript; charset=utf-8"
        )
        if compressed:
            response["Content-Encoding"] = "gzip"
    response["ETag"] = etag
    # An old version's URL gets today's file, cached briefly: never a wrong file for a year.
    response["Cache-Control"] = VERSIONED_CACHE if request.GET.get("v") == current.version else SHORT_CACHE
    patch_vary_headers(response, ["Accept-Encoding"])
    # Owners' pages on other origins must be allowed to load it, even under COEP.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
