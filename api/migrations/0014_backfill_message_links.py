"""Store the tracked links of messages sent before MessageLink existed, so their clicks keep
working (for as long as any tracked link does: the default 90 days; older ones expired)."""

import datetime as dt
from html.parser import HTMLParser

from django.db import migrations
from django.utils import timezone

LINK_DAYS = 90


class _Links(HTMLParser):
    # The same reading of the HTML as api.tracking at the time of this migration, so the
    # positions match the tokens in the mail already sent.
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        href = dict(attrs).get("href") or ""
        if href.strip().lower().startswith(("http://", "https://")):
            self.tags.append((self.get_starttag_text() or "", href.strip()))


def _links(html: str) -> dict[int, str]:
    parser = _Links()
    parser.feed(html)
    parser.close()
    links, position = {}, 0
    for index, (tag, href) in enumerate(parser.tags):
        start = html.find(tag, position)
        if start < 0:
            continue
        position = start + len(tag)
        links[index] = href
    return links


def backfill(apps, schema_editor):
    Message = apps.get_model("api", "Message")
    MessageLink = apps.get_model("api", "MessageLink")
    since = timezone.now() - dt.timedelta(days=LINK_DAYS)
    tracked = (
        Message.objects.filter(track_clicks=True, created_at__gte=since)
        .exclude(html="")
        .only("id", "html")
    )
    batch = []
    for message in tracked.iterator(chunk_size=500):
        batch += [
            MessageLink(message_id=message.id, position=i, url=url)
            for i, url in _links(message.html).items()
        ]
        if len(batch) >= 1000:
            MessageLink.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    MessageLink.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("api", "0013_message_links")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
