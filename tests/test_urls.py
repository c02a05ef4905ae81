"""Tests for monitor.urls.canonicalize_url."""

from __future__ import annotations

import pytest

from monitor.urls import canonicalize_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTPS://Example.COM/News/1", "https://example.com/News/1"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://user:pw@example.com/a", "https://example.com/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
        ("https://example.com/a?x=2&x=1", "https://example.com/a?x=2&x=1"),
        (
            "https://example.com/a?utm_source=tg&utm_medium=social&id=7",
            "https://example.com/a?id=7",
        ),
        ("https://example.com/a?fbclid=abc&gclid=1&yclid=2", "https://example.com/a"),
        (
            "https://example.com/a?_openstat=xyz&from=rss&ref=main",
            "https://example.com/a",
        ),
        ("https://example.com/a?UTM_Campaign=x", "https://example.com/a"),
        ("https://example.com/a?q=", "https://example.com/a?q="),
    ],
)
def test_basic_normalisation(raw, expected):
    assert canonicalize_url(raw) == expected


@pytest.mark.parametrize(
    "variant",
    [
        "https://amp.tengrinews.kz/ru/news/1/",
        "https://m.tengrinews.kz/ru/news/1/",
        "https://mobile.tengrinews.kz/ru/news/1/",
        "https://www.tengrinews.kz/ru/news/1/",
        "https://tengrinews.kz/ru/news/1/amp/",
        "https://tengrinews.kz/amp/ru/news/1/",
        "https://tengrinews.kz/ru/news/1/?amp=1",
        "https://tengrinews.kz/ru/news/1/?amp",
        "https://tengrinews.kz/ru/news/1/?outputType=amp",
        "https://tengrinews.kz/ru/news/1/#top",
    ],
)
def test_amp_and_mobile_variants_fold(variant):
    assert canonicalize_url(variant) == "https://tengrinews.kz/ru/news/1/"


def test_amp_html_ending_folds():
    assert (
        canonicalize_url("https://www.example.com/2024/story.amp.html")
        == "https://example.com/2024/story.html"
    )


def test_prefix_fold_never_leaves_bare_tld():
    assert canonicalize_url("https://m.kz/a") == "https://m.kz/a"
    assert canonicalize_url("https://www.m.example.org/") == "https://m.example.org/"


def test_http_is_not_folded_into_https():
    assert canonicalize_url("http://24.kg/a") != canonicalize_url("https://24.kg/a")


def test_percent_escapes_normalised():
    assert canonicalize_url("https://e.com/%7euser/%2f") == "https://e.com/~user/%2F"
    # raw and escaped Cyrillic paths give the same key
    raw = canonicalize_url("https://e.com/новости/1")
    escaped = canonicalize_url(
        "https://e.com/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/1"
    )
    assert raw == escaped
    assert raw.isascii()


def test_idna_host():
    assert (
        canonicalize_url("https://Президент.РФ/news")
        == "https://xn--d1abbgf6aiiy.xn--p1ai/news"
    )


@pytest.mark.parametrize(
    "odd",
    [
        "",
        "not a url",
        "/relative/path",
        "mailto:x@y.z",
        "ftp://e.com/a",
        "https://[::1/a",
    ],
)
def test_non_http_input_returned_unchanged(odd):
    assert canonicalize_url(f"  {odd} ") == odd


def test_idempotent():
    urls = [
        "https://M.Example.com/a/amp/?utm_source=x&b=1&a=2#f",
        "http://e.com/путь?q=слово",
    ]
    for url in urls:
        once = canonicalize_url(url)
        assert canonicalize_url(once) == once
