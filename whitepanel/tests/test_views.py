"""HTTP: the health check, operator login and logout, and who may open the panel (SPEC §3)."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from conftest import PASSWORD, free_port

pytestmark = pytest.mark.django_db


# Health ---------------------------------------------------------------------------


def test_healthz_is_ok_when_database_and_redis_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["database"] == "ok"
    assert body["redis"] == "ok"


def test_healthz_is_503_when_redis_does_not_answer(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["redis"].startswith("error")
    assert body["status"] != "ok"


# Login ------------------------------------------------------------------------------


def test_login_page_renders_a_form_with_csrf_token(client):
    response = client.get("/operators/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r"<form[^>]*method=\"post\"", html)
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_operator_logging_in_is_sent_to_the_panel(peter):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/operators/login/")
    token = _csrf_token(page.content.decode())
    response = client.post(
        "/operators/login/", {"username": "peter", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    assert response.url == "/panel/"
    assert client.get("/panel/").status_code == 200


def test_wrong_password_does_not_log_in(client, peter):
    response = client.post("/operators/login/", {"username": "peter", "password": "not-the-password"})
    assert response.status_code == 200  # the form again, with its error
    assert 'name="password"' in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/panel/").status_code == 302


def test_login_post_without_csrf_token_is_refused(peter):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/operators/login/", {"username": "peter", "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


# Panel ------------------------------------------------------------------------------


def test_panel_sends_anonymous_users_to_login(client):
    response = client.get("/panel/")
    assert response.status_code == 302
    assert response.url.startswith("/operators/login/")
    assert "next=/panel/" in response.url


def test_panel_is_forbidden_to_a_logged_in_non_operator(client):
    walter = get_user_model().objects.create_user(username="walter", password=PASSWORD)
    client.force_login(walter)
    assert client.get("/panel/").status_code == 403


def test_panel_opens_for_a_logged_in_operator(client, peter):
    client.force_login(peter.user)
    response = client.get("/panel/")
    assert response.status_code == 200
    assert "Peter" in response.content.decode()


# Logout ------------------------------------------------------------------------------


def test_logout_by_get_is_refused(client, peter):
    client.force_login(peter.user)
    assert client.get("/operators/logout/").status_code == 405
    assert client.get("/panel/").status_code == 200


def test_logout_needs_the_csrf_token(peter):
    client = Client(enforce_csrf_checks=True)
    client.force_login(peter.user)
    assert client.post("/operators/logout/").status_code == 403
    panel = client.get("/panel/")
    assert panel.status_code == 200  # still logged in

    response = client.post("/operators/logout/", {"csrfmiddlewaretoken": _csrf_token(panel.content.decode())})
    assert response.status_code == 302
    assert response.url == "/operators/login/"
    assert client.get("/panel/").status_code == 302


def _csrf_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)
