"""The WebSocket URL of a connection: an endpoint, and the query parameters it is given."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def connection_url(base_url: str, query: Mapping[str, str], *, as_given: bool = False) -> str:
    """Add query parameters to an endpoint URL.

    Parameters the URL already carries win: a user who wrote ``?model=`` (or an
    Azure ``deployment=``) into the URL meant it.

    Args:
        base_url: The endpoint, possibly with a query string of its own.
        query: Parameters to add (e.g. ``model``).
        as_given: Use a URL that has a query string as it is (Azure's convention:
            such a URL already names its deployment), adding nothing.

    Returns:
        The URL to dial.
    """
    parts = urlsplit(base_url)
    if as_given and parts.query:
        return base_url
    present = dict(parse_qsl(parts.query, keep_blank_values=True))
    added = {key: value for key, value in query.items() if key not in present}
    if not added:
        return base_url
    extra = urlencode(added, safe=":/")
    joined = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, parts.fragment))
