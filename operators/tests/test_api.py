"""Operators over the REST API, and how API clients log in: a token, or the browser's session."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client

from chat.models import Room
from conftest import PASSWORD
from tests.api import client_for, error_of, ids, make_room, make_user, make_visitor

pytestmark = pytest.mark.django_db


# Operators -------------------------------------------------------------------------------


def test_operator_sees_the_operators_of_their_sites(peter, jane, olga):
    body = client_for(peter.user).get("/api/operators/").json()
    assert body["results"] == [
        {"id": peter.pk, "name": "Peter", "online": False},
        {"id": jane.pk, "name": "Jane", "online": False},
    ]


def test_owner_and_superuser_see_operators_of_the_sites_they_see(site, peter, jane, olga):
    owner = make_user("owner", staff=True, owns=(site,))
    assert ids(client_for(owner).get("/api/operators/")) == [peter.pk, jane.pk]
    root = make_user("root", superuser=True)
    assert ids(client_for(root).get("/api/operators/")) == [peter.pk, jane.pk, olga.pk]
    assert ids(client_for(make_user("staff", staff=True)).get("/api/operators/")) == []


def test_operators_filter_by_site(site, other_site, peter, jane, olga):
    root = client_for(make_user("root", superuser=True))
    assert ids(root.get(f"/api/operators/?site={other_site.pk}")) == [olga.pk]
    assert ids(client_for(peter.user).get(f"/api/operators/?site={other_site.pk}")) == []


def test_operator_of_another_site_is_404(peter, olga):
    assert client_for(peter.user).get(f"/api/operators/{peter.pk}/").json()["name"] == "Peter"
    response = client_for(peter.user).get(f"/api/operators/{olga.pk}/")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_deactivated_operator_is_not_listed(peter, jane):
    get_user_model().objects.filter(pk=jane.user_id).update(is_active=False)
    assert ids(client_for(peter.user).get("/api/operators/")) == [peter.pk]


@pytest.mark.django_db(transaction=True)
async def test_operator_with_a_panel_open_is_online(sockets, peter, jane):
    await sockets.operator(jane)

    def listed():
        return {o["name"]: o["online"] for o in client_for(peter.user).get("/api/operators/").json()["results"]}

    assert await database_sync_to_async(listed)() == {"Peter": False, "Jane": True}


# Tokens -----------------------------------------------------------------------------------


def test_username_and_password_get_a_token_that_opens_the_api(peter):
    response = Client().post(
        "/api/token/", {"username": "peter", "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    again = Client().post("/api/token/", {"username": "peter", "password": PASSWORD}, content_type="application/json")
    assert again.json()["token"] == token
    listed = Client().get("/api/sites/", HTTP_AUTHORIZATION=f"Token {token}")
    assert listed.status_code == 200
    assert listed.json()["count"] == 1


@pytest.mark.parametrize(
    "body", [{"username": "peter", "password": "wrong"}, {"username": "peter"}, {"username": "nobody", "password": "x"}]
)
def test_bad_credentials_get_no_token(peter, body):
    response = Client().post("/api/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"
    assert "token" not in response.json()


def test_deactivated_users_token_stops_working(peter):
    client = client_for(peter.user)
    assert client.get("/api/rooms/").status_code == 200
    get_user_model().objects.filter(pk=peter.user_id).update(is_active=False)
    response = client.get("/api/rooms/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"
    login = Client().post("/api/token/", {"username": "peter", "password": PASSWORD}, content_type="application/json")
    assert login.status_code == 400


# The browser's session -------------------------------------------------------------------


def logged_in_browser(user) -> Client:
    """A browser logged in through the login form: session cookie plus CSRF cookie."""
    browser = Client(enforce_csrf_checks=True)
    browser.get("/operators/login/")
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        "/operators/login/", {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    return browser


def test_logged_in_browser_reads_the_api_with_its_session(site, peter):
    browser = logged_in_browser(peter.user)
    response = browser.get("/api/sites/")
    assert response.status_code == 200
    assert ids(response) == [site.pk]


def test_session_write_without_csrf_token_is_refused(site, peter):
    room = make_room(make_visitor(site), operator=peter)
    browser = logged_in_browser(peter.user)
    response = browser.post(f"/api/rooms/{room.pk}/close/", content_type="application/json")
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "not_allowed"
    assert "CSRF" in error["detail"]
    assert Room.objects.get(pk=room.pk).status == Room.Status.ACTIVE


def test_session_write_with_csrf_token_goes_through(site, peter):
    room = make_room(make_visitor(site), operator=peter)
    browser = logged_in_browser(peter.user)
    response = browser.post(
        f"/api/rooms/{room.pk}/close/",
        content_type="application/json",
        HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value,
    )
    assert response.status_code == 200
    assert response.json()["status"] == "closing"
