"""Issue 21, case 1: owners invite operators, who set their own password from a link mailed to
them (Django's password reset machinery); nobody sets the password of an existing account, and
"forgot your password?" says nothing about which addresses have an account."""

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.test import Client

from conftest import PASSWORD
from operators.models import Operator
from tests.owners import admin_client, make_staff

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "my-own-passphrase-7"
LINK = re.compile(r"https?://\S+/operators/password/[^/\s]+/[^/\s]+/")


@pytest.fixture
def owner(site):
    return make_staff("owner", site)


def invite_anna(manager, site):
    return admin_client(manager).post(
        "/admin/operators/operator/add/",
        {"username": "anna", "first_name": "Anna", "email": "anna@example.com", "is_active": "on", "sites": [site.pk]},
        follow=True,
    )


def link_in(message) -> str:
    (link,) = LINK.findall(message.body)
    return link


def set_password(link: str, password: str = NEW_PASSWORD) -> tuple[Client, object]:
    """What the operator does with the link in a browser: open it, fill in the form."""
    browser = Client()
    form = browser.get(link, follow=True)
    response = browser.post(form.redirect_chain[-1][0] if form.redirect_chain else link, {
        "new_password1": password,
        "new_password2": password,
    })  # fmt: skip
    return browser, response


def log_in(username: str, password: str) -> Client:
    browser = Client()
    response = browser.post("/operators/login/", {"username": username, "password": password})
    assert response.status_code in (200, 302)
    return browser


def can_open_the_panel(browser: Client) -> bool:
    return browser.get("/panel/").status_code == 200


@pytest.mark.parametrize("who", ["owner", "superuser"])
def test_adding_an_operator_mails_one_link_with_which_they_set_a_password_and_log_in(site, owner, who):
    manager = owner if who == "owner" else make_staff("root", superuser=True)
    page = invite_anna(manager, site)

    assert "A link to set their password was mailed to anna@example.com." in page.content.decode()
    assert b'name="password1"' not in admin_client(manager).get("/admin/operators/operator/add/").content
    (invitation,) = mail.outbox
    assert invitation.to == ["anna@example.com"]
    assert "Your username: anna" in invitation.body
    assert "Shop" in invitation.body
    anna = Operator.objects.get(user__username="anna")
    assert not anna.user.has_usable_password()  # nobody knows a password of hers yet

    browser, response = set_password(link_in(invitation))

    assert response.status_code == 302
    assert "Your password is set" in browser.get(response.url).content.decode()
    assert can_open_the_panel(log_in("anna", NEW_PASSWORD))


def test_a_link_works_once(site, owner):
    invite_anna(owner, site)
    link = link_in(mail.outbox[0])
    set_password(link)

    # Whoever finds the mail later (a shared mailbox, a forwarded copy) cannot use it again.
    again = Client().get(link, follow=True)
    _, reused = set_password(link, "taken-over-password-1")

    assert "This link does not work" in again.content.decode()
    assert b"new_password1" not in again.content
    assert "This link does not work" in reused.content.decode()
    assert not can_open_the_panel(log_in("anna", "taken-over-password-1"))
    assert can_open_the_panel(log_in("anna", NEW_PASSWORD))


def test_a_link_expires_after_wp_invite_ttl(site, owner, settings, monkeypatch):
    settings.PASSWORD_RESET_TIMEOUT = 3600
    invite_anna(owner, site)
    link = link_in(mail.outbox[0])

    later = datetime.now() + timedelta(seconds=3600 + 60)
    monkeypatch.setattr(PasswordResetTokenGenerator, "_now", lambda self: later)
    _, response = set_password(link)

    assert "This link does not work" in response.content.decode()
    assert not can_open_the_panel(log_in("anna", NEW_PASSWORD))


@pytest.mark.parametrize("target", ["superuser", "co-owner", "staff", "shared"])
def test_owner_cannot_send_a_link_for_a_more_powerful_or_shared_account(site, other_site, owner, make_operator, target):
    """Sending a reset link is changing the account: never a superuser's, another staff
    account's, or an operator's who also serves a site the owner does not own."""
    victim = make_operator("vic", site, *([other_site] if target == "shared" else []))
    User = get_user_model()
    User.objects.filter(pk=victim.user_id).update(
        email="vic@example.com", is_staff=target != "shared", is_superuser=target == "superuser"
    )
    if target == "co-owner":
        site.owners.add(victim.user)

    page = admin_client(owner).post(
        "/admin/operators/operator/", {"action": "invite", "_selected_action": [victim.pk]}, follow=True
    )

    assert "1 operator(s) you may not manage: no link sent." in page.content.decode()
    assert mail.outbox == []
    # A superuser may.
    admin_client(make_staff("root", superuser=True)).post(
        "/admin/operators/operator/", {"action": "invite", "_selected_action": [victim.pk]}
    )
    assert [message.to for message in mail.outbox] == [["vic@example.com"]]


def test_owner_resends_an_invitation_to_their_operator_but_not_without_an_address(site, owner, peter, jane):
    get_user_model().objects.filter(pk=peter.user_id).update(email="peter@example.com")

    page = admin_client(owner).post(
        "/admin/operators/operator/", {"action": "invite", "_selected_action": [peter.pk, jane.pk]}, follow=True
    )

    assert "No link sent to jane: no email address." in page.content.decode()
    (message,) = mail.outbox
    assert message.to == ["peter@example.com"]
    set_password(link_in(message))
    assert can_open_the_panel(log_in("peter", NEW_PASSWORD))


def test_owner_cannot_send_an_operators_links_to_another_address(site, owner, peter):
    """Changing the address and then asking for a link would be setting their password: once an
    operator has set a password, their address is theirs (an owner may still correct the address
    of an invitation nobody has used yet)."""
    User = get_user_model()
    User.objects.filter(pk=peter.user_id).update(email="peter@example.com")
    client = admin_client(owner)
    form = {"username": "peter", "first_name": "Peter", "is_active": "on", "sites": [site.pk]}

    client.post(f"/admin/operators/operator/{peter.pk}/change/", form | {"email": "owner@evil.test"})
    Client().post("/operators/password/forgot/", {"email": "owner@evil.test"})

    assert User.objects.get(pk=peter.user_id).email == "peter@example.com"
    assert mail.outbox == []
    # An invitation not yet used: its address may be corrected.
    invite_anna(owner, site)
    anna = Operator.objects.get(user__username="anna")
    form = {"username": "anna", "first_name": "Anna", "is_active": "on", "sites": [site.pk]}
    client.post(f"/admin/operators/operator/{anna.pk}/change/", form | {"email": "anna@shop.test"})
    assert User.objects.get(pk=anna.user_id).email == "anna@shop.test"


def test_forgot_password_answers_the_same_for_known_and_unknown_addresses(peter):
    get_user_model().objects.filter(pk=peter.user_id).update(email="peter@example.com")

    known = Client().post("/operators/password/forgot/", {"email": "peter@example.com"}, follow=True)
    unknown = Client().post("/operators/password/forgot/", {"email": "nobody@example.com"}, follow=True)

    assert known.redirect_chain == unknown.redirect_chain == [("/operators/password/sent/", 302)]
    assert known.content == unknown.content
    assert "If a login has that email address" in known.content.decode()
    (message,) = mail.outbox
    assert message.to == ["peter@example.com"]
    # The link sets a new password; the old one stops working.
    set_password(link_in(message))
    assert can_open_the_panel(log_in("peter", NEW_PASSWORD))
    assert not can_open_the_panel(log_in("peter", PASSWORD))


def test_login_page_links_to_forgot_password():
    page = Client().get("/operators/login/").content.decode()
    assert 'href="/operators/password/forgot/"' in page
