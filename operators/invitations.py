"""Invitations: an operator's login is made without a password they could use, and they set
their own from a link mailed to them (issue 21, case 1: owners invite, they never set the
password of an account). The link is Django's password reset: a PasswordResetTokenGenerator
token, which works once (it signs the password hash, which setting one changes) and for
PASSWORD_RESET_TIMEOUT (WP_INVITE_TTL) seconds; `operators/views.py` serves it."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from .models import Operator


class InvitationRefused(Exception):
    """The operator cannot be sent a link: the message says why."""


def password_set_link(*, user, origin: str) -> str:
    """The link at which `user` sets a password, on `origin` (`https://chat.example.com`)."""
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return origin.rstrip("/") + reverse("password-set", kwargs={"uidb64": uidb64, "token": token})


def operator_invite(*, operator: Operator, origin: str, invited_by=None) -> str:
    """Mail `operator` a link to set their password (a first one, or a new one); returns the
    address it went to. Raises InvitationRefused for an operator without an email address or
    one who is deactivated. May raise OSError (the mail server's)."""
    user = operator.user
    if not user.email:
        raise InvitationRefused("no email address")
    if not user.is_active:
        raise InvitationRefused("deactivated")
    context = {
        "operator": operator,
        "username": user.get_username(),
        "link": password_set_link(user=user, origin=origin),
        "expires": timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT),
        "invited_by": invited_by.get_full_name() or invited_by.get_username() if invited_by else "",
        "sites": [site.name for site in operator.sites.order_by("name")],
        "first": not user.has_usable_password(),
    }
    subject = " ".join(render_to_string("operators/invitation_subject.txt", context).split())
    send_mail(subject, render_to_string("operators/invitation_email.txt", context), None, [user.email])
    return user.email
