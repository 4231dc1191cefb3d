"""The one test of a URL the project stores, shows or links to.

Catalog entries, metadata read from files, the app's source cards and the HTML report all
ask the same question ("may this become an href?"), so they get the same answer."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_url(url: object) -> str | None:
    """`url` without surrounding blanks when it is an absolute http(s) URL with a host, else
    None: no javascript: or data: links, nothing relative or scheme-relative."""
    if not isinstance(url, str) or not url.strip():
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url
