"""Keeps secrets out of everything spark-ops prints or stores.

A secret is a profile header value, a password in a URL, a token in a query string, or the value of an
environment variable whose name says it is one. One ``Redactor`` per run knows the run's secrets and
scrubs any text or JSON-like value before it is shown or written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
# Names (of env vars, query parameters, headers) whose values are secrets.
SECRET_NAME = re.compile(r"token|secret|passw|pwd|api[-_]?key|auth|credential|session|cookie|signature", re.I)
# The password runs to the authority's last "@", as urlsplit reads it: a raw "@" in it must not leak the rest.
_URL_USERINFO = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^/@\s:]*):(?P<password>[^/?#\s]*)@"
)
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&;](?:[^=&#\s]*(?:token|secret|passw|pwd|api[-_]?key|auth|signature|sig)[^=&#\s]*)=)[^&#\s\"']*",
    re.I,
)
# The shell's working directories match "pwd" but are no secret.
_NOT_SECRET_ENV = frozenset({"PWD", "OLDPWD"})
# Shorter values would mangle ordinary output; a secret this short is no secret.
MIN_SECRET_LENGTH = 3


class Redactor:
    """Replaces known secret values, URL passwords and secret query parameters with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if len(secret) < MIN_SECRET_LENGTH:
                continue
            forms.update({secret, quote(secret, safe=""), quote_plus(secret)})
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(forms, key=len, reverse=True)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self._secrets)

    def text(self, text: str) -> str:
        """``text`` with every secret masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
        return _SECRET_QUERY.sub(lambda m: f"{m['key']}{MASK}", text)

    def bytes(self, data: bytes) -> bytes:
        """``data`` (a raw body) with every secret masked, UTF-8 or not.

        A body that is not UTF-8 is read as Latin-1, which maps every byte to one character and back,
        so ASCII secrets inside binary data are masked too instead of passing through.
        """
        try:
            return self.text(data.decode("utf-8")).encode("utf-8")
        except UnicodeDecodeError:
            return self.text(data.decode("latin-1")).encode("latin-1")

    def value(self, value: Any) -> Any:
        """A copy of a JSON-like ``value`` with every string (keys too) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def environment_secrets() -> list[str]:
    """Values of environment variables whose names say they are secrets (``SPARK_WEB_TOKEN``...)."""
    import os

    return [
        value
        for name, value in os.environ.items()
        if SECRET_NAME.search(name) and name not in _NOT_SECRET_ENV and value
    ]


def url_secrets(url: str) -> list[str]:
    """The password in ``url``'s userinfo and the values of secret-looking query parameters."""
    found = [m["password"] for m in _URL_USERINFO.finditer(url) if m["password"]]
    for m in _SECRET_QUERY.finditer(url):
        value = url[m.end("key") : m.end()]
        if value:
            found.append(value)
    return found
