"""Two-factor login (issue 21): an account with a TOTP device logs in with its code at every
door — the login form, admin's login, `POST /api/token/` — and a session that never gave it
opens neither the panel, admin nor the panel's socket; a missing or wrong code is a failed
login for the rate limits. With WP_REQUIRE_2FA_STAFF, staff without a device set one up first."""

import time
from datetime import timedelta

import django_otp
import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib import admin
from django.test import Client, RequestFactory
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from conftest import PASSWORD
from operators.models import Operator
from operators.tests.test_consumers import operator_headers
from operators.tokens import api_token_issue
from tests.owners import make_staff
from tests.sockets import CommunicatorClient

pytestmark = pytest.mark.django_db(transaction=True)

ATTACKER = "203.0.113.7"


def enrolled(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code the device's app shows now (or that many 30-second steps later: a code is
    accepted once, and the next step's is within the tolerance)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def wrong_code(device: TOTPDevice) -> str:
    right = {code(device, steps_ahead=n) for n in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in right)


def log_in(path: str, username: str, password: str = PASSWORD, otp: str | None = None, ip: str = ATTACKER):
    client = Client(REMOTE_ADDR=ip)
    data = {"username": username, "password": password}
    if otp is not None:
        data["otp"] = otp
    return client.post(path, data), client


def token(username: str, password: str = PASSWORD, otp: str | None = None, ip: str = ATTACKER):
    body = {"username": username, "password": password} | ({"otp": otp} if otp is not None else {})
    return Client(REMOTE_ADDR=ip).post("/api/token/", body, content_type="application/json")


def has_session(client: Client) -> bool:
    return settings.SESSION_COOKIE_NAME in client.cookies


def wait_out_throttle(device: TOTPDevice) -> None:
    """The person waits: after a wrong code a device checks the next one only a second (then 2, 4, ...) later."""
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=timezone.now() - timedelta(hours=1))


def admin_allows(client: Client, user) -> bool:
    """Admin's own check (has_permission) for the client's session, without the middleware's redirect."""
    request = RequestFactory().get("/admin/")
    request.user = user
    request.session = client.session
    return admin.site.has_permission(request)


# The operator's login form ---------------------------------------------------------------


def test_the_right_password_without_the_code_or_with_a_wrong_one_logs_nobody_in_and_counts(
    peter, settings, login_clock
):
    device = enrolled(peter.user)
    settings.WP_RATE_ACCOUNT_IP_LOGINS = "2/300"

    response, client = log_in("/operators/login/", "peter")
    assert response.status_code == 200
    assert "enter the 6-digit code" in response.content.decode()
    assert not has_session(client)

    response, client = log_in("/operators/login/", "peter", otp=wrong_code(device))
    assert response.status_code == 200
    assert "That code is wrong or has expired" in response.content.decode()
    assert not has_session(client)

    # Both counted as failed logins: the account is over its limit from this address, even
    # with the right code.
    response, client = log_in("/operators/login/", "peter", otp=code(device))
    assert response.status_code == 429
    assert not has_session(client)


def test_the_right_code_logs_in_once(peter):
    device = enrolled(peter.user)
    now = code(device)
    response, client = log_in("/operators/login/", "peter", otp=now[:3] + " " + now[3:])
    assert (response.status_code, response.url) == (302, "/panel/")
    assert client.get("/panel/").status_code == 200
    assert client.session[django_otp.DEVICE_ID_SESSION_KEY] == device.persistent_id

    # Seen on the wire, the code is spent: it logs nobody else in.
    response, client = log_in("/operators/login/", "peter", otp=now)
    assert response.status_code == 200
    assert not has_session(client)


def test_an_account_without_a_device_logs_in_with_its_password_alone(peter, jane):
    enrolled(jane.user)
    response, client = log_in("/operators/login/", "peter")
    assert response.status_code == 302
    assert client.get("/panel/").status_code == 200


def test_a_session_opened_without_the_code_reaches_neither_the_panel_nor_admin(site, peter):
    owner = make_staff("olivia", site)
    Operator.objects.create(user=owner).sites.add(site)
    # Sessions logged in with the password alone, before the device was set up.
    for user in (peter.user, owner):
        client = Client()
        client.force_login(user)
        enrolled(user)
        assert client.get("/panel/").url.startswith("/operators/login/")
        assert client.get("/admin/").url.startswith("/admin/login/")
        assert client.get("/operators/2fa/").url.startswith("/operators/login/")
        assert client.get("/api/rooms/").status_code in (401, 403)


# The panel's socket ----------------------------------------------------------------------


def panel_headers(cookie: str) -> list[tuple[bytes, bytes]]:
    return operator_headers(cookie, origin="http://testserver", host="testserver")


async def test_the_panel_socket_needs_a_session_that_gave_the_code(peter):
    @database_sync_to_async
    def sessions() -> tuple[str, str]:
        password_only = Client()
        password_only.force_login(peter.user)
        device = enrolled(peter.user)
        response, with_code = log_in("/operators/login/", "peter", otp=code(device))
        assert response.status_code == 302
        return (
            password_only.cookies[settings.SESSION_COOKIE_NAME].value,
            with_code.cookies[settings.SESSION_COOKIE_NAME].value,
        )

    password_only, with_code = await sessions()
    refused = CommunicatorClient("/ws/operator/", panel_headers(password_only))
    assert not await refused.connect()

    panel = CommunicatorClient("/ws/operator/", panel_headers(with_code))
    assert await panel.connect()
    try:
        await panel.expect("snapshot")
    finally:
        await panel.close()


# Admin ------------------------------------------------------------------------------------


def test_an_enrolled_owners_admin_login_needs_the_code(site, settings, login_clock):
    owner = make_staff("olivia", site)
    device = enrolled(owner)
    settings.WP_RATE_ACCOUNT_IP_LOGINS = "3/300"

    response, client = log_in("/admin/login/?next=/admin/", "olivia")
    assert response.status_code == 200
    assert "enter the 6-digit code" in response.content.decode()
    assert client.get("/admin/").status_code == 302

    response, client = log_in("/admin/login/?next=/admin/", "olivia", otp=wrong_code(device))
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302

    wait_out_throttle(device)
    response, client = log_in("/admin/login/?next=/admin/", "olivia", otp=code(device))
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200

    # The two failures counted: one more and the account is locked out from this address,
    # right code or not.
    log_in("/admin/login/?next=/admin/", "olivia", password="guess")
    response, client = log_in("/admin/login/?next=/admin/", "olivia", otp=code(device, steps_ahead=1))
    assert client.get("/admin/").status_code == 302


# The API's token endpoint ---------------------------------------------------------------


def test_the_token_endpoint_needs_the_code(peter, settings, login_clock):
    device = enrolled(peter.user)
    settings.WP_RATE_ACCOUNT_IP_LOGINS = "3/300"

    missing = token("peter")
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, "invalid")
    assert "otp" in missing.json()["error"]["fields"]
    wrong = token("peter", otp=wrong_code(device))
    assert (wrong.status_code, list(wrong.json()["error"]["fields"])) == (400, ["otp"])

    wait_out_throttle(device)
    right = token("peter", otp=code(device))
    assert right.status_code == 200
    assert Client().get("/api/rooms/", HTTP_AUTHORIZATION=f"Token {right.json()['token']}").status_code == 200

    # The two failures counted against the account from this address.
    token("peter", password="guess")
    assert token("peter", otp=code(device, steps_ahead=1)).status_code == 429


# WP_REQUIRE_2FA_STAFF ------------------------------------------------------------------


def test_required_two_factor_sends_staff_without_a_device_to_enrollment(site, peter, settings):
    settings.WP_REQUIRE_2FA_STAFF = True
    owner = make_staff("olivia", site)
    Operator.objects.create(user=owner).sites.add(site)
    old_token, _ = api_token_issue(user=owner)

    response, client = log_in("/admin/login/?next=/admin/", "olivia")
    assert response.status_code == 302
    for page in ("/admin/", "/admin/visitors/site/", "/panel/"):
        assert client.get(page).url == "/operators/2fa/", page
    assert client.get("/api/rooms/").status_code == 403
    assert not admin_allows(client, owner)
    # No new API token, and one issued before the setting was on no longer works.
    assert token("olivia").status_code == 403
    assert Client().get("/api/rooms/", HTTP_AUTHORIZATION=f"Token {old_token}").status_code == 401

    # The set-up page works; once a code confirms the device, so does everything else.
    page = client.get("/operators/2fa/")
    assert page.status_code == 200
    assert "requires two-factor login" in page.content.decode()
    device = TOTPDevice.objects.get(user=owner, confirmed=False)
    assert client.post("/operators/2fa/", {"code": code(device)}).status_code == 302
    assert client.get("/admin/").status_code == 200
    assert client.get("/panel/").status_code == 200
    assert token("olivia", otp=code(device, steps_ahead=1)).status_code == 200

    # Operators who are not staff are not asked.
    response, operator = log_in("/operators/login/", "peter")
    assert operator.get("/panel/").status_code == 200
    assert token("peter").status_code == 200


async def test_required_two_factor_keeps_a_staff_operator_without_a_device_out_of_the_panel(site, settings):
    settings.WP_REQUIRE_2FA_STAFF = True

    @database_sync_to_async
    def owner_session() -> str:
        owner = make_staff("olivia", site)
        Operator.objects.create(user=owner).sites.add(site)
        response, client = log_in("/operators/login/", "olivia")
        assert response.status_code == 302
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    refused = CommunicatorClient("/ws/operator/", panel_headers(await owner_session()))
    assert not await refused.connect()
