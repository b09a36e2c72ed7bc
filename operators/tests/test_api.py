"""Operators over the REST API, and how API clients log in: a token, or the browser's session."""

from datetime import datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from chat.models import Room
from chat.shifts import operator_deactivate
from conftest import PASSWORD
from tests.api import client_for, error_of, ids, make_room, make_user, make_visitor

pytestmark = pytest.mark.django_db


# Operators -------------------------------------------------------------------------------


def test_operator_sees_the_operators_of_their_sites(peter, jane, olga):
    body = client_for(peter.user).get("/api/operators/").json()
    assert body["results"] == [
        {"id": peter.pk, "name": "Peter", "online": False, "status": "available"},
        {"id": jane.pk, "name": "Jane", "online": False, "status": "available"},
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


def test_filter_by_another_tenants_site_does_not_tell_which_colleagues_also_serve_it(
    site, other_site, peter, jane, olga
):
    """Issue 21, case 9: Jane serves Peter's site and another tenant's; Peter asking for that
    site's operators learns nothing, as for any site he cannot see."""
    jane.sites.add(other_site)
    assert ids(client_for(peter.user).get(f"/api/operators/?site={other_site.pk}")) == []
    assert ids(client_for(peter.user).get(f"/api/operators/?site={site.pk}")) == [peter.pk, jane.pk]
    root = client_for(make_user("root", superuser=True))
    assert ids(root.get(f"/api/operators/?site={other_site.pk}")) == [jane.pk, olga.pk]


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


def log_in(username: str = "peter", password: str = PASSWORD):
    return Client().post("/api/token/", {"username": username, "password": password}, content_type="application/json")


def sites_with(token: str):
    return Client().get("/api/sites/", HTTP_AUTHORIZATION=f"Token {token}")


def test_username_and_password_get_a_token_that_opens_the_api(peter):
    response = log_in()
    assert response.status_code == 200
    token = response.json()["token"]
    listed = sites_with(token)
    assert listed.status_code == 200
    assert listed.json()["count"] == 1
    # Each login issues another token; both work until they expire.
    again = log_in().json()["token"]
    assert again != token
    assert sites_with(again).status_code == 200
    assert sites_with(token).status_code == 200


def test_a_token_is_stored_as_a_digest_and_expires_after_its_lifetime(peter, settings):
    response = log_in()
    token, expiry = response.json()["token"], datetime.fromisoformat(response.json()["expiry"])
    assert (
        timedelta(seconds=settings.WP_API_TOKEN_TTL - 60)
        < expiry - timezone.now()
        <= timedelta(seconds=settings.WP_API_TOKEN_TTL)
    )
    stored = AuthToken.objects.get(user=peter.user)
    assert token not in (stored.digest, stored.token_key)  # a leaked database hands out no token
    # The clock moved past the expiry: the token answers like a wrong one, and is gone.
    AuthToken.objects.filter(pk=stored.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    response = sites_with(token)
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"
    assert not AuthToken.objects.filter(user=peter.user).exists()


def test_a_password_change_revokes_every_token_of_the_account(peter):
    old, other = log_in().json()["token"], log_in().json()["token"]
    peter.user.set_password("a new password, long enough")
    peter.user.save()
    assert [sites_with(token).status_code for token in (old, other)] == [401, 401]
    assert log_in(password=PASSWORD).status_code == 400
    fresh = log_in(password="a new password, long enough").json()["token"]
    assert sites_with(fresh).status_code == 200


def test_a_deactivated_operator_reactivated_has_no_token_that_works(peter):
    """Issue 21, case 6: deactivation used to leave the token in place, and reactivation revived it."""
    token = log_in().json()["token"]
    operator_deactivate(operator=peter)
    get_user_model().objects.filter(pk=peter.user_id).update(is_active=True)
    assert sites_with(token).status_code == 401
    assert sites_with(log_in().json()["token"]).status_code == 200


def test_a_user_deactivated_in_admin_or_the_shell_loses_their_tokens(site):
    owner = make_user("owner", staff=True, owns=(site,))
    owner.set_password(PASSWORD)
    owner.save()
    token = log_in("owner").json()["token"]
    owner.is_active = False
    owner.save()
    owner.is_active = True
    owner.save()
    assert sites_with(token).status_code == 401


def test_a_token_that_is_not_text_is_refused_like_a_wrong_one(peter):
    response = Client().get("/api/sites/", HTTP_AUTHORIZATION="Token \xe9\xff-not-utf8")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


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
