"""Names for the statements the hot paths write once per database (hello, page, message),
taken from the models: the ORM compiling those statements on every call was a large share
of a daphne process's time (docs/benchmarks.md)."""

from collections.abc import Iterable

from django.db import connection

# Databases that run a data-modifying WITH (PostgreSQL): there a page view and a message
# are one statement in autocommit, one round trip and one commit; SQLite runs the same
# steps as several statements.
ONE_STATEMENT_VENDORS = frozenset({"postgresql"})


def quoted(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model) -> str:
    return quoted(model._meta.db_table)


def column(model, name: str) -> str:
    """A field's column, quoted (by field name or attname)."""
    return quoted(model._meta.get_field(name).column)


def constants(values: Iterable[str]) -> str:
    """A model's constants (choices, never input) as a list of SQL literals."""
    return ", ".join(f"'{value}'" for value in values)
