"""The env file (mailpass/envfile.py): what cron's runs read their configuration from."""

import os
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from mailpass.envfile import apply_env_file, read_env_file

SECRET = "s3cr$t#%&'\"-value"


def test_an_env_file_gives_every_value_as_written(tmp_path: Path):
    path = tmp_path / "mailpass.env"
    path.write_text(
        "# MailPass\r\n"
        "\r\n"
        f"SECRET_KEY={SECRET}\r\n"
        "  # indented comment\n"
        "DATABASE_URL = postgres://u:p@127.0.0.1:5432/db?sslmode=disable  \n"
        "EMPTY=\n"
        "LOG_LEVEL=INFO\n"
        "LOG_LEVEL=WARNING\n",
        encoding="utf-8",
    )

    assert read_env_file(str(path)) == {
        "SECRET_KEY": SECRET,
        "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/db?sslmode=disable",
        "EMPTY": "",
        "LOG_LEVEL": "WARNING",
    }


@pytest.mark.parametrize(
    "line, expected",
    [
        (f"export SECRET_KEY={SECRET}", "line 2: not a KEY=value line"),
        (f"{SECRET}", "line 2: not a KEY=value line"),
        (f"=SECRET_KEY{SECRET}", "line 2: not a KEY=value line"),
        (f'SECRET_KEY="{SECRET}"', "line 2: the value of SECRET_KEY starts with a quote"),
        (f"SECRET_KEY='{SECRET}'", "line 2: the value of SECRET_KEY starts with a quote"),
    ],
)
def test_an_env_file_refuses_a_line_it_would_misread_and_never_repeats_it(
    tmp_path: Path, line: str, expected: str
):
    path = tmp_path / "mailpass.env"
    path.write_text(f"DEBUG=0\n{line}\n", encoding="utf-8")

    with pytest.raises(ImproperlyConfigured) as refused:
        read_env_file(str(path))

    assert str(refused.value).startswith(f"env file {path}, {expected}")
    assert SECRET not in str(refused.value)


def test_an_unreadable_env_file_names_the_file_and_the_reason(tmp_path: Path):
    with pytest.raises(ImproperlyConfigured, match=r"cannot read it \(No such file or directory\)"):
        read_env_file(str(tmp_path / "missing.env"))
    with pytest.raises(ImproperlyConfigured, match=r"cannot read it \(Is a directory\)"):
        read_env_file(str(tmp_path))
    latin1 = tmp_path / "latin1.env"
    latin1.write_bytes(b"MAILPASS_MESSAGE_ID_DOMAIN=m\xe9l.example\n")
    with pytest.raises(ImproperlyConfigured, match="not UTF-8 text"):
        read_env_file(str(latin1))


def test_the_environment_wins_over_the_env_file(tmp_path: Path, monkeypatch):
    path = tmp_path / "mailpass.env"
    path.write_text("MAILPASS_TEST_FROM_FILE=file\nMAILPASS_TEST_BOTH=file\n", encoding="utf-8")
    monkeypatch.delenv("MAILPASS_TEST_FROM_FILE", raising=False)
    monkeypatch.setenv("MAILPASS_TEST_BOTH", "environment")

    apply_env_file(str(path))

    assert os.environ["MAILPASS_TEST_FROM_FILE"] == "file"
    assert os.environ["MAILPASS_TEST_BOTH"] == "environment"
    monkeypatch.delenv("MAILPASS_TEST_FROM_FILE")
