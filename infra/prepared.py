"""Statements Django compiles once per database and runs again with each call's values.

Building a queryset and compiling it (lookups resolved, joins and subqueries laid out,
`as_sql`) costs the better part of a millisecond of CPU every time, several times the
statement's own cost in the database. On a message (R8), the busiest path after the page
event, that was most of what daphne spent (docs/benchmarks.md, relay). A `PreparedQuery`
builds its queryset once, with a marker (`Slot`) for each value that changes between calls,
and keeps the SQL and parameters Django wrote for each database; a call runs that SQL with
its own values in the markers' places. `PreparedInsert` and `PreparedUpdate` do the same
for a model's INSERT of one row and UPDATE of one row by its primary key, also run for many
rows at once (`executemany`: one statement, its values sent together). The SQL is Django's,
for whichever database is in use: one implementation for SQLite and PostgreSQL, no SQL
written by hand.

Only plain values go through a slot (integers and text): Django passes them to the driver
as they are. The markers are values no real call has, found again in the compiled
parameters by equality; `PreparedQuery` checks that every slot was found.
"""

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections, models, router
from django.db.models import QuerySet
from django.db.models.sql import InsertQuery, UpdateQuery

# Markers: far from any id or text a call could bring, and each one different.
_markers = itertools.count(7_319_000_000_001)


class Slot:
    """A value that changes between calls of a PreparedQuery: `Slot(int)` or `Slot(str)`."""

    def __init__(self, kind: type[int] | type[str]):
        number = next(_markers)
        self.marker: int | str = number if kind is int else f"\x00wp-slot-{number}\x00"


class PreparedQuery:
    """`build(*slots)` returns a queryset of `model`, with one Slot's marker where each argument goes
    (a `values_list`, so each row comes back as a tuple in a known order). Calling it with
    real arguments runs the same SQL with them. Built and compiled at the first call on each
    database (inside a transaction, if the queryset locks rows: Django checks that then)."""

    def __init__(self, model: type[models.Model], build: Callable[..., QuerySet], *kinds: type[int] | type[str]):
        self._model = model
        self._build = build
        self._kinds = kinds
        self._compiled: dict[str, tuple[str, list[Any], list[tuple[int, int]]]] = {}

    def _compile(self, using: str) -> tuple[str, list[Any], list[tuple[int, int]]]:
        slots = [Slot(kind) for kind in self._kinds]
        queryset = self._build(*(slot.marker for slot in slots)).using(using)
        sql, params = queryset.query.get_compiler(using=using).as_sql()
        params = list(params)
        markers = {slot.marker: index for index, slot in enumerate(slots)}
        places = [(position, markers[value]) for position, value in enumerate(params) if _is_marker(value, markers)]
        missing = set(range(len(slots))) - {argument for _, argument in places}
        if missing:
            raise ValueError(f"a slot's marker is not among the compiled parameters: {sorted(missing)}")
        return sql, params, places

    def rows(self, *args: Any, using: str | None = None) -> list[tuple]:
        # Read where the transaction it runs in writes (it may lock rows).
        using = using or router.db_for_write(self._model)
        compiled = self._compiled.get(using)
        if compiled is None:
            compiled = self._compiled[using] = self._compile(using)
        sql, params, places = compiled
        if places:
            params = params.copy()
            for position, argument in places:
                params[position] = args[argument]
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def first(self, *args: Any, using: str | None = None) -> tuple | None:
        rows = self.rows(*args, using=using)
        return rows[0] if rows else None


def _is_marker(value: Any, markers: dict) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool) and value in markers


class _PreparedWrite:
    """What PreparedInsert and PreparedUpdate share: the model's fields, the SQL compiled once
    per database (`_compile`), and each row's values prepared by the fields themselves."""

    def __init__(self, model: type[models.Model], fields: Sequence[str]):
        self._model = model
        self._fields = [model._meta.get_field(name) for name in fields]
        self._sql: dict[str, Any] = {}

    def _compile(self, using: str) -> Any:
        raise NotImplementedError

    def _prepared(self, using: str | None) -> tuple[str, Any, Any]:
        """(the database's alias, its connection, the compiled SQL) for a call."""
        using = using or router.db_for_write(self._model)
        compiled = self._sql.get(using)
        if compiled is None:
            compiled = self._sql[using] = self._compile(using)
        return using, connections[using], compiled

    def _values(self, instance: models.Model, connection) -> list[Any]:
        return [field.get_db_prep_save(getattr(instance, field.attname), connection) for field in self._fields]


class PreparedInsert(_PreparedWrite):
    """One row of `model` inserted with `fields` (attribute names), its primary key set on the
    instance. The INSERT is Django's for the database in use (with RETURNING where the
    database has it), compiled once; each call's values are prepared by the fields
    themselves (`get_db_prep_save`), as Model.save() does. Unlike save(), no signal is sent:
    for models that have no receivers."""

    def _compile(self, using: str) -> tuple[str, bool]:
        query = InsertQuery(self._model)
        query.insert_values(self._fields, [self._model()])
        compiler = query.get_compiler(using=using)
        returns = connections[using].features.can_return_columns_from_insert
        if returns:
            compiler.returning_fields = [self._model._meta.pk]
        ((sql, _),) = compiler.as_sql()
        return sql, returns

    def save(self, instance: models.Model, *, using: str | None = None) -> models.Model:
        using, connection, (sql, returns) = self._prepared(using)
        meta = self._model._meta
        with connection.cursor() as cursor:
            cursor.execute(sql, self._values(instance, connection))
            if returns:
                pk = cursor.fetchone()[0]
            else:
                pk = connection.ops.last_insert_id(cursor, meta.db_table, meta.pk.column)
        instance.pk = pk
        instance._state.adding = False
        instance._state.db = using
        return instance

    def save_many(self, instances: Sequence[models.Model], *, using: str | None = None) -> None:
        """Insert every instance with one executemany; their primary keys are not read back."""
        if not instances:
            return
        _, connection, (sql, returns) = self._prepared(using)
        if returns:
            sql = sql[: sql.rindex(" RETURNING ")]
        with connection.cursor() as cursor:
            cursor.executemany(sql, [self._values(each, connection) for each in instances])


_PK_MARKER = next(_markers)


class _Parameter(models.Expression):
    """A parameter of the compiled UPDATE: `%s`, whatever the field's type."""

    marker = f"\x00wp-parameter-{next(_markers)}\x00"

    def __init__(self, field: models.Field):
        super().__init__(output_field=field)

    def as_sql(self, compiler, connection):
        return "%s", [self.marker]


class PreparedUpdate(_PreparedWrite):
    """`fields` (attribute names) of rows of `model` set by their primary key: Django's UPDATE
    for the database in use, compiled once, run for many rows with one executemany (the
    ORM's bulk_update builds a CASE per row and field: 0.8 s of CPU for 600 rows). Each
    value is prepared by its field (`get_db_prep_save`), as save() does; no signal is sent."""

    def _compile(self, using: str) -> str:
        query = UpdateQuery(self._model)
        query.add_update_fields([(field, None, _Parameter(field)) for field in self._fields])
        query.add_q(models.Q(pk=_PK_MARKER))
        sql, params = query.get_compiler(using=using).as_sql()
        if list(params) != [_Parameter.marker] * len(self._fields) + [_PK_MARKER]:
            raise ValueError(f"unexpected parameters for an UPDATE by primary key: {params}")
        return sql

    def save_many(self, instances: Sequence[models.Model], *, using: str | None = None) -> None:
        if not instances:
            return
        _, connection, sql = self._prepared(using)
        pk = self._model._meta.pk
        with connection.cursor() as cursor:
            cursor.executemany(
                sql,
                [[*self._values(each, connection), pk.get_db_prep_value(each.pk, connection)] for each in instances],
            )
