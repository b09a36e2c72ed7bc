"""A waiting visitor's place in line (R16, issue 22): shown under the waiting line, moved up live
as requests ahead are taken, gone once theirs is."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_waiting_visitor_sees_their_place_in_line_move_up_when_the_one_ahead_is_taken(
    web_server, peter, panel_for, open_page
):
    panel = panel_for(peter)
    linda = open_page(f"http://{web_server}/demo/")
    linda.locator("[data-testid=wp-launcher]").click()
    linda.locator("[data-testid=wp-input]").fill("Linda here: do you ship to Norway?")
    linda.locator("[data-testid=wp-send]").click()
    expect(linda.locator("[data-testid=wp-queue]")).to_have_text("You are number 1 in line")

    mary = open_page(f"http://{web_server}/demo/product/wool-socks/")
    mary.locator("[data-testid=wp-launcher]").click()
    mary.locator("[data-testid=wp-input]").fill("Mary here: are these socks wool?")
    mary.locator("[data-testid=wp-input]").press("Enter")
    mary_queue = mary.locator("[data-testid=wp-queue]")
    # No accept to go by yet on this site: the place alone.
    expect(mary_queue).to_have_text("You are number 2 in line")
    expect(mary.locator("[data-testid=wp-status]")).to_have_text("Waiting for an operator…")

    panel.locator("[data-testid=pool-item]", has_text="Linda here").locator("[data-testid=accept]").click()

    # Live, with the wait Linda had as the site's usual one now.
    expect(mary_queue).to_have_text(re.compile(r"^You are number 1 in line · usual wait under a minute$"))
    expect(linda.locator("[data-testid=wp-status]")).to_have_text("Peter is here")
    expect(linda.locator("[data-testid=wp-queue]")).to_be_hidden()
    # A new page of Mary's shows it at once (welcome).
    mary.goto(f"http://{web_server}/demo/cart/")
    expect(mary.locator("[data-testid=wp-queue]")).to_have_text("You are number 1 in line · usual wait under a minute")
