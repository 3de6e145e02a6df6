"""The whole test database as text, for suites that prove nothing was written or leaked."""

from django.db import connection


def table_rows() -> dict[str, list[str]]:
    """Every row of every table (join tables, sessions and migrations too), by raw SQL so
    nothing outside the models is missed: {table: sorted rows as text}."""
    tables = connection.introspection.table_names()
    selects = [f"SELECT * FROM {connection.ops.quote_name(table)}" for table in tables]
    rows = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One round trip for all the tables (psycopg returns one result set per
            # statement): the isolation matrix takes this snapshot over a thousand times.
            cursor.execute("; ".join(selects))
            raw = cursor.cursor
            for table in tables:
                rows[table] = sorted(repr(row) for row in raw.fetchall())
                raw.nextset()
        else:
            for table, select in zip(tables, selects, strict=True):
                cursor.execute(select)
                rows[table] = sorted(repr(row) for row in cursor.fetchall())
    return rows
