"""Keeps secrets out of everything spark-ops prints or stores.

A secret is a header value (and the parts a target may echo alone: the credentials after an auth scheme,
each cookie's value), a password in a URL, a token in a query string, a value under a secret-named key of a
request body, or the value of an environment variable whose name says it is one. One ``Redactor`` per run
knows the run's secrets and scrubs any text or JSON-like value before it is shown or written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote

MASK = "***"
# Names (of env vars, query parameters, headers) whose values are secrets.
# "auth" but not "author(s)" as a whole word: GIT_AUTHOR_NAME and CI_COMMIT_AUTHOR hold a name, and masking
# it masked that name in every output; Authorization and X-Auth-Token stay secret.
SECRET_NAME = re.compile(
    r"token|secret|pass(?:w|phrase)|pwd|api[-_]?key|auth(?!ors?(?![a-z]))|credential|session|cookie|signature",
    re.I,
)
# The password runs to the authority's last "@", as urlsplit reads it: a raw "@" in it must not leak the rest.
# Anchored on "://" (not on the scheme's letters) so the engine can skip ahead: 13x faster on big logs.
_URL_USERINFO = re.compile(r"(?P<scheme>://)(?P<user>[^/@\s:]*):(?P<password>[^/?#\s]*)@")
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&;](?:[^=&#\s]*(?:token|secret|passw|pwd|api[-_]?key|auth|signature|sig)[^=&#\s]*)=)[^&#\s\"']*",
    re.I,
)
# Names that match SECRET_NAME but hold no secret: the working directories, the session nox runs
# ("tests"), whose value as a "secret" made every archive holding that word refuse to finish, and a
# desktop login's session, X and ssh-agent variables, whose values ("user", "wayland", "ubuntu", a socket
# path) were masked in every output of a run from a laptop.
_NOT_SECRET_ENV = frozenset(
    {
        "PWD",
        "OLDPWD",
        "NOX_CURRENT_SESSION",
        "XDG_SESSION_TYPE",
        "XDG_SESSION_CLASS",
        "XDG_SESSION_DESKTOP",
        "XDG_SESSION_ID",
        "XDG_SESSION_PATH",
        "DESKTOP_SESSION",
        "GDMSESSION",
        "SESSION_MANAGER",
        "DBUS_SESSION_BUS_ADDRESS",
        "SSH_AUTH_SOCK",
        "XAUTHORITY",
    }
)
# Shorter values would mangle ordinary output; a secret this short is no secret.
MIN_SECRET_LENGTH = 3


_MASK_BYTES = MASK.encode()
# What a line must hold for a pattern to match in it, found without decoding: "@" ends every URL
# userinfo; a secret query parameter needs "?", "&" or ";", then (no "=", "&", "#" or space between)
# one of its names, ASCII-lowercased ("key" for api[-_]?key, "sig" for signature), unless the line
# holds one of the four non-ASCII letters that re.IGNORECASE folds onto ASCII ones (U+0130, U+0131,
# U+017F, U+212A). Each prefilter starts with a literal, which the regex engine skips to fast. Keep in
# step with _URL_USERINFO and _SECRET_QUERY (tests/unit/test_redact_bytes.py checks the query names).
_USERINFO_NEEDLE = b"@"
_QUERY_NAMES = rb"(?:token|secret|passw|pwd|key|auth|sig)"
_QUERY_PREFILTERS = tuple(
    (start, re.compile(rb"%s[^=&#\s]*?%s" % (re.escape(start), _QUERY_NAMES))) for start in (b"?", b"&", b";")
)
_FOLDED_LETTERS = tuple(letter.encode() for letter in "\u0130\u0131\u017f\u212a")


def _latin1(form: str) -> bytes | None:
    try:
        return form.encode("latin-1")
    except UnicodeEncodeError:
        return None  # cannot occur in a body read as Latin-1


class _Encoding:
    """How ``Redactor.bytes`` reads a body: UTF-8 when it is valid UTF-8, else Latin-1 (found out once)."""

    def __init__(self, data: bytes) -> None:
        self._data: bytes | None = None if data.isascii() else data
        self._name: str | None = "utf-8" if self._data is None else None

    @property
    def name(self) -> str:
        if self._name is None:
            try:
                self._data.decode("utf-8")  # type: ignore[union-attr]
                self._name = "utf-8"
            except UnicodeDecodeError:
                self._name = "latin-1"
            self._data = None
        return self._name


def _pattern_lines(data: bytes) -> list[tuple[int, int]]:
    """``(start, end)`` of every line of ``data`` that may hold a pattern's match, in order."""
    lines: dict[int, int] = {}

    def line_at(at: int) -> int:
        start = data.rfind(b"\n", 0, at) + 1
        end = data.find(b"\n", at)
        lines[start] = end = len(data) if end == -1 else end
        return end

    at = data.find(_USERINFO_NEEDLE)
    while at != -1:
        at = data.find(_USERINFO_NEEDLE, line_at(at))
    lowered = b""
    for start, prefilter in _QUERY_PREFILTERS:
        if start not in data:  # one memchr, much faster than the regex engine's own skipping
            continue
        lowered = lowered or data.lower()  # ASCII letters only, as the names are
        found = prefilter.search(lowered)
        while found:
            found = prefilter.search(lowered, line_at(found.start()))
    if not data.isascii():
        for letter in _FOLDED_LETTERS:
            at = data.find(letter)
            while at != -1:
                at = data.find(letter, line_at(at))
    return sorted(lines.items())


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
        self._encoded = [(form, form.encode(), _latin1(form)) for form in self._secrets]

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self._secrets)

    def text(self, text: str) -> str:
        """``text`` with every secret masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return self._patterns(text)

    def bytes(self, data: bytes) -> bytes:
        """``data`` (a raw body) with every secret masked, UTF-8 or not: what ``text`` does, on bytes.

        A body that is not UTF-8 is read as Latin-1, which maps every byte to one character and back,
        so ASCII secrets inside binary data are masked too instead of passing through.

        Fast on large blocks (the evidence export's logs): known secrets are replaced as bytes, which
        is the same as on the decoded text (UTF-8 and Latin-1 both keep substrings substrings), and
        the two patterns run only on the lines that can match them: neither matches whitespace, so a
        match lies inside one line, and it needs bytes that one ``find`` over the block rules out.
        """
        encoding = _Encoding(data)
        for secret, utf8, latin1 in self._encoded:
            form = utf8 if secret.isascii() or encoding.name == "utf-8" else latin1
            if form is not None and form in data:
                data = data.replace(form, _MASK_BYTES)
        pieces: list[bytes] = []
        done = 0
        for start, end in _pattern_lines(data):
            line = data[start:end].decode(encoding.name)
            pieces += [data[done:start], self._patterns(line).encode(encoding.name)]
            done = end
        return b"".join([*pieces, data[done:]]) if pieces else data

    def _patterns(self, text: str) -> str:
        text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
        return _SECRET_QUERY.sub(lambda m: f"{m['key']}{MASK}", text)

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


def shown_url(url: str) -> str:
    """``url`` as it may be shown: its password and secret-looking query values masked."""
    return _NO_SECRETS.text(url)


def url_secrets(url: str) -> list[str]:
    """The password in ``url``'s userinfo and the values of secret-looking query parameters."""
    import base64

    found = []
    for m in _URL_USERINFO.finditer(url):
        if m["password"]:
            password = unquote(m["password"])
            # Sent as "Authorization: Basic base64(user:password)": a target may echo that header back.
            pair = f"{unquote(m['user'])}:{password}".encode()
            found += [m["password"], password, base64.b64encode(pair).decode()]
    for m in _SECRET_QUERY.finditer(url):
        value = url[m.end("key") : m.end()]
        if value:
            found += [value, unquote(value)]
    return list(dict.fromkeys(found))


# "Bearer <token>", "Basic <base64>", "Token token=<t>": the scheme, then the credentials.
_AUTH_SCHEME = re.compile(r"^\s*(?P<scheme>[A-Za-z][A-Za-z0-9._~+-]*)\s+(?P<credentials>\S.*?)\s*$")


def header_secrets(headers: Mapping[str, str]) -> list[str]:
    """Every header value, and the parts of one a target may echo on their own.

    Those are the credentials after an Authorization scheme (for Basic also the decoded ``user:password``
    and the password) and the value of every cookie in a Cookie header.
    """
    import base64
    import binascii

    found: list[str] = []
    for name, value in headers.items():
        found.append(value)
        if name.lower() == "cookie":
            found += [v.strip() for _, _, v in (pair.partition("=") for pair in value.split(";"))]
        elif SECRET_NAME.search(name) and (auth := _AUTH_SCHEME.match(value)):
            credentials = auth["credentials"]
            found.append(credentials)
            if auth["scheme"].lower() == "basic":
                try:
                    pair = base64.b64decode(credentials, validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    continue
                found += [pair, pair.partition(":")[2]]
    return list(dict.fromkeys(value for value in found if value))


def body_secrets(body: str) -> list[str]:
    """Values under secret-named keys of a JSON or form-encoded request body (``"password": ...``).

    A JSON body nested too deeply to parse is a secret whole: which part of it is cannot be told.
    """
    import json
    from urllib.parse import parse_qsl

    try:
        document = json.loads(body)
    except RecursionError:
        return [body]
    except ValueError:
        return [v for k, v in parse_qsl(body) if SECRET_NAME.search(k) and v]
    found: list[str] = []
    pending: list[tuple[Any, bool]] = [(document, False)]  # (node, under a secret-named key)
    while pending:
        node, secret = pending.pop()
        if isinstance(node, dict):
            pending += [
                (item, secret or bool(SECRET_NAME.search(key))) for key, item in reversed(node.items())
            ]
        elif isinstance(node, list):
            pending += [(item, secret) for item in reversed(node)]
        elif secret and node is not None and not isinstance(node, bool):
            found.append(node if isinstance(node, str) else json.dumps(node))
    return found


def option_secrets(options: Mapping[str, Any]) -> list[str]:
    """Secrets written into a check's own keys: URLs (``url``, ``*_url``), ``headers`` and ``body``."""
    found: list[str] = []
    for key, value in options.items():
        if isinstance(value, str) and (key == "url" or key.endswith("_url")):
            found += url_secrets(value)
        elif key == "headers" and isinstance(value, Mapping):
            found += header_secrets({str(k): str(v) for k, v in value.items()})
        elif key == "body" and isinstance(value, str):
            found += body_secrets(value)
    return found


# Longer than any secret form we mask; a line longer than this is redacted in windows that overlap by it.
_STREAM_OVERLAP = 4096
_STREAM_MAX_LINE = 1024 * 1024


class StreamRedactor:
    """Redacts a byte stream chunk by chunk with bounded memory (for logs of any size).

    Text is redacted a block of whole lines at a time, so a secret never straddles two blocks. A line
    longer than 1 MiB is cut into windows at a point that no known secret, URL password or secret query
    parameter straddles, and not inside a UTF-8 character; the rest waits, unredacted, for what follows.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._forms = [form.encode() for form in redactor.secrets]
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        """Redacted bytes ready to write (possibly empty: the tail waits for the rest of its line)."""
        # What waits never holds a newline, so the last one of the chunk ends the ready block (this
        # copies each chunk once, not twice, which a big log feels).
        cut = chunk.rfind(b"\n") + 1
        if cut:
            ready = self._pending + chunk[:cut] if self._pending else chunk[:cut]
            self._pending = chunk[cut:]
            return self._redactor.bytes(ready)
        self._pending += chunk
        if len(self._pending) <= _STREAM_MAX_LINE:
            return b""
        cut = self._safe_cut(len(self._pending) - _STREAM_OVERLAP)
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return self._redactor.bytes(ready)

    def _safe_cut(self, cut: int) -> int:
        """The nearest point at or before ``cut`` that splits neither a secret nor a UTF-8 character."""
        data = self._pending
        moved = True
        while moved and cut > 0:
            moved = False
            while cut > 0 and data[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte
                cut -= 1
            for form in self._forms:
                start = data.find(form, max(cut - len(form) + 1, 0), cut + len(form) - 1)
                if start != -1 and start < cut:  # this occurrence straddles the cut: cut before it
                    cut, moved = start, True
            # URL passwords and secret query parameters are found by pattern: no match may straddle either.
            low = max(cut - _STREAM_OVERLAP, 0)
            around = data[low : cut + _STREAM_OVERLAP].decode("latin-1")  # one character per byte
            for pattern in (_URL_USERINFO, _SECRET_QUERY):
                for match in pattern.finditer(around):
                    if low + match.start() < cut < low + match.end():
                        cut, moved = low + match.start(), True
        return cut

    def close(self) -> bytes:
        """The redacted remainder."""
        rest, self._pending = self._pending, b""
        return self._redactor.bytes(rest) if rest else b""


def secret_needles(secrets: Iterable[str]) -> dict[bytes, str]:
    """Byte patterns that betray each secret, raw, URL-encoded or base64 at any alignment -> the form's name.

    Base64 of a value inside a longer encoded string (``user:pass`` in a Basic header) depends on the
    value's offset modulo 3, so each of the three alignments contributes the characters it fixes.
    """
    import base64

    needles: dict[bytes, str] = {}
    for secret in secrets:
        if len(secret) < MIN_SECRET_LENGTH:
            continue
        raw = secret.encode()
        needles[raw] = "raw"
        needles.setdefault(quote(secret, safe="").encode(), "URL-encoded")
        needles.setdefault(quote_plus(secret).encode(), "URL-encoded")
        for offset in range(3):
            encoded = base64.b64encode(b"\0" * offset + raw)
            whole_groups = (offset + len(raw)) // 3 * 4
            first_clean = -(-offset * 8 // 6)  # characters still carrying bits of the padding bytes
            core = encoded[first_clean:whole_groups]
            if len(core) >= 4:  # shorter fragments occur by chance in any base64 text
                needles.setdefault(core, "base64")
                needles.setdefault(core.replace(b"+", b"-").replace(b"/", b"_"), "base64url")
    return needles


class SecretScanner:
    """Finds any of ``secret_needles`` in a stream of chunks, across chunk boundaries."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._needles = secret_needles(secrets)
        self._keep = max((len(n) for n in self._needles), default=1) - 1
        self._tail = b""

    def feed(self, chunk: bytes) -> str | None:
        """The form of a secret seen so far in this stream ("raw", "base64"...), or None."""
        if not self._needles or not chunk:
            return None
        # A needle that starts in the tail ends within the chunk's first ``keep`` bytes: search that
        # seam and the chunk itself, rather than copying the chunk behind the tail.
        seam = self._tail + chunk[: self._keep]
        if self._keep:
            self._tail = chunk[-self._keep :] if len(chunk) >= self._keep else seam[-self._keep :]
        # One fast substring search per needle beats a regex alternation of them by ~2x.
        for needle, form in self._needles.items():
            if needle in chunk or needle in seam:
                return form
        return None

    def reset(self) -> None:
        """Start a new stream (a new archive member)."""
        self._tail = b""


_NO_SECRETS = Redactor()  # masks only what any URL shows of a secret: userinfo passwords, secret queries
