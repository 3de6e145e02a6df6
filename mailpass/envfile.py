"""The env file: the configuration as a file, for processes that inherit none (cron).

    # MailPass on mail.example.org
    SECRET_KEY=…
    DATABASE_URL=postgres://mailpass:…@127.0.0.1:5432/mailpass

One KEY=value a line, with the variables of the README's configuration table. The value is
the rest of the line after the first "=", without the blanks around it, and nothing else is
interpreted: no quotes, escapes, $expansion or trailing comments, so a secret full of
$ # % & means the same here as anywhere. A value that starts with a quote is refused
rather than read with its quotes (a shell or systemd would drop them). Blank lines and
lines whose first non-blank character is # are skipped; a later line wins over an earlier
one. manage.py loads the file named by MAILPASS_ENV_FILE before the settings (see there).
"""

import os
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def read_env_file(path: str) -> dict[str, str]:
    """The variables of the env file at `path`, in the order they appear.

    Raises ImproperlyConfigured naming the file and the line, never a value (values are
    secrets), when the file cannot be read or is not UTF-8, or a line is not KEY=value.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ImproperlyConfigured(f"env file {path}: cannot read it ({err.strerror})") from err
    except UnicodeDecodeError as err:
        raise ImproperlyConfigured(f"env file {path}: not UTF-8 text") from err
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _NAME.fullmatch(key):
            raise ImproperlyConfigured(f"env file {path}, line {number}: not a KEY=value line")
        if value[:1] in {"'", '"'}:
            raise ImproperlyConfigured(
                f"env file {path}, line {number}: the value of {key} starts with a quote; "
                "write it without quotes (the whole rest of the line is the value)"
            )
        values[key] = value
    return values


def apply_env_file(path: str) -> None:
    """Put the variables of the env file at `path` into os.environ, except those the
    environment already has: what a process is started with wins over the file.

    Raises ImproperlyConfigured as read_env_file does, having changed nothing.
    """
    for key, value in read_env_file(path).items():
        os.environ.setdefault(key, value)
