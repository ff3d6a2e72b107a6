"""Where a check sends its request: an absolute http(s) URL and its headers (credentials out of the URL)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from spark_ops.errors import ConfigError
from spark_ops.redact import shown_url


@dataclass(frozen=True, slots=True)
class Target:
    """Where a check sends its request: an absolute URL and the headers to send with it."""

    url: str
    headers: Mapping[str, str]

    @property
    def display(self) -> str:
        """The URL without credentials, fit to print."""
        return shown_url(self.url)


def target_with_credentials(url: str, headers: dict[str, str]) -> Target:
    """Move ``user:password@`` out of the URL into a Basic Authorization header (unless one is set)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return Target(url=url, headers=headers)
    netloc = parts.hostname or ""
    if ":" in netloc:  # an IPv6 literal
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    if not any(name.lower() == "authorization" for name in headers):
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        headers = {**headers, "Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    return Target(url=urlunsplit(parts._replace(netloc=netloc)), headers=headers)


def require_http_url(url: str, *, key: str, file: str | None = None) -> None:
    """A ConfigError naming ``key`` (and ``file``) unless ``url`` is an absolute http(s) URL.

    A URL that passes splits cleanly and has a valid port, so later ``urlsplit(url).port`` cannot raise.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port outside 0..65535 or not a number
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # "http://[::1" (an unclosed IPv6 literal), "http://a:99999"
        valid = False
    if not valid:
        raise ConfigError(f"must be an absolute http(s) URL, got {shown_url(url)!r}", file=file, key=key)
