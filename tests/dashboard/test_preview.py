"""dashboard.preview: which src values are cid: references, how they are rewritten, and
which attachments may become data: URIs. Plain functions, no database."""

import time

import pytest

from dashboard.preview import cid_of, data_uri, inline_image_type, rewrite_cid_sources

URI = "data:image/png;base64,AAAA"
IMAGES = {"logo": URI, "a@b.example": "data:image/gif;base64,R0lG"}


def rewrite(html: str) -> str:
    return rewrite_cid_sources(html, IMAGES.get)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<img src="cid:logo">', f'<img src="{URI}">'),
        ("<img src='cid:logo'>", f'<img src="{URI}">'),
        ("<img src=cid:logo>", f'<img src="{URI}">'),
        ('<IMG SRC="CID:logo">', f'<IMG SRC="{URI}">'),
        ('<img src="Cid:logo" />', f'<img src="{URI}" />'),
        ('<img alt="x" src = "cid:logo"\nwidth=3>', f'<img alt="x" src = "{URI}"\nwidth=3>'),
        ('<img src=" cid:logo ">', f'<img src="{URI}">'),
        ('<img\tsrc="cid:logo">', f'<img\tsrc="{URI}">'),
        ('<img/src="cid:logo">', f'<img/src="{URI}">'),
        ('<img src="cid:logo"><img src="cid:logo">', f'<img src="{URI}"><img src="{URI}">'),
        # RFC 2392 URL-encodes the Content-ID; an HTML reference is resolved first.
        ('<img src="cid:a%40b.example">', '<img src="data:image/gif;base64,R0lG">'),
        ('<img src="cid:a&#64;b.example">', '<img src="data:image/gif;base64,R0lG">'),
        # A ">" inside a quoted value does not end the tag; no space is needed after a quote.
        ('<img title="a > b" src="cid:logo">', f'<img title="a > b" src="{URI}">'),
        ('<img alt="x"src="cid:logo">', f'<img alt="x"src="{URI}">'),
        ("<img alt=it's src=cid:logo>", f"<img alt=it's src=\"{URI}\">"),
    ],
    ids=[
        "double-quoted", "single-quoted", "bare", "upper-case", "mixed-case, self-closing",
        "spaces and other attributes", "spaces in the value", "tab", "slash", "twice",
        "url-encoded", "character reference", "> in a value", "no space", "bare apostrophe",
    ],
)  # fmt: skip
def test_a_cid_src_becomes_the_image_uri(html, expected):
    assert rewrite(html) == expected


@pytest.mark.parametrize(
    "html",
    [
        '<img src="cid:unknown">',
        '<img src="cid:LOGO">',  # Content-IDs are compared as written
        '<img src="https://example.com/logo.png">',
        '<img src="logo">',
        '<img src="cid:">',
        '<img data-src="cid:logo">',
        '<img srcset="cid:logo 2x">',
        '<a href="cid:logo">logo</a>',
        '<img alt="src=cid:logo">',
        '<img alt="x src=cid:logo">',
        '<p>src="cid:logo"</p>',
        '<img xsrc="cid:logo">',
        '<img src="x-cid:logo">',
        "<p>cid:logo</p>",
    ],
)
def test_anything_else_is_left_as_it_is(html):
    assert rewrite(html) == html


def test_the_rest_of_the_html_is_untouched():
    html = '<!doctype html><p title="a > b">Hi</p>\n<img src="cid:logo" alt=\'Logo\'> & more'

    assert rewrite(html) == html.replace("cid:logo", URI)


def test_the_lookup_gets_the_content_id_as_written_then_decoded():
    asked: list[str] = []

    def source_for(content_id: str) -> None:
        asked.append(content_id)

    rewrite_cid_sources("<img src=\"cid:part1.%2A@x\"><img src='cid:plain'>", source_for)

    assert asked == ["part1.%2A@x", "part1.*@x", "plain"]


def test_hostile_input_takes_linear_time():
    pieces = [
        "<img " + 'src="cid:' * 50_000,
        "<" + " src=" * 100_000,
        'src="' + " " * 300_000,
        "<img src=" + "cid:" * 100_000,
        "<a " * 100_000,
        '<img alt="' + "<img src=cid:logo " * 20_000,
        "<img alt='" * 50_000,
    ]
    for html in pieces:
        start = time.perf_counter()
        rewrite(html)
        assert time.perf_counter() - start < 1, html[:20]


def test_cid_of_reads_the_reference():
    assert cid_of("cid:logo") == "logo"
    assert cid_of("  CID:logo@shop  ") == "logo@shop"
    assert cid_of("cid:") is None
    assert cid_of("https://x/cid:logo") is None


@pytest.mark.parametrize(
    ("content_type", "shown_as"),
    [
        ("image/png", "image/png"),
        ("image/jpeg", "image/jpeg"),
        ("image/gif", "image/gif"),
        ("image/webp", "image/webp"),
        ("IMAGE/PNG; name=logo.png", "image/png"),
        ("image/svg+xml", None),
        ("text/html", None),
        ("application/octet-stream", None),
        ("image/png-but-not", None),
        ("", None),
    ],
)
def test_only_raster_images_may_become_data_uris(content_type, shown_as):
    assert inline_image_type(content_type) == shown_as


def test_a_data_uri_is_the_bytes_in_base64():
    assert data_uri("image/png", b"\x89PNG") == "data:image/png;base64,iVBORw=="
