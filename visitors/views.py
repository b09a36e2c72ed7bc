"""The site snippet, `/widget.js`: small, compressed, and cached for as long as it is the same.

Owners paste `<script src=".../widget.js" data-site="KEY" async>`: that URL is cached for
five minutes, so a new release reaches every page soon. `/widget.js?v=<version>` (its
content's hash: `widget_path()`, which the pages White Panel renders itself use) is cached
for a year, immutable: a release has a new version. Both are sent gzipped to a browser that
accepts it (docs/embedding.md)."""

import gzip
import hashlib
import os
from dataclasses import dataclass

from django.contrib.staticfiles import finders
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

SHORT_CACHE = "public, max-age=300"
VERSIONED_CACHE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Snippet:
    mtime_ns: int
    body: bytes
    gzipped: bytes
    version: str


_snippet: Snippet | None = None


def snippet() -> Snippet:
    """The snippet's file, read and compressed once (again only when the file changes)."""
    global _snippet
    path = finders.find("widget/widget.js")
    mtime_ns = os.stat(path).st_mtime_ns
    if _snippet is None or _snippet.mtime_ns != mtime_ns:
        with open(path, "rb") as file:
            body = file.read()
        version = hashlib.sha256(body).hexdigest()[:12]
        _snippet = Snippet(mtime_ns, body, gzip.compress(body, compresslevel=9, mtime=0), version)
    return _snippet


def widget_path() -> str:
    """The snippet's versioned path, for the pages this server renders (the demo shop)."""
    return f"/widget.js?v={snippet().version}"


def _accepts_gzip(request) -> bool:
    return any(part.split(";")[0].strip() == "gzip" for part in request.headers.get("Accept-Encoding", "").split(","))


@require_GET
def widget_js(request):
    """The site snippet, loaded by `<script src=".../widget.js" data-site="KEY" async>` on other sites."""
    current = snippet()
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
