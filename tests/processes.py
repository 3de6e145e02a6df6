"""For tests that run MailPass in other processes (queue workers, seeding scripts)."""

import os
from urllib.parse import quote

from django.db import connection


def database_url(settings_dict: dict | None = None) -> str:
    """A DATABASE_URL that reaches this test's database from another process.

    Both databases qualify: the SQLite test database is a file (see settings).
    """
    db = settings_dict or connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "localhost"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"


def worker_env(database_url: str, **extra: str) -> dict[str, str]:
    """This test run's environment (its SECRET_KEY decrypts provider credentials), aimed
    at `database_url`, quiet and unbuffered."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS": "1",
        "MAILPASS_MESSAGE_ID_DOMAIN": "mailpass.test",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
