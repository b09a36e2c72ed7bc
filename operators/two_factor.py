"""Two-factor login (issue 21): a TOTP device (django-otp) per operator or owner who wants one,
and every way in asking its code: the login form, admin's login, `POST /api/token/` and, through
the session, the panel and its socket. With WP_REQUIRE_2FA_STAFF, staff without a device are sent
to enrollment first (docs/security.md, "Two-factor login").

A session passed its code when django-otp keeps the device in it (DEVICE_ID_SESSION_KEY): a
session opened with the password alone, for an account that has a device (logged in before it
was set up), counts as nobody's."""

import base64
from enum import StrEnum

import django_otp
import segno
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from infra.ratelimit import login_over_limit

# Each code TOTPDevice accepts is 6 digits; spaces people type between the groups are ignored.
CODE_LENGTH = 6


class State(StrEnum):
    PASSED = "passed"  # no device (and none required), or a session that gave its code
    CODE_NEEDED = "code_needed"  # the account has a device; this session never gave its code
    ENROLLMENT_NEEDED = "enrollment_needed"  # WP_REQUIRE_2FA_STAFF and a staff user without a device


class TwoFactorFailed(Exception):
    """A login's code is missing or wrong: counted as a failed login (infra/ratelimit.py)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


MESSAGES = {
    "code_required": "This account has two-factor login: enter the 6-digit code from its authenticator app.",
    "code_wrong": "That code is wrong or has expired. Enter the code your authenticator app shows now.",
    "code_throttled": "Too many wrong codes for this account: wait a few seconds, then enter the current code.",
    "password_wrong": "That is not this account's password.",
    "rate_limited": "Too many failed logins. Wait a few minutes and try again.",
}


# Reads -------------------------------------------------------------------------------


def two_factor_device(*, user: AbstractBaseUser | AnonymousUser) -> TOTPDevice | None:
    """The account's confirmed TOTP device, if it has one."""
    if not user.is_authenticated:
        return None
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).order_by("pk").first()


def two_factor_required(*, user: AbstractBaseUser) -> bool:
    """WP_REQUIRE_2FA_STAFF applies to staff users (site owners) and superusers."""
    return settings.WP_REQUIRE_2FA_STAFF and (user.is_staff or user.is_superuser)


def two_factor_state(*, user: AbstractBaseUser | AnonymousUser, session) -> State:
    """Where a logged-in session stands. `session` is request.session or a socket's scope["session"]."""
    if not user.is_authenticated:
        return State.PASSED
    device = two_factor_device(user=user)
    if device is not None:
        passed = session.get(django_otp.DEVICE_ID_SESSION_KEY) == device.persistent_id
        return State.PASSED if passed else State.CODE_NEEDED
    return State.ENROLLMENT_NEEDED if two_factor_required(user=user) else State.PASSED


def request_state(request: HttpRequest) -> State:
    """two_factor_state of a request's session, read once per request."""
    state = getattr(request, "_two_factor_state", None)
    if state is None:
        state = request._two_factor_state = two_factor_state(user=request.user, session=request.session)
    return state


def secret_text(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it typed in: base32, in groups of four."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_code_data_uri(device: TOTPDevice) -> str:
    """The device's otpauth:// URL as a QR code, an SVG drawn here (no outside service sees the secret)."""
    return segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)


# Logging in ----------------------------------------------------------------------------


def _normalised(code: str | None) -> str:
    return "".join((code or "").split())


def _failed(request, user: AbstractBaseUser, code: str) -> TwoFactorFailed:
    # Counted like a wrong password, against the account and the address (infra/ratelimit.py).
    user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)
    return TwoFactorFailed(code, MESSAGES[code])


def _code_verified(device: TOTPDevice, code: str) -> str | None:
    """None if the device accepts the code now, else why not. Each wrong code makes the device
    wait longer before it checks another (django-otp's throttling: 1 s, 2 s, 4 s, ... until a
    right one), on top of the login limits; kept even when the caller then raises, so the
    verification commits on its own."""
    if len(code) != CODE_LENGTH or not code.isascii() or not code.isdigit():
        return "code_wrong"
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        if not device.verify_is_allowed()[0]:
            return "code_throttled"
        return None if device.verify_token(code) else "code_wrong"


def login_code_check(*, request, user: AbstractBaseUser, code: str | None) -> TOTPDevice | None:
    """After the right password: the code, if the account has a device. Returns the device that
    accepted it (None: the account has none); raises TwoFactorFailed, counted as a failed login,
    when it is missing or wrong. A code is accepted once (django-otp keeps the last time step used)."""
    device = two_factor_device(user=user)
    if device is None:
        return None
    code = _normalised(code)
    problem = _code_verified(device, code) if code else "code_required"
    if problem is not None:
        raise _failed(request, user, problem)
    return device


def session_code_passed(request: HttpRequest, device: TOTPDevice) -> None:
    """This session gave the device's code: kept in it (django-otp), under a new session key."""
    request.session.cycle_key()
    django_otp.login(request, device)
    request._two_factor_state = State.PASSED


# Enrollment and removal (the account's own page, /operators/2fa/) ----------------------


def totp_enrollment(*, user: AbstractBaseUser) -> TOTPDevice:
    """The device being set up: the same secret until it is confirmed, so a reload shows the same QR code."""
    with transaction.atomic():
        device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).order_by("pk").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
        return device


def totp_confirm(*, user: AbstractBaseUser, code: str | None) -> TOTPDevice:
    """The code from the app proves it holds the secret: the device is confirmed, and from now on
    every login of the account needs a code. Raises TwoFactorFailed (code_wrong, code_throttled)."""
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).order_by("pk").first()
    problem = _code_verified(device, _normalised(code)) if device is not None else "code_wrong"
    if problem is not None:
        raise TwoFactorFailed(problem, MESSAGES[problem])
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        # One device per account: any other (an older one, a second set-up) goes.
        TOTPDevice.objects.filter(user_id=user.pk).exclude(pk=device.pk).delete()
    return device


def totp_remove(*, request, user: AbstractBaseUser, code: str | None = None, password: str | None = None) -> None:
    """Two-factor login off, with a current code or the password: a session left open is not
    enough. A wrong one counts as a failed login, and over the login limits neither is checked
    (TwoFactorFailed, request.login_rate_limited set)."""
    device = two_factor_device(user=user)
    if device is None:
        return
    if login_over_limit(request, username=user.get_username()):
        raise TwoFactorFailed("rate_limited", MESSAGES["rate_limited"])
    if _normalised(code):
        login_code_check(request=request, user=user, code=code)
    # authenticate(): a wrong password counts against the limits (infra/ratelimit.py).
    elif authenticate(request, username=user.get_username(), password=password or "") is None:
        raise TwoFactorFailed("password_wrong", MESSAGES["password_wrong"])
    TOTPDevice.objects.filter(user_id=user.pk).delete()
    request.session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)
    request._two_factor_state = None
