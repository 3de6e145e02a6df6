"""The dashboard's catalogues are complete, keep every placeholder, and are compiled."""

import re
from pathlib import Path

import polib
import pytest
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale"
TRANSLATED = [code for code, _name in settings.LANGUAGES if code != "en"]
# %(name)s-style placeholders, and the HTML tags a sentence carries.
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sdr]|%%|</?[a-z]+[^>]*>")


def catalogue(language: str) -> polib.POFile:
    return polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))


def translations(entry: polib.POEntry) -> list[str]:
    return list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_string_of_the_dashboard_is_translated(language):
    po = catalogue(language)

    missing = [entry.msgid for entry in po.untranslated_entries() + po.fuzzy_entries()]

    assert missing == []


def keeps_placeholders(entry: polib.POEntry, text: str) -> bool:
    found = PLACEHOLDER.findall(text)
    if not entry.msgid_plural:
        return sorted(found) == sorted(PLACEHOLDER.findall(entry.msgid))
    # A plural form stands for one or for many (a one-form language's only form for all), so
    # it keeps what the two English forms share and may use what either of them has.
    singular, plural = (set(PLACEHOLDER.findall(m)) for m in (entry.msgid, entry.msgid_plural))
    return singular & plural <= set(found) <= singular | plural


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_every_placeholder_and_tag(language):
    wrong = [
        (entry.msgid, text)
        for entry in catalogue(language).translated_entries()
        for text in translations(entry)
        if not keeps_placeholders(entry, text)
    ]

    assert wrong == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalogue_is_up_to_date(language):
    po_path = LOCALE / language / "LC_MESSAGES" / "django.po"
    mo_path = po_path.with_suffix(".mo")

    assert mo_path.exists(), "run make setup (bin/compile-messages)"
    assert mo_path.stat().st_mtime >= po_path.stat().st_mtime


@pytest.mark.django_db
@pytest.mark.parametrize("language", TRANSLATED)
def test_the_dashboard_speaks_the_chosen_language(owner_client, language):
    entries = {entry.msgid: entry.msgstr for entry in catalogue(language)}
    owner_client.post("/i18n/setlang/", {"language": language})

    html = owner_client.get("/").content.decode()

    assert f'<html lang="{language}">' in html
    for label in ["Overview", "Messages", "API keys", "SMTP settings", "API docs"]:
        assert f">{entries[label]}</a>" in html, label
