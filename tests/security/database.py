"""The whole test database as text, for suites that prove nothing was written or leaked."""

from django.db import connection


def table_rows() -> dict[str, list[str]]:
    """Every row of every table (join tables, sessions and migrations too), by raw SQL so
    nothing outside the models is missed: {table: sorted rows as text}."""
    rows = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            rows[table] = sorted(repr(row) for row in cursor.fetchall())
    return rows
