"""Issue 21, case 7: a JSON body nested deeper than the parser goes, or larger than Django's
upload limit, is bad input: a 4xx with the API's error body, on the token endpoint that needs
no login and on any other JSON endpoint, never a 500 with a logged traceback."""

import logging

import pytest
from django.conf import settings
from django.test import Client

from tests.api import make_user

pytestmark = pytest.mark.django_db

NESTED = '{"username": ' + "[" * 100_000 + "]" * 100_000 + "}"


def too_big() -> str:
    return '{"username": "' + "u" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + '", "password": "x"}'


def logged_errors(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [pytest.param(NESTED, 400, "bad_json", id="nested"), pytest.param(None, 413, "too_long", id="too-big")],
)
def test_a_hostile_body_to_the_token_endpoint_is_refused_without_a_server_error(caplog, body, status, code):
    response = Client().post("/api/token/", body if body is not None else too_big(), content_type="application/json")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert logged_errors(caplog) == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [pytest.param(NESTED, 400, "bad_json", id="nested"), pytest.param(None, 413, "too_long", id="too-big")],
)
def test_a_hostile_body_to_an_endpoint_behind_login_is_refused_and_changes_nothing(site, caplog, body, status, code):
    owner = make_user("owner", staff=True, owns=(site,))
    client = Client()
    client.force_login(owner)
    before = site.greeting
    response = client.patch(
        f"/api/sites/{site.pk}/", body if body is not None else too_big(), content_type="application/json"
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert logged_errors(caplog) == []
    site.refresh_from_db()
    assert site.greeting == before
