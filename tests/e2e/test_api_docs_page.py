"""The API's Swagger UI page in a real browser: it loads from our own server only, and a
logged-in user tries an endpoint with their session."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_docs_page_works_offline_and_tries_endpoints_with_the_session(web_server, site, peter, panel_for):
    page = panel_for(peter)  # logged in through the form: the session the docs page uses
    elsewhere: list[str] = []
    page.route(
        re.compile(r"^(?!https?://" + re.escape(web_server) + r"/).*"),
        lambda route: (elsewhere.append(route.request.url), route.abort()),
    )
    page.goto(f"http://{web_server}/api/docs/")
    expect(page.locator(".swagger-ui .title")).to_contain_text("White Panel API")
    operation = page.locator("#operations-sites-sites_list")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    expect(operation.locator(".live-responses-table tr.response .response-col_status").first).to_have_text("200")
    expect(operation.locator(".live-responses-table tr.response .microlight").first).to_contain_text('"key": "demo"')
    assert elsewhere == []
