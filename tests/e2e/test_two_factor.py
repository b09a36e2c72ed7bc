"""Two-factor login in Chromium (docs/security.md, "Two-factor login"): an operator sets it up
from the panel, and their next login needs the app's code before the panel connects."""

import base64
import time

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def app_code(secret: str, *, steps_ahead: int = 0) -> str:
    """What an authenticator app given the page's secret shows (the next step's, for a second login)."""
    secret = "".join(secret.split())
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    totp = TOTP(key)
    totp.time = time.time() + steps_ahead * 30
    return f"{totp.token():06d}"


def test_an_operator_sets_up_two_factor_login_and_then_logs_in_with_the_code(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    expect(panel.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")
    panel.get_by_test_id("two-factor-link").click()
    panel.wait_for_url("**/operators/2fa/")
    qr = panel.get_by_test_id("two-factor-qr")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # drawn, under the page's policy
    secret = panel.get_by_test_id("two-factor-secret").inner_text()

    panel.fill("input[name=code]", "000000" if app_code(secret) != "000000" else "111111")
    panel.click("button[value=confirm]")
    expect(panel.locator(".errorlist")).to_contain_text("wrong or has expired")
    TOTPDevice.objects.filter(user=peter.user).update(throttling_failure_timestamp=None, throttling_failure_count=0)
    panel.fill("input[name=code]", app_code(secret))
    panel.click("button[value=confirm]")
    expect(panel.get_by_test_id("two-factor-on")).to_be_visible()

    # Another browser: the password alone is not enough any more; with the code the panel connects.
    login = open_page(f"http://{web_server}/operators/login/")
    login.fill("input[name=username]", "peter")
    login.fill("input[name=password]", PASSWORD)
    login.click("button[type=submit]")
    expect(login.locator(".errorlist")).to_contain_text("enter the 6-digit code")
    login.fill("input[name=password]", PASSWORD)
    login.fill("input[name=otp]", app_code(secret, steps_ahead=1))
    login.click("button[type=submit]")
    login.wait_for_url("**/panel/")
    expect(login.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")
