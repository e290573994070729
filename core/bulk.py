"""Many rows in one statement (``rows_insert``), for the few tables written at the rate boxes send:
an INSERT from arrays for a batch's rows, PostgreSQL's COPY for bulk loads; and the SET list of the hot paths' UPDATE ... RETURNING (``assignments``).

A batch of a few hundred boxes' MeterValues is about a thousand rows. ``bulk_create`` spends most
of its time in Python on them (preparing every field of every row, then psycopg quoting the
arrays of its UNNEST parameters: 830 µs of CPU per frame, measured); COPY hands the rows to
psycopg's C row writer and costs a fraction of that. Rows that may collide with a unique
constraint (a box replaying a message) go through a temporary table and ``ON CONFLICT DO NOTHING``.

Rows are plain tuples, not model instances (building those was the other half of the cost), of
values that need no conversion on the way to the database: numbers, text, aware datetimes and
foreign-key ids. Nothing here runs a field's Python-side default or validation.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import psycopg

from django.db import connection, models, transaction


# Up to this many rows, one INSERT ... SELECT FROM UNNEST: COPY (and the temporary table when
# conflicts are ignored) costs five or six round trips to PostgreSQL, which for a request's handful
# of sampled values or journal rows is most of the insert's time; at 400 rows both cost the same
# (ADR 0011). The inbound pipeline's batches (several hundred rows) go this way; COPY is left for
# bulk loads.
FEW_ROWS = 500


def rows_insert(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence], *, ignore_conflicts: bool = False
) -> None:
    """INSERT ``rows`` (values of ``fields``, named as the model's attributes: "box_id") in one
    statement: an INSERT from arrays for up to FEW_ROWS rows (every batch of the inbound pipeline),
    COPY for more (bulk loads); with ``ignore_conflicts``, rows that would break a unique constraint are left out, as with
    ``bulk_create(ignore_conflicts=True)``. Fields left out must have a default in the database."""
    table = connection.ops.quote_name(model._meta.db_table)
    column_of = {field.attname: field.column for field in model._meta.concrete_fields}
    column_list = ", ".join(connection.ops.quote_name(column_of[name]) for name in fields)
    rows = rows if isinstance(rows, list) else list(rows)
    if len(rows) <= FEW_ROWS:
        return _insert_unnest(table, column_list, _array_types(model, tuple(fields)), rows, ignore_conflicts)
    target = table
    # Django's wrapper turns psycopg's errors into django.db's (DataError, IntegrityError), as for
    # any query; the COPY below goes to psycopg's cursor directly. One transaction always: in
    # autocommit the temporary table's ON COMMIT DELETE ROWS would empty it between the COPY and
    # the INSERT that reads it, and the rows would be lost without an error.
    with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
        if ignore_conflicts:
            # Only the columns we copy, none of the table's constraints; emptied at commit.
            target = connection.ops.quote_name(f"{model._meta.db_table}_incoming")
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {target} ON COMMIT DELETE ROWS AS "
                f"SELECT {column_list} FROM {table} WITH NO DATA"
            )
        with cursor.cursor.copy(f"COPY {target} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        if ignore_conflicts:
            # Emptied as it is read, so that a second copy in the same transaction starts empty.
            cursor.execute(
                f"WITH incoming AS (DELETE FROM {target} RETURNING {column_list}) "
                f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM incoming ON CONFLICT DO NOTHING"
            )



def _insert_unnest(table: str, column_list: str, types: str, rows: list[Sequence], ignore_conflicts: bool) -> None:
    """One INSERT of ``rows``, one array parameter per column, bound on the server in binary.
    Not ``INSERT ... VALUES (%s, ...), (%s, ...)``: psycopg splits a query of more than 50
    placeholders with a regular expression in Python every time (it caches only short ones), which
    was three quarters of the CPU of inserting 64 meter values (8.4 ms against 2.4 ms this way).
    Django's cursors bind on the client, so this one is psycopg's own, with Django's errors."""
    if not rows:
        return
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor, connection.wrap_database_errors:
        cursor.execute(
            f"INSERT INTO {table} ({column_list}) SELECT * FROM UNNEST({types})"
            f"{' ON CONFLICT DO NOTHING' if ignore_conflicts else ''}",
            [list(column) for column in zip(*rows)],
        )


@functools.cache
def _array_types(model: type[models.Model], fields: tuple[str, ...]) -> str:
    """UNNEST's parameters for ``fields``, each cast to an array of its column's type."""
    return ", ".join(f"%b::{model._meta.get_field(name).db_type(connection)}[]" for name in fields)


def assignments(model: type[models.Model], fields: dict) -> tuple[str, list]:
    """The SET list of an UPDATE written as SQL ("state = %s, answered_at = %s") and its values,
    prepared as the model's fields prepare them for the database (JSON, datetimes, choices): for
    the hot paths that update and read back a row in one UPDATE ... RETURNING."""
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    return (", ".join(f"{field.column} = %s" for field in columns),
            [field.get_db_prep_save(fields[field.name], connection) for field in columns])
