"""The Redactor keeps profile secrets, URL passwords and token query parameters out of all output."""

from __future__ import annotations

import base64
import os
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from spark_ops.redact import (
    MASK,
    SECRET_NAME,
    Redactor,
    body_secrets,
    header_secrets,
    option_secrets,
    url_secrets,
)

SECRET = "s3cr3t/t0ken+v@lue= &x"


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(SECRET, id="raw"),
        pytest.param(quote(SECRET, safe=""), id="percent-encoded"),
        pytest.param(quote_plus(SECRET), id="form-encoded"),
    ],
)
def test_known_secret_is_masked_raw_and_url_encoded(form: str) -> None:
    """A known secret is masked whether it appears as written or URL-encoded."""
    text = f"GET http://127.0.0.1:3003/?q={form} failed; header was {form}"
    redacted = Redactor([SECRET]).text(text)
    assert form not in redacted
    assert redacted.count(MASK) == 2
    assert redacted.startswith("GET http://127.0.0.1:3003/?q=")


@pytest.mark.parametrize(
    "body",
    [b'{"token": "s3cr3t-value"}', b"\xff\xfe binary s3cr3t-value \x00\x81"],
    ids=["utf8-body", "binary-body"],
)
def test_raw_bodies_are_masked_whatever_their_encoding(body: bytes) -> None:
    """A secret inside a kept body is masked even when the body is not UTF-8 text."""
    masked = Redactor(["s3cr3t-value"]).bytes(body)
    assert b"s3cr3t-value" not in masked
    assert b"***" in masked


def test_every_occurrence_is_masked() -> None:
    """A secret that occurs several times is masked everywhere."""
    assert Redactor(["hunter22"]).text("hunter22 hunter22hunter22") == f"{MASK} {MASK}{MASK}"


def test_longer_secret_is_masked_whole() -> None:
    """When one secret contains another, the longer one is masked whole (no tail left behind)."""
    redactor = Redactor(["abc", "abcdef-long"])
    assert redactor.text("token=abcdef-long!") == f"token={MASK}!"
    assert redactor.text("abc") == MASK


@pytest.mark.parametrize("short", ["", "a", "ab"], ids=["empty", "one-char", "two-chars"])
def test_short_strings_are_not_treated_as_secrets(short: str) -> None:
    """Values too short to be secrets are ignored, so ordinary output is not mangled."""
    text = "a status of 200 and about abc"
    assert Redactor([short]).text(text) == text
    assert Redactor([short]).secrets == ()


def test_secrets_property_holds_every_form() -> None:
    """The redactor remembers the raw, percent-encoded and form-encoded forms of each secret."""
    assert set(Redactor([SECRET]).secrets) == {SECRET, quote(SECRET, safe=""), quote_plus(SECRET)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("http://user:pw1@host/x", f"http://user:{MASK}@host/x", id="http"),
        pytest.param("https://ops:p%40ss@h:8443/", f"https://ops:{MASK}@h:8443/", id="encoded-password"),
        pytest.param("http://ops:p@ss@w0rd@h:1/", f"http://ops:{MASK}@h:1/", id="raw-at-signs-in-password"),
        pytest.param(
            "http://ops:pw9@h:1/?next=a@b", f"http://ops:{MASK}@h:1/?next=a@b", id="at-sign-in-query-kept"
        ),
        pytest.param("redis://:only-pass@h:6379/0", f"redis://:{MASK}@h:6379/0", id="empty-user"),
        pytest.param(
            "GET http://a:b1@x/ -> GET https://c:d2@y/",
            f"GET http://a:{MASK}@x/ -> GET https://c:{MASK}@y/",
            id="two-urls",
        ),
        pytest.param("http://user@host/x", "http://user@host/x", id="user-without-password-kept"),
        pytest.param("mail ops@example.com at 12:30", "mail ops@example.com at 12:30", id="not-a-url"),
    ],
)
def test_url_userinfo_password_is_masked_without_knowing_it(text: str, expected: str) -> None:
    """A password in any URL's userinfo is masked even when nobody declared it a secret."""
    assert Redactor().text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("http://h/x?token=abc123", f"http://h/x?token={MASK}", id="token"),
        pytest.param(
            "http://h/x?page=2&access_token=abc&q=1",
            f"http://h/x?page=2&access_token={MASK}&q=1",
            id="access-token-in-the-middle",
        ),
        pytest.param(
            "http://h/x?API_KEY=k1#frag", f"http://h/x?API_KEY={MASK}#frag", id="api-key-upper-case"
        ),
        pytest.param("http://h/x?api-key=k1", f"http://h/x?api-key={MASK}", id="api-key-dashed"),
        pytest.param(
            "http://h/x?password=pw&user=bob", f"http://h/x?password={MASK}&user=bob", id="password"
        ),
        pytest.param("http://h/x?X-Amz-Signature=f00d", f"http://h/x?X-Amz-Signature={MASK}", id="signature"),
        pytest.param("http://h/x?sig=f00d", f"http://h/x?sig={MASK}", id="sig"),
        pytest.param(
            '{"url": "http://h/?secret=abc"}', f'{{"url": "http://h/?secret={MASK}"}}', id="inside-json"
        ),
        pytest.param("http://h/x?page=2&user=bob", "http://h/x?page=2&user=bob", id="ordinary-params-kept"),
    ],
)
def test_secret_query_parameters_are_masked(text: str, expected: str) -> None:
    """Values of token-, key-, password- and signature-like query parameters are masked."""
    assert Redactor().text(text) == expected


def _basic(pair: str) -> str:
    return base64.b64encode(pair.encode()).decode()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "http://user:s3cretpw@127.0.0.1:1/", ["s3cretpw", _basic("user:s3cretpw")], id="userinfo"
        ),
        pytest.param("http://127.0.0.1/?token=abc&page=2", ["abc"], id="query-token"),
        pytest.param("http://u:pw1@h/?api_key=k2&sig=s3", ["pw1", _basic("u:pw1"), "k2", "s3"], id="both"),
        pytest.param(
            "http://ops:p@ss@w0rd@h:1/", ["p@ss@w0rd", _basic("ops:p@ss@w0rd")], id="raw-at-signs-in-password"
        ),
        pytest.param(
            "http://o:p%40ss@h/?token=a%2Bb",
            ["p%40ss", "p@ss", _basic("o:p@ss"), "a%2Bb", "a+b"],
            id="percent-encoded-also-decoded",
        ),
        pytest.param("http://user@h/?token=", [], id="empty-values"),
        pytest.param("http://127.0.0.1:3003/api/healthz", [], id="none"),
    ],
)
def test_url_secrets_finds_passwords_and_tokens(url: str, expected: list[str]) -> None:
    """url_secrets returns the password (as written, decoded, and as the Basic header sends it) and secret
    query values (as written and decoded) a URL holds."""
    assert url_secrets(url) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"Authorization": "Bearer t0ken"}, ["Bearer t0ken", "t0ken"], id="bearer-credentials"),
        pytest.param(
            {"Authorization": f"Basic {_basic('ops:pw9')}"},
            [f"Basic {_basic('ops:pw9')}", _basic("ops:pw9"), "ops:pw9", "pw9"],
            id="basic-decoded",
        ),
        pytest.param(
            {"Authorization": "Basic not-base64!"},
            ["Basic not-base64!", "not-base64!"],
            id="basic-undecodable",
        ),
        pytest.param(
            {"Cookie": "theme=dark; session=s3ss"}, ["theme=dark; session=s3ss", "dark", "s3ss"], id="cookies"
        ),
        pytest.param({"X-Api-Key": "k3y"}, ["k3y"], id="plain-value"),
        pytest.param({"X-Trace": "a b"}, ["a b"], id="not-secret-named-kept-whole"),
        pytest.param({"Authorization": ""}, [], id="empty"),
    ],
)
def test_header_secrets_include_the_parts_a_target_may_echo(
    headers: dict[str, str], expected: list[str]
) -> None:
    """A header is a secret whole, and so are its credentials, their Basic decoding and each cookie value."""
    assert header_secrets(headers) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param('{"user": "ops", "password": "pw1"}', ["pw1"], id="json-secret-key"),
        pytest.param(
            '{"auth": {"key": "k1", "ttl": 30}, "on": true}', ["k1", "30"], id="json-nested-under-secret"
        ),
        pytest.param('[{"api_key": "k2"}]', ["k2"], id="json-list"),
        pytest.param('{"user": "ops", "note": "x"}', [], id="json-nothing-secret"),
        pytest.param("user=ops&password=pw3", ["pw3"], id="form"),
        pytest.param("plain text", [], id="neither"),
        pytest.param(
            '{"a": ' * 100_000 + "1" + "}" * 100_000,
            ['{"a": ' * 100_000 + "1" + "}" * 100_000],
            id="too-deep-to-parse-is-secret-whole",
        ),
    ],
)
def test_body_secrets_are_values_under_secret_named_keys(body: str, expected: list[str]) -> None:
    """A request body's secrets are the values under secret-named keys, JSON or form-encoded."""
    assert body_secrets(body) == expected


def test_option_secrets_reads_urls_headers_and_bodies() -> None:
    """A check's own url, *_url, headers and body keys contribute their secrets; other keys do not."""
    options = {
        "url": "http://127.0.0.1/?token=q1",
        "prometheus_url": "http://u:p2@127.0.0.1/",
        "headers": {"Authorization": "Bearer h3"},
        "body": '{"password": "b4"}',
        "path": "/?token=not-read",
    }
    assert set(option_secrets(options)) == {"q1", "p2", _basic("u:p2"), "Bearer h3", "h3", "b4"}


def test_url_secret_is_masked_wherever_it_appears() -> None:
    """A URL's password, once known, is masked even outside a URL (e.g. echoed in an error body)."""
    redactor = Redactor(url_secrets("http://user:s3cretpw@127.0.0.1:1/"))
    assert redactor.text("server said: bad password s3cretpw") == f"server said: bad password {MASK}"


def test_nested_values_are_redacted_and_other_types_kept() -> None:
    """value() redacts every string in nested dicts, lists and tuples (keys too) and keeps other types."""
    redactor = Redactor(["hunter22"])
    data: dict[str, Any] = {
        "url": "http://u:pw@h/",
        "hunter22": "key is a secret",
        "nested": {
            "list": ["ok", "Bearer hunter22", ("hunter22", 3)],
            "number": 1.5,
            "none": None,
            "flag": True,
        },
        7: "int key",
    }
    assert redactor.value(data) == {
        "url": f"http://u:{MASK}@h/",
        MASK: "key is a secret",
        "nested": {"list": ["ok", f"Bearer {MASK}", [MASK, 3]], "number": 1.5, "none": None, "flag": True},
        "7": "int key",
    }
    assert data["nested"]["list"][1] == "Bearer hunter22"  # the input is not modified


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("SPARK_WEB_TOKEN", True),
        ("DB_PASSWORD", True),
        ("GRAFANA_API_KEY", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("SPARK_SIGNING_KEY_PASSPHRASE", True),
        ("Authorization", True),
        ("Cookie", True),
        ("SPARK_PORT", False),
        ("HOME", False),
        ("Proxy-Authorization", True),
        ("X-Auth-Token", True),
        ("SPARK_AUTH", True),
        ("GIT_AUTHOR_NAME", False),
        ("CI_COMMIT_AUTHOR", False),
        ("BUILDKITE_BUILD_AUTHORS", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    """Environment variables and headers are treated as secret by their names."""
    assert bool(SECRET_NAME.search(name)) is secret


def test_environment_secrets_are_named_so_but_not_the_working_directory_or_the_nox_session(monkeypatch):
    """SPARK_WEB_TOKEN's value is a secret; PWD and NOX_CURRENT_SESSION (nox sets it to "tests") are not,
    though their names match: an export run under nox refused every archive holding the word."""
    from spark_ops.redact import environment_secrets

    monkeypatch.setenv("SPARK_WEB_TOKEN", "topsecrettoken")
    monkeypatch.setenv("NOX_CURRENT_SESSION", "tests")
    monkeypatch.setenv("PWD", "/work/here")
    found = environment_secrets()
    assert "topsecrettoken" in found
    assert "tests" not in found and "/work/here" not in found


def test_a_desktop_session_and_a_commit_author_are_no_secrets(monkeypatch):
    """On a laptop, XDG_SESSION_CLASS=user or a commit author's name used to be masked in every output (a
    check named user.login showed as ***.login); the session token beside them still is."""
    from spark_ops.redact import Redactor, environment_secrets

    for name in list(os.environ):
        monkeypatch.delenv(name)
    ordinary = {
        "XDG_SESSION_CLASS": "user",
        "XDG_SESSION_TYPE": "wayland",
        "DESKTOP_SESSION": "ubuntu",
        "SSH_AUTH_SOCK": "/tmp/ssh-x1/agent.42",
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus",
        "GIT_AUTHOR_NAME": "Jane Doe",
        "CI_COMMIT_AUTHOR": "Jane Doe <jane@example.com>",
    }
    for name, value in ordinary.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SPARK_SESSION_TOKEN", "s3ss10n-t0ken")
    assert environment_secrets() == ["s3ss10n-t0ken"]
    line = "PASS user.login on wayland (ubuntu) by Jane Doe; token s3ss10n-t0ken"
    assert (
        Redactor(environment_secrets()).text(line)
        == f"PASS user.login on wayland (ubuntu) by Jane Doe; token {MASK}"
    )
