"""Admin as White Panel's (issue 25): its name, colours and way back to the panel; a site's
settings in groups, with the data the live preview of the widget draws from."""

import json
import re

import pytest

from operators.models import Operator
from tests.owners import admin_client, make_staff
from visitors.admin import SiteForm
from visitors.models import Site
from visitors.widget_texts import table

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["superuser", "owner"])
def manager(request, site):
    return make_staff("root", superuser=True) if request.param == "superuser" else make_staff("owner", site)


def preview_data(page: str) -> dict:
    found = re.search(r'<script id="widget-preview-data" type="application/json">(.*?)</script>', page, re.S)
    assert found, "the site page carries no data for its preview"
    return json.loads(found.group(1))


def test_admin_wears_white_panels_name_and_colours(manager):
    page = admin_client(manager).get("/admin/").content.decode()

    assert "<title>Your sites, operators and conversations | White Panel admin</title>" in page
    assert re.search(r'<div id="site-name"><a href="/admin/">.*?White Panel</a></div>', page)
    assert "<h1>Your sites, operators and conversations</h1>" in page
    assert "Django administration" not in page
    assert "Django site admin" not in page
    assert "/static/admin/white-panel.css" in page
    assert '<link rel="icon" type="image/png" href="/static/panel/icons/icon-192.png">' in page


def test_the_panel_link_is_there_for_operators_only(site):
    owner = make_staff("owner", site)
    assert 'href="/panel/"' not in admin_client(owner).get("/admin/").content.decode()

    Operator.objects.create(user=owner)
    assert 'href="/panel/">Open the panel</a>' in admin_client(owner).get("/admin/").content.decode()


def test_site_page_groups_every_setting_once(manager, site):
    page = admin_client(manager).get(f"/admin/visitors/site/{site.pk}/change/").content.decode()

    headings = re.findall(r'class="fieldset-heading">([^<]+)</h2>', page)
    assert headings == ["Site", "Look", "Chat", "Hours", "Verified visitors", "Privacy", "Owners"]
    # Each of the form's settings on the page once: none left out of the groups, none twice.
    for name in SiteForm.Meta.fields:
        rows = re.findall(rf'<div class="form-row[^"]*\bfield-{name}\b', page)
        assert len(rows) == 1, name


def test_site_page_carries_the_preview_and_its_words(manager, site):
    Site.objects.filter(pk=site.pk).update(greeting="</script><b>Hi</b>", color="#fff3a8", launcher_offset=60)
    page = admin_client(manager).get(f"/admin/visitors/site/{site.pk}/change/").content.decode()

    assert '<script src="/static/admin/site_preview.js" defer></script>' in page
    assert 'data-testid="site-preview"' in page
    # The greeting is data, not markup: it cannot end the data block.
    assert "</script><b>Hi</b>" not in page
    data = preview_data(page)
    assert data["saved"] == {
        "greeting": "</script><b>Hi</b>",
        "color": "#fff3a8",
        "language": "",
        "texts": {},
        "offset": 60,
    }
    assert data["texts"] == table()
    assert "ar" in data["right_to_left"]


def test_site_list_has_no_preview(manager, site):
    page = admin_client(manager).get("/admin/visitors/site/").content.decode()
    assert "site_preview.js" not in page
