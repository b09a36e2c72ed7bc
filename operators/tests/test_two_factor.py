"""The two-factor page, /operators/2fa/ (operators/two_factor.py): an operator or owner sets up a
TOTP device from a QR code drawn here, confirmed by a current code, and turns it off with a
current code or their password. The doors that ask for the code: tests/security/test_two_factor.py."""

import base64
import time
from urllib.parse import unquote

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from conftest import PASSWORD
from tests.owners import make_staff

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def test_setting_up_shows_a_qr_code_drawn_here_and_the_secret(peter):
    client = logged_in(peter.user)
    page = client.get("/operators/2fa/").content.decode()
    device = TOTPDevice.objects.get(user=peter.user, confirmed=False)
    secret = base64.b32encode(device.bin_key).decode()
    assert "".join(page.split('data-testid="two-factor-secret">')[1].split("<")[0].split()) == secret
    qr = page.split('data-testid="two-factor-qr"')[0].rsplit('src="', 1)[1].split('"')[0]
    assert qr.startswith("data:image/svg+xml")  # no outside service sees the secret
    assert "<svg" in unquote(qr)
    # A reload shows the same secret: the app set up from the first still works.
    assert secret in "".join(client.get("/operators/2fa/").content.decode().split())


def test_enrollment_needs_a_valid_code_to_confirm(peter):
    client = logged_in(peter.user)
    client.get("/operators/2fa/")
    device = TOTPDevice.objects.get(user=peter.user)

    for wrong in ("", "12345", "abcdef", "000000" if code(device) != "000000" else "111111"):
        response = client.post("/operators/2fa/", {"code": wrong})
        assert response.status_code == 200
        assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    # Not set up: the password alone still logs in.
    assert Client().post("/operators/login/", {"username": "peter", "password": PASSWORD}).status_code == 302

    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    response = client.post("/operators/2fa/", {"code": code(device)})
    assert (response.status_code, response.url) == (302, "/operators/2fa/")
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    # This session gave the code, so it keeps its panel; a new login needs the code.
    assert client.get("/panel/").status_code == 200
    assert 'data-testid="two-factor-on"' in client.get("/operators/2fa/").content.decode()
    assert Client().post("/operators/login/", {"username": "peter", "password": PASSWORD}).status_code == 200


def enrolled_session(user) -> tuple[Client, TOTPDevice]:
    client = logged_in(user)
    client.get("/operators/2fa/")
    device = TOTPDevice.objects.get(user=user)
    assert client.post("/operators/2fa/", {"code": code(device)}).status_code == 302
    return client, device


def test_turning_it_off_needs_a_current_code_or_the_password(peter):
    client, device = enrolled_session(peter.user)
    response = client.post("/operators/2fa/", {"password": "not-my-password"})
    assert response.status_code == 200
    assert "not this account&#x27;s password" in response.content.decode()
    assert client.post("/operators/2fa/", {}).status_code == 200
    assert TOTPDevice.objects.filter(pk=device.pk, confirmed=True).exists()

    assert client.post("/operators/2fa/", {"password": PASSWORD}).status_code == 302
    assert not TOTPDevice.objects.filter(user=peter.user).exists()
    assert Client().post("/operators/login/", {"username": "peter", "password": PASSWORD}).status_code == 302


def test_an_owner_turns_it_off_with_a_current_code(site):
    owner = make_staff("olivia", site)
    client, device = enrolled_session(owner)
    assert client.get("/admin/").status_code == 200
    assert client.post("/operators/2fa/", {"code": code(device, steps_ahead=1)}).status_code == 302
    assert not TOTPDevice.objects.filter(user=owner).exists()
    assert client.get("/admin/").status_code == 200


def test_the_page_needs_a_login():
    assert Client().get("/operators/2fa/").url.startswith("/operators/login/")
