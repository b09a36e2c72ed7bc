"""The snippet wears its site's greeting and colour, as the owner set them in Django admin."""

import pytest
from playwright.sync_api import expect

from chat import shifts
from visitors.models import Site

pytestmark = pytest.mark.django_db(transaction=True)

GREETING = "Hej! Looking for a size?"
HOSTILE_GREETING = "<img src=x onerror=alert(1)> Hi!"


@pytest.fixture
def branded(request, site):
    """The demo site with the greeting and colour of the test's parameter, set before the
    browser starts (ORM calls beside Playwright's event loop would leave a connection open)."""
    greeting, color = request.param
    Site.objects.filter(pk=site.pk).update(greeting=greeting, color=color)
    return site


@pytest.fixture
def someone_online(peter):
    """An operator of the site is online (R16: with nobody, the window says so instead)."""
    shifts.operator_connect(operator=peter)


@pytest.mark.parametrize("branded", [(GREETING, "#0a7d3b")], indirect=True)
@pytest.mark.usefixtures("someone_online")
def test_widget_shows_the_sites_greeting_and_colour(web_server, branded, open_page):
    shop = open_page(f"http://{web_server}/demo/")
    launcher = shop.locator("[data-testid=wp-launcher]")
    expect(launcher).to_have_css("background-color", "rgb(10, 125, 59)")
    expect(launcher).to_have_css("color", "rgb(255, 255, 255)")
    launcher.click()

    # With no chat yet, the greeting is the window's title and heads the conversation.
    expect(shop.locator("[data-testid=wp-status]")).to_have_text(GREETING)
    expect(shop.locator("[data-testid=wp-greeting]")).to_have_text(GREETING)
    expect(shop.locator("[data-testid=wp-greeting]")).to_be_visible()
    # The first message asks for an operator.
    shop.locator("[data-testid=wp-input]").fill("Do you have these in 42?")
    shop.locator("[data-testid=wp-input]").press("Enter")
    expect(shop.locator("[data-testid=wp-status]")).to_have_text("Waiting for an operator…")
    expect(shop.locator("[data-testid=wp-send]")).to_have_css("background-color", "rgb(10, 125, 59)")
    # The next page starts in the site's colour, before its socket has even said hello.
    shop.route_web_socket("**/ws/visitor/**", lambda socket: None)  # no welcome will come
    shop.goto(f"http://{web_server}/demo/cart/")
    expect(shop.locator("[data-testid=wp-greeting]")).to_have_text(GREETING)
    expect(shop.locator("[data-testid=wp-launcher]")).to_have_css("background-color", "rgb(10, 125, 59)")


@pytest.mark.parametrize("branded", [(HOSTILE_GREETING, "#ffd23f")], indirect=True)
def test_light_colour_gets_dark_text_and_markup_in_the_greeting_stays_text(web_server, branded, open_page):
    greeting = HOSTILE_GREETING
    shop = open_page(f"http://{web_server}/demo/")
    launcher = shop.locator("[data-testid=wp-launcher]")
    expect(launcher).to_have_css("background-color", "rgb(255, 210, 63)")
    expect(launcher).to_have_css("color", "rgb(27, 27, 27)")
    launcher.click()

    expect(shop.locator("[data-testid=wp-status]")).to_have_text(greeting)
    expect(shop.locator("[data-testid=wp-greeting]")).to_have_text(greeting)
    expect(shop.locator("[data-whitepanel] img")).to_have_count(0)
    assert shop.dialogs == []
