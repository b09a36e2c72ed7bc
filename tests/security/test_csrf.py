"""Case 6: a page on another site cannot make a logged-in operator's or owner's browser change
anything: every URL of White Panel, asked to change state with the session cookie but without
the CSRF token, refuses with 403 and nothing changes. Found by walking the URL patterns, so a
view added later is covered too."""

import re

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client
from django.urls import URLResolver, get_resolver

from chat.models import Room
from conftest import PASSWORD
from tests.api import make_message, make_room, make_visitor

pytestmark = pytest.mark.django_db

# Answer without cookies, so there is nothing to forge: the API's catch-all 404, and the token
# endpoint, which reads a password from the body and sets no cookie (its answer stays unreadable
# to another origin); the visitor's file upload (issue 23), called cross-origin by the snippet with
# the visitor's token in its form, never a cookie (chat/tests/test_files.py tests its origins).
COOKIELESS = {"api/token/", "api/^.*$", "admin/(?P<url>.*)$", "files/visitor/"}
UNSAFE = ("post", "put", "patch", "delete")


def url_patterns(patterns=None, prefix: str = ""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


def concrete(pattern: str, ids: dict[str, int]) -> str:
    """A real path for a pattern: ids of objects that exist, the first app of a regex choice."""
    path = re.sub(r"\^\(\?P<app_label>(\w+)[^$]*\$", r"\1/", pattern)
    path = re.sub(r"<slug:\w+>", "shoes", path)

    def object_id(match: re.Match) -> str:
        model = path.split("/")[2] if path.startswith("admin/") else match.group(0)
        return str(ids.get(model, ids["room"]))

    return "/" + re.sub(r"<(?:int:|path:)?\w+>", object_id, path)


def fingerprint() -> dict:
    """Everything an attack could change, in one comparable value."""
    state = {}
    for model in apps.get_models():
        rows = model.objects.order_by("pk").values()
        state[model._meta.label] = [
            {k: v for k, v in row.items() if k not in ("last_login", "last_seen", "expire_date")} for row in rows
        ]
    return state


@pytest.fixture
def world(site, peter, jane):
    """Peter is an operator and a superuser (he reaches every view); the world has one of everything."""
    peter.user.is_staff = peter.user.is_superuser = True
    peter.user.save()
    visitor = make_visitor(site)
    room = make_room(visitor, operator=peter, status=Room.Status.ACTIVE)
    message = make_message(room, "hello")
    return {
        "site": site.pk,
        "visitor": visitor.pk,
        "operator": jane.pk,
        "user": jane.user_id,
        "room": room.pk,
        "message": message.pk,
        "group": 1,
        "tokenproxy": peter.user_id,
        "content_type_id": 1,
        "object_id": site.pk,
        "id": room.pk,
    }


def forged_bodies(path: str, ids: dict) -> dict:
    """What an attacker's form would carry: the admin's delete confirmation, an action on every
    object, a new password, a message; never the CSRF token."""
    return {
        "post": "yes",
        "action": "delete_selected",
        "_selected_action": list(ids.values()),
        "password1": "attacker-password-1",
        "password2": "attacker-password-1",
        "body": "forged",
        "username": "peter",
        "password": PASSWORD,
        "greeting": "Hacked",
    }


def test_no_url_changes_anything_without_the_csrf_token(world, peter):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(peter.user)
    before = fingerprint()
    checked = 0
    for pattern in url_patterns():
        if pattern in COOKIELESS:
            continue
        path = concrete(pattern, world)
        for method in UNSAFE:
            response = getattr(browser, method)(path, forged_bodies(path, world))
            assert response.status_code == 403, f"{method.upper()} {path}: {response.status_code}"
            checked += 1
    assert fingerprint() == before
    assert checked >= 4 * 70  # every pattern, not a few


def test_the_same_requests_with_the_token_do_work(world, peter):
    """The 403 above is the CSRF check, not something else: with the token, the logout and an
    admin delete go through."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(peter.user)
    browser.get("/panel/")
    token = browser.cookies[settings.CSRF_COOKIE_NAME].value
    path = f"/admin/visitors/visitor/{world['visitor']}/delete/"
    assert browser.post(path, {"post": "yes"}).status_code == 403
    assert browser.post(path, {"post": "yes", "csrfmiddlewaretoken": token}).status_code == 302
    assert not apps.get_model("visitors", "Visitor").objects.filter(pk=world["visitor"]).exists()
    assert browser.post("/operators/logout/", HTTP_X_CSRFTOKEN=token).status_code == 302
    assert browser.get("/panel/").status_code == 302  # to the login page


def test_login_form_needs_its_token_too(peter):
    """Login CSRF: another site cannot log a browser into an account of its choosing."""
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/operators/login/", {"username": "peter", "password": PASSWORD})
    assert response.status_code == 403
    assert settings.SESSION_COOKIE_NAME not in browser.cookies
