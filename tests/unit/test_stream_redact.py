"""StreamRedactor masks secrets in a stream of any size; SecretScanner finds the forms it cannot mask."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest

from spark_ops.redact import MIN_SECRET_LENGTH, Redactor, SecretScanner, StreamRedactor, secret_needles

SECRET = "s3cr3t-T0ken/with+chars="
PASSWORD = "S3cretPw"
MIB = 1024 * 1024
WINDOW = MIB  # a line longer than this is redacted in overlapping windows
TEXT = (
    "first line without secrets\n"
    f"Authorization: Bearer {SECRET}\n"
    f"GET http://admin:{PASSWORD}@127.0.0.1:4001/healthz -> 200\n"
    f"redirect /login?next=%2F&access_token={quote(SECRET, safe='')}&page=2\n"
    f"form body: password={quote_plus(SECRET)}&user=ops\n"
    f"{SECRET}{SECRET} twice without a separator\n"
    "ünïcödé line: größe 5 µs\n"
    f"last line without a newline {SECRET}"
).encode()


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def stream(redactor: Redactor, chunks: Iterator[bytes] | list[bytes]) -> bytes:
    """What a StreamRedactor writes for ``chunks``: every feed, then close."""
    streamer = StreamRedactor(redactor)
    return b"".join(streamer.feed(chunk) for chunk in chunks) + streamer.close()


def redactor() -> Redactor:
    return Redactor([SECRET, PASSWORD])


def assert_masked(output: bytes) -> None:
    for form in (SECRET, quote(SECRET, safe=""), quote_plus(SECRET), PASSWORD):
        assert form.encode() not in output, form


def test_whole_text_is_masked_as_the_redactor_masks_it():
    """Fed in one chunk, the stream gives exactly what Redactor.text gives for the whole text."""
    expected = redactor().text(TEXT.decode()).encode()
    assert stream(redactor(), [TEXT]) == expected
    assert_masked(expected)


def test_every_chunk_size_gives_the_same_masked_output():
    """Fed in chunks of every size from 1 byte to the whole text, the output never changes."""
    expected = redactor().bytes(TEXT)
    for size in range(1, len(TEXT) + 1):
        assert stream(redactor(), chunked(TEXT, size)) == expected, size


def test_a_secret_split_at_any_boundary_is_masked():
    """Cut in two at every byte position, the text is masked exactly as when it comes whole."""
    expected = redactor().bytes(TEXT)
    for cut in range(len(TEXT) + 1):
        assert stream(redactor(), [TEXT[:cut], TEXT[cut:]]) == expected, cut


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\n\n\n", id="only-newlines"),
        pytest.param(b"no secret at all\nsecond line\n", id="no-secret"),
        pytest.param(f"{SECRET}\n".encode(), id="secret-is-the-line"),
        pytest.param(f"{SECRET}".encode(), id="secret-without-newline"),
        pytest.param(f"a\r\n{SECRET}\r\nb\r\n".encode(), id="crlf-lines"),
        pytest.param(f"\x00\xff binary {SECRET} \x81\n".encode("latin-1"), id="binary-line"),
        pytest.param(f"ü\n{SECRET}\nü".encode(), id="utf8-around"),
        pytest.param(f"http://u:{PASSWORD}@h:1/?token=t0k&x=1\n".encode(), id="url-password-and-query-token"),
        pytest.param(b"http://ops:p@ss@w0rd@h:1/?next=a@b\n", id="raw-at-signs-in-a-password"),
    ],
)
@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 4096], ids=lambda n: f"chunks-of-{n}")
def test_ordinary_inputs_match_the_redactor(text, size):
    """For ordinary logs, whatever the chunking, the stream's output equals Redactor.bytes on the whole."""
    assert stream(redactor(), chunked(text, size)) == redactor().bytes(text)


def test_a_long_line_is_released_in_windows_not_held_whole():
    """A line with no newline is written out as it streams, holding back about one window."""
    streamer = StreamRedactor(redactor())
    written = sum(len(streamer.feed(chunk)) for chunk in chunked(b"x" * (5 * MIB), 64 * 1024))
    assert written >= 5 * MIB - WINDOW - 64 * 1024
    assert written + len(streamer.close()) == 5 * MIB


# A line longer than the window: the first chunk ends one byte past it, so the first window is cut there
# and its last 4096 bytes are kept back to be read again with what follows.
FIRST_CHUNK = WINDOW + 1
KEPT_BACK = 4096

LONG_LINE_SECRETS = [
    pytest.param(SECRET, id="known-secret"),
    pytest.param(quote(SECRET, safe=""), id="url-encoded-secret"),
    pytest.param(f"http://admin:{PASSWORD}@h:1/", id="url-password"),
    pytest.param("?access_token=abcdef0123 ", id="token-query-parameter"),
]


def long_line_with(secret: str, end_at: int) -> bytes:
    """A 2 MiB line whose ``secret`` occurrence ends at byte ``end_at``."""
    encoded = secret.encode()
    start = end_at - len(encoded)
    return b"y" * start + encoded + b"z" * (2 * MIB - end_at) + b"\n"


@pytest.mark.parametrize("secret", LONG_LINE_SECRETS)
@pytest.mark.parametrize(
    "edge", [FIRST_CHUNK, FIRST_CHUNK - KEPT_BACK], ids=["at-the-window-end", "at-the-kept-back-cut"]
)
def test_a_secret_across_a_window_edge_of_a_long_line_is_masked(secret, edge):
    """A secret straddling a window edge of a line longer than 1 MiB is masked at every split point."""
    assert StreamRedactor(redactor()).feed(b"y" * FIRST_CHUNK) != b""  # this chunk does end a window
    size = len(secret.encode())
    for inside in range(0, size + 1):  # how many of the secret's bytes fall before the edge
        line = long_line_with(secret, edge - inside + size)
        output = stream(redactor(), [line[:FIRST_CHUNK], *chunked(line[FIRST_CHUNK:], 512 * 1024)])
        assert output == redactor().bytes(line), (secret, inside)
        assert_masked(output)
        assert b"abcdef0123" not in output


@pytest.mark.parametrize(
    "size", [4096, 65536, 1_000_003, 3 * MIB], ids=["4K-chunks", "64K-chunks", "odd-chunks", "one-chunk"]
)
def test_a_long_line_dense_with_secrets_is_masked_like_the_whole(size):
    """A 3 MiB line with a secret every few bytes comes out as Redactor.bytes on the whole, any chunking."""
    unit = f"..{SECRET}.{quote(SECRET, safe='')}..http://u:{PASSWORD}@h/?sig=f00d&a=1 ".encode()
    line = unit * (3 * MIB // len(unit)) + b"\n"
    output = stream(redactor(), chunked(line, size))
    assert output == redactor().bytes(line)
    assert_masked(output)


def test_a_secret_that_starts_with_another_is_masked_whole_across_a_window_edge():
    """With secrets 'abc123' and 'abc123456789xyz', the longer one cut by a window edge leaves no tail."""
    short, long = "abc123", "abc123456789xyz"
    both = Redactor([short, long])
    line = b"x" * (FIRST_CHUNK - 8) + long.encode() + b"y" * 100 + b"\n"
    output = stream(both, [line[:FIRST_CHUNK], line[FIRST_CHUNK:]])
    assert b"456789xyz" not in output
    assert output == both.bytes(line)


def test_a_non_ascii_secret_in_a_long_non_ascii_line_is_masked():
    """A non-ASCII secret in a >1 MiB line of non-ASCII text is masked whatever the chunking."""
    secret = "pässwörd-é"
    own = Redactor([secret])
    line = b"a" * 2 + ("é" * 300_000).encode() + secret.encode() + ("é" * 300_000).encode() + b"\n"
    output = stream(own, chunked(line, 65536))
    assert secret.encode() not in output


# --- SecretScanner ---------------------------------------------------------------------------------

TOKEN = "api-T0ken?>0123456789~~abcdef"  # its base64 holds '+' or '/' at two alignments


def first_found(scanner: SecretScanner, data: bytes, size: int) -> str | None:
    """The first form the scanner reports while ``data`` streams in chunks of ``size``."""
    for chunk in chunked(data, size):
        form = scanner.feed(chunk)
        if form is not None:
            return form
    return None


def padded(text: bytes) -> bytes:
    return b"log line one\n" + b"noise " * 40 + text + b" trailing noise\n" + b"more\n" * 20


FOUND = [
    pytest.param(TOKEN.encode(), "raw", id="raw"),
    pytest.param(quote(TOKEN, safe="").encode(), "URL-encoded", id="percent-encoded"),
    pytest.param(quote_plus(TOKEN).encode(), "URL-encoded", id="form-encoded"),
    pytest.param(base64.b64encode(TOKEN.encode()), "base64", id="base64-alone"),
    *[
        pytest.param(base64.b64encode(prefix + TOKEN.encode() + b";tail"), "base64", id=f"base64-offset-{n}")
        for n, prefix in enumerate([b"abc", b"user:", b"ab"])
    ],
    pytest.param(
        base64.b64encode(b"Basic-ish " * 7 + b"k=" + TOKEN.encode() + b"&" + b"z" * 50),
        "base64",
        id="base64-inside-a-long-string",
    ),
    pytest.param(base64.urlsafe_b64encode(b"u:" + TOKEN.encode()), "base64url", id="base64url-offset-2"),
    pytest.param(base64.urlsafe_b64encode(b"u" + TOKEN.encode()), "base64url", id="base64url-offset-1"),
]


@pytest.mark.parametrize(("text", "form"), FOUND)
def test_scanner_finds_each_form_across_every_chunk_boundary(text, form):
    """Raw, URL-encoded and base64 (any alignment, inside a longer string) forms are found, however cut."""
    data = padded(text)
    scanner = SecretScanner([TOKEN])
    for size in range(1, len(text) + 2):
        scanner.reset()
        assert first_found(scanner, data, size) == form, size


def test_each_base64_alignment_contributes_a_needle():
    """The needles cover the secret's base64 at offsets 0, 1 and 2 of a 3-byte group."""
    needles = secret_needles([TOKEN])
    for offset in range(3):
        encoded = base64.b64encode(b"\xaa" * offset + TOKEN.encode() + b"\xbb" * 3)
        assert any(needle in encoded for needle, form in needles.items() if form == "base64"), offset


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(b"nothing secret here\n" * 100, id="plain-log"),
        pytest.param(TOKEN[:-1].encode(), id="secret-minus-its-last-character"),
        pytest.param(TOKEN[1:].encode(), id="secret-minus-its-first-character"),
        pytest.param(base64.b64encode(b"another value entirely " * 10), id="other-base64"),
        pytest.param(b"***" * 50, id="masks"),
    ],
)
def test_scanner_stays_quiet_without_the_secret(text):
    """Text without any form of the secret (even most of it) is never reported, however it is cut."""
    scanner = SecretScanner([TOKEN])
    for size in (1, 2, 3, 5, 64, len(text)):
        scanner.reset()
        assert first_found(scanner, padded(text), size) is None, size


def test_reset_starts_a_new_stream():
    """After reset, the end of the previous member and the start of the next do not make a secret."""
    scanner = SecretScanner([TOKEN])
    half = len(TOKEN) // 2
    assert scanner.feed(TOKEN[:half].encode()) is None
    scanner.reset()
    assert scanner.feed(TOKEN[half:].encode()) is None
    assert scanner.feed(b"") is None


@pytest.mark.parametrize("short", ["", "a", "ab"], ids=["empty", "one-char", "two-chars"])
def test_secrets_shorter_than_the_minimum_are_ignored(short):
    """A value shorter than MIN_SECRET_LENGTH is no secret: no needle, never reported."""
    assert len(short) < MIN_SECRET_LENGTH
    assert secret_needles([short]) == {}
    scanner = SecretScanner([short])
    assert (
        scanner.feed(f"{short} {short}{short} {base64.b64encode(short.encode()).decode()}".encode()) is None
    )


def test_a_secret_of_the_minimum_length_is_found():
    """A secret exactly MIN_SECRET_LENGTH long is found raw."""
    secret = "q" * MIN_SECRET_LENGTH
    assert SecretScanner([secret]).feed(f"x={secret};".encode()) == "raw"
