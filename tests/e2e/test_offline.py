"""R16 in the browser: with nobody online the snippet says so before the visitor writes, takes a
name and email, and thanks them; the operator who comes finds the request marked offline, with
how to reach its visitor, and answers it as any other."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_with_nobody_online_the_snippet_says_so_takes_an_email_and_the_operator_finds_it(
    web_server, site, peter, panel_for, open_page, sweeper
):
    linda = open_page(f"http://{web_server}/demo/")
    linda.locator("[data-testid=wp-launcher]").click()
    notice = linda.locator("[data-testid=wp-offline-text]")
    expect(notice).to_have_text(
        "We're offline right now \u2014 leave a message and your email and we'll get back to you"
    )

    linda.locator("[data-testid=wp-name]").fill("Linda")
    linda.locator("[data-testid=wp-email]").fill("linda@example.com")
    linda.locator("[data-testid=wp-details-save]").click()
    expect(notice).to_have_text("Thanks, we'll reply to linda@example.com")
    expect(linda.locator("[data-testid=wp-details]")).to_be_hidden()
    linda.locator("[data-testid=wp-input]").fill("Do you ship to Norway?")
    linda.locator("[data-testid=wp-send]").click()
    # Her message is the request (R4), kept while nobody is online.
    expect(linda.locator("[data-testid=wp-status]")).to_have_text("We're offline")

    # Peter comes: the request waits in his pool, marked, with how to reach her.
    panel = panel_for(peter)
    item = panel.locator("[data-testid=pool-item]")
    expect(item.locator("[data-testid=pool-offline]")).to_have_text("Offline request · Linda · linda@example.com")
    expect(item.locator("[data-testid=pool-message]")).to_have_text("Do you ship to Norway?")
    # Her snippet still has her thanked, and hears someone is there.
    expect(notice).to_have_text("Thanks, we'll reply to linda@example.com")
    expect(linda.locator("[data-testid=wp-status]")).to_have_text("Nobody is free right now")

    item.locator("[data-testid=accept]").click()
    expect(panel.locator("[data-testid=room-contact]")).to_have_text("Linda · linda@example.com")
    panel.locator("[data-testid=message-input]").fill("We do, in three days.")
    panel.locator("[data-testid=send]").click()
    expect(linda.locator("[data-testid=wp-status]")).to_have_text("Peter is here")
    expect(linda.locator("[data-testid=wp-offline]")).to_be_hidden()
    expect(linda.locator("[data-testid=wp-message][data-sender=operator]")).to_contain_text("We do, in three days.")


def test_a_visitor_sees_when_an_operator_comes_online(web_server, site, peter, panel_for, open_page):
    linda = open_page(f"http://{web_server}/demo/")
    linda.locator("[data-testid=wp-launcher]").click()
    expect(linda.locator("[data-testid=wp-offline]")).to_be_visible()

    panel_for(peter)

    expect(linda.locator("[data-testid=wp-offline]")).to_be_hidden()
    # Someone is there now: her first message is a request that waits for them (R4).
    linda.locator("[data-testid=wp-input]").fill("Anyone there?")
    linda.locator("[data-testid=wp-input]").press("Enter")
    expect(linda.locator("[data-testid=wp-status]")).to_have_text("Waiting for an operator…")
