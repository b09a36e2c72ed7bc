"""Case 11: the panel, login, admin and API docs forbid inline script and framing, and over
HTTPS their cookies are Secure (and HSTS is sent once configured)."""

import re

import pytest
from django.conf import settings
from django.test import Client

from conftest import PASSWORD
from tests.owners import make_staff

pytestmark = pytest.mark.django_db

# A data block (type="application/json": the panel's words, issue 24) is never run, so no policy
# governs it; any other <script> with content is inline script.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*\btype=\"application/json\")[^>]*>\s*[^<\s]", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def policy(response) -> dict[str, list[str]]:
    directives = [d.split() for d in response["Content-Security-Policy"].split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def pages(peter) -> dict[str, Client]:
    operator = Client()
    operator.force_login(peter.user)
    root = Client()
    root.force_login(make_staff("root", superuser=True))
    return {
        "/operators/login/": Client(),
        "/operators/password/forgot/": Client(),
        "/operators/password/sent/": Client(),
        "/operators/password/Mg/not-a-token/": Client(),  # an invitation's link, used or wrong
        "/operators/password/done/": Client(),
        "/panel/": operator,
        "/admin/login/": Client(),
        "/admin/": root,
        "/admin/chat/room/": root,
        "/admin/operators/operator/add/": root,
        "/api/docs/": operator,
        "/demo/": Client(),
    }


def test_pages_forbid_inline_script_and_framing_and_have_none(site, peter):
    for path, client in pages(peter).items():
        response = client.get(path)
        assert response.status_code == 200, path
        csp = policy(response)
        script = csp.get("script-src") or csp["default-src"]
        assert script == ["'self'"], path  # no 'unsafe-inline', no 'unsafe-eval', no other host
        assert csp["object-src"] == ["'none'"]
        assert csp["frame-ancestors"] == ["'none'"], path
        assert response["X-Frame-Options"] == "DENY", path
        assert response["X-Content-Type-Options"] == "nosniff"
        html = response.content.decode()
        # The policy would block them: the pages must not need them.
        assert INLINE_SCRIPT.findall(html) == [], path
        assert INLINE_HANDLER.findall(html) == [], path


def login(client: Client, **extra):
    client.get("/operators/login/", **extra)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    return client.post(
        "/operators/login/", {"username": "peter", "password": PASSWORD, "csrfmiddlewaretoken": token}, **extra
    )


def test_cookies_are_secure_over_https_only(peter):
    https = Client(enforce_csrf_checks=True)
    assert login(https, secure=True, HTTP_ORIGIN="https://testserver").status_code == 302
    for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
        assert https.cookies[name]["secure"] is True, name
    assert https.cookies[settings.SESSION_COOKIE_NAME]["httponly"] is True

    # `make run` on http://127.0.0.1 must still log in: there the cookies cannot be Secure.
    http = Client(enforce_csrf_checks=True)
    assert login(http).status_code == 302
    assert not http.cookies[settings.SESSION_COOKIE_NAME]["secure"]


def test_hsts_is_sent_over_https_once_configured(settings):
    assert "Strict-Transport-Security" not in Client().get("/operators/login/", secure=True)
    settings.SECURE_HSTS_SECONDS = 31536000
    assert Client().get("/operators/login/", secure=True)["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in Client().get("/operators/login/")


def test_api_answers_json_even_to_a_browser(site, peter):
    """The API has no HTML views: a browser asking for HTML gets JSON that it will not sniff."""
    browser = Client()
    browser.force_login(peter.user)
    for path in ("/api/visitors/", "/api/rooms/", "/api/sites/", "/api/nowhere/"):
        response = browser.get(path, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
        assert response["Content-Type"].startswith("application/json"), path
        assert response["X-Content-Type-Options"] == "nosniff"
