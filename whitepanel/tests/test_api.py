"""Every error the API answers has the same JSON body, whatever went wrong."""

import pytest
from django.db import OperationalError

from chat import api as chat_api
from tests.api import client_for, error_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/nothing/", "/api/rooms", "/api/rooms/-1/", "/api/rooms/1/reopen/"])
def test_unknown_api_url_is_a_json_404(peter, path):
    response = client_for(peter.user).get(path)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_wrong_method_is_405_method_not_allowed(peter):
    response = client_for(peter.user).delete("/api/rooms/")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_server_failure_is_a_json_500_and_is_logged(peter, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(chat_api.selectors, "rooms_visible_to", broken)
    response = client_for(peter.user).get("/api/rooms/")
    assert response.status_code == 500
    assert error_of(response) == {"code": "server_error", "detail": "something went wrong on the server"}
    assert "a bug" in caplog.text


def test_database_failure_is_a_json_503_unavailable(peter, monkeypatch):
    def unreachable(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(chat_api.selectors, "rooms_visible_to", unreachable)
    response = client_for(peter.user).get("/api/rooms/")
    assert response.status_code == 503
    assert error_of(response)["code"] == "unavailable"
