"""Redactor.bytes (the fast path for big logs) masks exactly what Redactor.text masks on the decoded body."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spark_ops import redact
from spark_ops.redact import Redactor

SECRETS = ["s3cr3t-T0ken/x+y=", "pässwörd-é", "multi\nline-secret", "hunter2-value"]


def decoded_then_redacted(redactor: Redactor, data: bytes) -> bytes:
    """The reference: decode the whole body (UTF-8, else Latin-1), redact the text, encode it back."""
    try:
        return redactor.text(data.decode("utf-8")).encode("utf-8")
    except UnicodeDecodeError:
        return redactor.text(data.decode("latin-1")).encode("latin-1")


TRICKY = [
    pytest.param(b"", id="empty"),
    pytest.param(b"\n\n", id="only-newlines"),
    pytest.param(b"GET http://127.0.0.1:4001/api/orders?id=7 200\n" * 3, id="no-secret-url-lines"),
    pytest.param(b"GET /x?access_token=abc&page=2 200\nnext\n", id="token-query"),
    pytest.param(b"GET /x?API_KEY=abc 200\n/y;Auth=zz\n/z&SIGNATURE=ff&x=1", id="upper-case-names"),
    pytest.param(b"/x?api-key=1 /y?apikey=2 /z?my_pwd=3 /w?passwd=4", id="name-variants"),
    pytest.param("/x?to\u212aen=kelvin-sign\n".encode(), id="kelvin-sign-folds-to-k"),
    pytest.param("/x?\u017fecret=long-s\n".encode(), id="long-s-folds-to-s"),
    pytest.param("/x?\u0131sig=dotless-i /y?s\u0130g=dotted-I\n".encode(), id="dotted-and-dotless-i"),
    pytest.param("/x?ab\u00a0token=nbsp-ends-the-key\n".encode(), id="unicode-space-in-key"),
    pytest.param(b"/x?ab\x1ctoken=info-separator\n", id="ascii-separator-is-unicode-space"),
    pytest.param(b"/x?token=v\x85alue rest\n", id="nel-byte-in-a-latin1-body"),
    pytest.param(b"\xff\xfe /x?token=t0k \x81 hunter2-value\n", id="binary-body"),
    pytest.param("caf\u00e9 p\u00e4ssw\u00f6rd-\u00e9 end\n".encode(), id="non-ascii-secret-utf8"),
    pytest.param("p\u00e4ssw\u00f6rd-\u00e9 \xff".encode("latin-1"), id="non-ascii-secret-latin1"),
    pytest.param(b"a multi\nline-secret b\n", id="secret-spanning-lines"),
    pytest.param(b"http://ops:p@ss@w0rd@h:1/?next=a@b\nhttp://u:@h/\n", id="at-signs-in-password"),
    pytest.param(b"mail ops@example.com about ftp://a:b@c\r\n", id="email-and-crlf"),
    pytest.param(b"x?token=1&secret=2;pwd=3#sig=4 ?sig=\n", id="several-in-a-line"),
    pytest.param(b"s3cr3t-T0ken/x+y=?token=s3cr3t-T0ken%2Fx%2By%3D\n", id="secret-and-its-url-form"),
]


@pytest.mark.parametrize("data", TRICKY)
def test_bytes_equals_redacting_the_decoded_text(data: bytes) -> None:
    """On every tricky body (case folding, Unicode spaces, binary, secrets), bytes() == text() decoded."""
    redactor = Redactor(SECRETS)
    assert redactor.bytes(data) == decoded_then_redacted(redactor, data)


PIECES = st.sampled_from(
    [
        "a", "Z", " ", "\n", "\r", "\t", "?", "&", ";", "=", "#", "@", ":", "/", "://", "http://u:p",
        "token", "TOKEN", "Secret", "passw", "pwd", "api-key", "api_KEY", "auth", "sig", "signature",
        "\u212a", "\u017f", "\u0131", "\u0130", "\u00a0", "\x1c", "\u00e9", "\x85", "hunter2-value",
        "s3cr3t-T0ken/x+y=", "s3cr3t-T0ken%2Fx%2By%3D", "p\u00e4ssw\u00f6rd-\u00e9", "multi\nline-secret",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(PIECES, max_size=40), latin1=st.booleans(), junk=st.binary(max_size=3))
def test_bytes_equals_redacting_the_decoded_text_on_random_bodies(
    pieces: list[str], latin1: bool, junk: bytes
) -> None:
    """Bodies stitched from the patterns' edge cases, UTF-8 or not, come out as the decoded text's."""
    text = "".join(pieces)
    data = text.encode("latin-1", errors="replace") if latin1 else text.encode()
    data += junk
    redactor = Redactor(SECRETS)
    assert redactor.bytes(data) == decoded_then_redacted(redactor, data)


def test_every_name_of_the_query_pattern_has_a_prefilter_name() -> None:
    """Each name _SECRET_QUERY looks for contains a name the line prefilter finds (kept in step)."""
    names = re.search(r"\(\?:([^()]*token[^()]*)\)", redact._SECRET_QUERY.pattern)
    assert names is not None, "the query pattern's list of names moved: update this test"
    prefilter_names = re.findall(r"[a-z]+", redact._QUERY_NAMES.decode())
    for name in names.group(1).split("|"):
        literal_parts = re.sub(r"\[[^\]]*\]\??", " ", name)  # api[-_]?key -> "api key"
        assert any(p in literal_parts for p in prefilter_names), name
