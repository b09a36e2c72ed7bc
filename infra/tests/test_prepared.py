"""Statements compiled once and run with each call's values (infra/prepared.py), on the
database the suite runs on (SQLite locally, PostgreSQL in CI's first pass)."""

import pytest
from django.db import connection, transaction
from django.db.models.sql import compiler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from infra.prepared import PreparedInsert, PreparedQuery, PreparedUpdate
from tests.api import make_visitor
from visitors.models import PageView, Site, Visitor

pytestmark = pytest.mark.django_db

sites_by_key = PreparedQuery(Site, lambda key: Site.objects.filter(key=key).values_list("pk", "name")[:1], str)
views_of = PreparedQuery(
    PageView,
    lambda visitor_id, url: PageView.objects.filter(visitor_id=visitor_id, url=url).values_list("title", flat=True),
    int,
    str,
)


def test_a_prepared_query_answers_each_call_with_its_own_values(make_site):
    shop, other = make_site("shop"), make_site("other")
    assert sites_by_key.first("shop") == (shop.pk, shop.name)
    assert sites_by_key.first("other") == (other.pk, other.name)
    assert sites_by_key.first("' OR 1=1 --") is None  # a value, never SQL
    assert sites_by_key.rows("nobody") == []


def test_a_prepared_query_is_compiled_once_and_runs_one_statement_a_call(make_site, monkeypatch):
    make_site("shop")
    sites_by_key.first("shop")
    compiled = []
    as_sql = compiler.SQLCompiler.as_sql
    monkeypatch.setattr(
        compiler.SQLCompiler, "as_sql", lambda self, *a, **k: compiled.append(1) or as_sql(self, *a, **k)
    )
    with CaptureQueriesContext(connection) as queries:
        sites_by_key.first("shop")
        sites_by_key.first("other")
    assert compiled == []
    assert len(queries) == 2


def test_a_prepared_insert_stores_the_row_and_sets_its_key(site):
    linda = make_visitor(site)
    insert = PreparedInsert(PageView, ["visitor", "url", "title", "referrer", "at"])
    now = timezone.now()
    with transaction.atomic():
        first = insert.save(PageView(visitor=linda, url="http://shop.test/a", title="A", referrer="", at=now))
        second = insert.save(PageView(visitor=linda, url="http://shop.test/b", title="<b>B</b>", referrer="x", at=now))
    assert first.pk
    assert second.pk
    assert first.pk != second.pk
    assert not first._state.adding
    stored = PageView.objects.get(pk=second.pk)
    assert (stored.url, stored.title, stored.referrer, stored.at) == ("http://shop.test/b", "<b>B</b>", "x", now)
    assert list(views_of.rows(linda.pk, "http://shop.test/a")) == [("A",)]


def test_a_slot_that_the_queryset_does_not_use_is_refused(site):
    unused = PreparedQuery(Site, lambda key: Site.objects.values_list("pk")[:1], str)
    with pytest.raises(ValueError, match="slot"):
        unused.first("shop")


def test_many_rows_are_inserted_and_updated_by_their_key_with_their_own_values(site):
    linda, mary, olga = make_visitor(site), make_visitor(site), make_visitor(site)
    now = timezone.now()
    with transaction.atomic():
        PreparedInsert(PageView, ["visitor", "url", "title", "referrer", "at"]).save_many(
            [PageView(visitor=v, url=f"http://shop.test/{v.pk}", title="T", referrer="", at=now) for v in (linda, mary)]
        )
        PreparedUpdate(Visitor, ["url", "title", "pages", "last_seen"]).save_many(
            [
                Visitor(pk=linda.pk, url="http://shop.test/boots", title="Boots", pages=3, last_seen=now),
                Visitor(pk=mary.pk, url="http://shop.test/hats", title="<i>Hats</i>", pages=7, last_seen=now),
            ]
        )
    assert sorted(PageView.objects.values_list("visitor_id", "url")) == [
        (linda.pk, f"http://shop.test/{linda.pk}"),
        (mary.pk, f"http://shop.test/{mary.pk}"),
    ]
    rows = {v.pk: (v.url, v.title, v.pages, v.last_seen) for v in Visitor.objects.all()}
    assert rows[linda.pk] == ("http://shop.test/boots", "Boots", 3, now)
    assert rows[mary.pk] == ("http://shop.test/hats", "<i>Hats</i>", 7, now)
    assert rows[olga.pk][:3] == (olga.url, olga.title, olga.pages)  # not named: untouched
