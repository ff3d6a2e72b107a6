"""Profiles (spark_ops/config/profile.py): errors naming file and key, extends, secrets, shipped profiles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from conftest import assert_config_error, show_profile

from spark_ops.config import load_profile

# --- the configuration error matrix ----------------------------------------------------------------

# (files to write, the --profile value, fragments the one error line must contain)
PROFILE_ERRORS = [
    pytest.param({"p.toml": "[services.web\n"}, "p.toml", ["p.toml", "invalid TOML"], id="broken-toml"),
    pytest.param(
        {"p.toml": 'extends = "base"\n[slo]\nlatency_p95 = 100\n'},
        "p.toml",
        ["p.toml", "slo.latency_p95", "unknown key"],
        id="unknown-key-typo-in-slo",
    ),
    pytest.param(
        {"p.toml": 'extends = "base"\n[servicez.web]\nurl = "http://127.0.0.1:1"\n'},
        "p.toml",
        ["p.toml", "servicez", "unknown key"],
        id="unknown-top-level-section",
    ),
    pytest.param(
        {"p.toml": 'extends = "base"\n[defaults]\ntimeout_s = "fast"\n'},
        "p.toml",
        ["p.toml", "defaults.timeout_s"],
        id="timeout-not-a-number",
    ),
    pytest.param(
        {"p.toml": 'extends = "base"\n[defaults]\nretries = -1\n'},
        "p.toml",
        ["p.toml", "defaults.retries"],
        id="negative-retries",
    ),
    pytest.param(
        {"p.toml": 'extends = "base"\n[risk]\nfail_on = "sometimes"\n'},
        "p.toml",
        ["p.toml", "risk.fail_on", "sometimes"],
        id="unknown-fail-on",
    ),
    pytest.param(
        {"p.toml": 'extends = "base"\n[slo]\nerror_rate = 5\n'},
        "p.toml",
        ["p.toml", "slo.error_rate"],
        id="error-rate-above-one",
    ),
    pytest.param(
        {"p.toml": '[services.web]\nurl = "ftp://127.0.0.1:3003/"\n'},
        "p.toml",
        ["p.toml", "services.web.url", "http"],
        id="service-url-not-http",
    ),
    pytest.param(
        {"p.toml": '[services.web]\nurl = "127.0.0.1:3003"\n'},
        "p.toml",
        ["p.toml", "services.web.url"],
        id="service-url-without-scheme",
    ),
    pytest.param(
        {"p.toml": '[services.web]\nheaders = { X-Team = "ops" }\n'},
        "p.toml",
        ["p.toml", "services.web", "url"],
        id="service-url-missing",
    ),
    pytest.param(
        {"p.toml": '[prometheus]\nurl = "file:///etc/passwd"\n'},
        "p.toml",
        ["p.toml", "prometheus.url"],
        id="prometheus-url-not-http",
    ),
    pytest.param(
        {}, "no-such-profile", ["no-such-profile", "base, dev, production"], id="unknown-profile-name"
    ),
    pytest.param({}, "missing.toml", ["missing.toml", "does not exist"], id="missing-profile-file"),
    pytest.param(
        {"p.toml": 'extends = "nowhere"\n'},
        "p.toml",
        ["p.toml", "extends", "nowhere"],
        id="extends-unknown-profile",
    ),
    pytest.param(
        {"p.toml": 'extends = "gone.toml"\n'},
        "p.toml",
        ["p.toml", "extends", "gone.toml"],
        id="extends-missing-file",
    ),
    pytest.param(
        {"p.toml": 'extends = "q.toml"\n', "q.toml": 'extends = "p.toml"\n'},
        "p.toml",
        ["p.toml", "extends", "cycle"],
        id="extends-cycle",
    ),
    pytest.param(
        {"p.toml": 'extends = "p.toml"\n'}, "p.toml", ["p.toml", "extends", "cycle"], id="extends-itself"
    ),
    pytest.param(
        {"p.toml": '[services.web]\nurl = "${SPARK_TEST_UNSET_VAR}"\n'},
        "p.toml",
        ["p.toml", "services.web.url", "SPARK_TEST_UNSET_VAR"],
        id="env-var-unset-without-default",
    ),
    pytest.param(
        {
            "p.toml": '[services.web]\nurl = "http://127.0.0.1:1"\n'
            'headers = { Authorization = "Bearer ${SPARK_TEST_UNSET_VAR}" }\n'
        },
        "p.toml",
        ["p.toml", "services.web.headers.Authorization", "SPARK_TEST_UNSET_VAR"],
        id="env-var-unset-in-header",
    ),
    pytest.param(
        {"p.toml": 'extends = "base"\ndescription = ["${SPARK_TEST_UNSET_VAR}"]\n'},
        "p.toml",
        ["p.toml", "description[0]", "SPARK_TEST_UNSET_VAR"],
        id="env-var-unset-in-an-array",
    ),
    pytest.param({"p.toml": '"" = 1\n'}, "p.toml", ["p.toml", '"": unknown key'], id="empty-top-level-key"),
]

# The freshness keys every shipped profile has from base (README: Profiles).
FRESHNESS = {"max_document_age_s": 60.0, "max_clock_skew_s": 5.0, "undated": "fail"}


@pytest.mark.parametrize("command", ["gate", "validate"])
@pytest.mark.parametrize(("files", "ref", "fragments"), PROFILE_ERRORS)
def test_profile_error_exits_2_with_one_line_naming_file_and_key(
    spark: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    files: dict[str, str],
    ref: str,
    fragments: list[str],
) -> None:
    """A broken profile stops gate and validate with exit 2 and one line naming the file and key."""
    monkeypatch.delenv("SPARK_TEST_UNSET_VAR", raising=False)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    if command == "gate":
        result = spark("gate", "--profile", ref, "--no-evidence")
    else:
        result = spark("profiles", "validate", ref)
    assert_config_error(result, *fragments)


def test_password_in_bad_url_is_not_printed_in_the_error(spark: Any, tmp_path: Path) -> None:
    """The error for a wrong URL does not print the password the URL holds."""
    (tmp_path / "p.toml").write_text('[services.web]\nurl = "ftp://ops:hunter2222@127.0.0.1/"\n')
    line = assert_config_error(spark("profiles", "validate", "p.toml"), "services.web.url")
    assert "hunter2222" not in line


def test_valid_profile_validates(spark: Any) -> None:
    """`spark profiles validate` accepts every shipped profile with exit 0."""
    for name in ("base", "dev", "production"):
        result = spark("profiles", "validate", name)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith("ok: profile"), result.stdout


# --- extends -----------------------------------------------------------------------------------------


def test_child_overrides_parent_and_tables_merge_deeply(spark: Any, tmp_path: Path) -> None:
    """A child profile replaces the keys it writes and inherits every other key of its parent chain."""
    (tmp_path / "parent.toml").write_text(
        'extends = "base"\ndescription = "parent"\n'
        '[services.web]\nurl = "http://127.0.0.1:3003"\nheaders = { X-Team = "ops-team" }\n'
        "[defaults]\nretries = 3\n"
    )
    (tmp_path / "child.toml").write_text(
        'extends = "parent.toml"\ndescription = "child"\n'
        '[services.web]\nurl = "http://127.0.0.1:9999"\n'
        "[slo]\nlatency_p95_ms = 99\n"
    )
    profile = show_profile(spark, "child.toml")
    assert profile["description"] == "child"
    assert profile["services"]["web"]["url"] == "http://127.0.0.1:9999"
    assert list(profile["services"]["web"]["headers"]) == ["X-Team"]  # kept from parent, value masked
    assert profile["services"]["executor-1"]["url"] == "http://127.0.0.1:4001"  # from base, two levels up
    assert profile["slo"] == {"latency_p95_ms": 99, "error_rate": 0.05, "staleness_s": 30, **FRESHNESS}
    assert profile["defaults"]["retries"] == 3
    assert profile["defaults"]["timeout_s"] == 5.0


def test_extends_path_is_relative_to_the_child_file(spark: Any, tmp_path: Path) -> None:
    """`extends = "parent.toml"` is found beside the child file, not in the working directory."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "parent.toml").write_text('extends = "base"\n[slo]\nstaleness_s = 7\n')
    (conf / "child.toml").write_text('extends = "parent.toml"\n')
    assert show_profile(spark, "conf/child.toml")["slo"]["staleness_s"] == 7


# (parent text, child text, the file the error must name, the key)
EXTENDS_ERRORS = [
    pytest.param(
        'extends = "base"\n[slo]\nlatency_p95 = 1\n',
        "",
        "parent.toml",
        "slo.latency_p95",
        id="typo-in-parent",
    ),
    pytest.param(
        'extends = "base"\n[defaults]\nretries = -1\n',
        "[slo]\nstaleness_s = 1\n",
        "parent.toml",
        "defaults.retries",
        id="wrong-type-in-parent",
    ),
    pytest.param(
        '[services.web]\nurl = "gopher://x"\n', "", "parent.toml", "services.web.url", id="bad-url-in-parent"
    ),
    pytest.param(
        '[services.web]\nurl = "http://127.0.0.1:1"\nheaders = { X-Team = 1 }\n',
        '[services.web]\nurl = "http://127.0.0.1:2"\n',
        "parent.toml",
        "services.web.headers",
        id="bad-header-in-parent-service-the-child-touches",
    ),
    pytest.param(
        'extends = "base"\n', "[slo]\nlatency_p95 = 1\n", "child.toml", "slo.latency_p95", id="typo-in-child"
    ),
    pytest.param(
        'extends = "base"\n',
        '[prometheus]\nurl = ""\n',
        "child.toml",
        "prometheus.url",
        id="bad-prometheus-url-in-child-under-a-parent-table",
    ),
    pytest.param(
        'extends = "base"\n',
        '[services.web]\n"" = 1\n',
        "child.toml",
        'services.web.""',
        id="empty-key-in-child-inside-inherited-service",
    ),
    pytest.param(
        'extends = "base"\n',
        "[services.web]\ntimeout = 3\n",
        "child.toml",
        "services.web.timeout",
        id="typo-in-child-inside-inherited-service",
    ),
    pytest.param(
        'extends = "base"\n',
        "[services.web]\nurl = 3003\n",
        "child.toml",
        "services.web.url",
        id="wrong-type-in-child-inside-inherited-service",
    ),
]


@pytest.mark.parametrize(("parent", "child", "named", "key"), EXTENDS_ERRORS)
def test_error_names_the_file_that_wrote_the_key(
    spark: Any, tmp_path: Path, parent: str, child: str, named: str, key: str
) -> None:
    """An error in a merged profile names the file in the extends chain that wrote the bad key."""
    (tmp_path / "parent.toml").write_text(parent)
    (tmp_path / "child.toml").write_text('extends = "parent.toml"\n' + child)
    line = assert_config_error(spark("profiles", "validate", "child.toml"), key)
    other = "child.toml" if named == "parent.toml" else "parent.toml"
    assert named in line
    assert other not in line


def test_child_fixes_a_bad_parent_value_by_overriding_it(spark: Any, tmp_path: Path) -> None:
    """The merged profile is validated, so a child may replace a parent value that is invalid alone."""
    (tmp_path / "parent.toml").write_text('extends = "base"\n[defaults]\nretries = -1\n')
    (tmp_path / "child.toml").write_text('extends = "parent.toml"\n[defaults]\nretries = 2\n')
    assert show_profile(spark, "child.toml")["defaults"]["retries"] == 2


# --- secrets ----------------------------------------------------------------------------------------

TOKEN = "s3cr3t/t0ken+value=="


def test_header_token_is_sent_but_never_shown(
    spark: Any, platform: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ${ENV} token in a header reaches the server, while `profiles show` prints only the header name."""
    monkeypatch.setenv("SPARK_WEB_TOKEN", TOKEN)
    (tmp_path / "p.toml").write_text(
        'extends = "dev"\n[services.web]\nurl = "http://127.0.0.1:3003"\n'
        'headers = { Authorization = "Bearer ${SPARK_WEB_TOKEN}" }\n'
    )
    shown = spark("profiles", "show", "p.toml")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["services"]["web"]["headers"] == {"Authorization": "***"}
    for form in (TOKEN, quote(TOKEN, safe=""), quote_plus(TOKEN)):
        assert form not in shown.stdout + shown.stderr

    gate = spark("gate", "--profile", "p.toml", "--no-evidence", "-f", "json", *platform.sets())
    assert gate.exit_code == 0, gate.stdout + gate.stderr
    sent = {request.headers.get("Authorization") for request, _ in platform.server.log if request.path == "/"}
    assert sent == {f"Bearer {TOKEN}"}
    assert TOKEN not in gate.stdout + gate.stderr


@pytest.fixture(params=["s3cretpw", "hunt3r@x9-s3cret"], ids=["plain-password", "password-with-raw-at-signs"])
def url_password(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A profile p.toml whose web URL carries this password (nothing listens on port 1)."""
    password: str = request.param
    (tmp_path / "p.toml").write_text(
        f'extends = "dev"\n[services.web]\nurl = "http://user:{password}@127.0.0.1:1/"\n'
    )
    return password


def test_url_password_is_masked_in_profiles_show(spark: Any, url_password: str) -> None:
    """`spark profiles show` masks a password written in a service URL."""
    result = spark("profiles", "show", "p.toml")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["services"]["web"]["url"] == "http://user:***@127.0.0.1:1/"
    for fragment in {url_password, *url_password.split("@")}:
        assert fragment not in result.stdout + result.stderr


@pytest.mark.parametrize("output", ["json", "table", "markdown", "junit"])
def test_url_password_never_reaches_gate_output(spark: Any, url_password: str, output: str) -> None:
    """A gate run against a URL with a password fails the check without printing the password anywhere."""
    result = spark(
        "gate", "--profile", "p.toml", "--no-evidence", "-f", output, "--set", "defaults.retries=0"
    )
    assert result.exit_code == 0, result.stdout + result.stderr  # report-only
    assert "Traceback" not in result.stdout + result.stderr
    for fragment in {url_password, *url_password.split("@")}:
        assert fragment not in result.stdout
        assert fragment not in result.stderr
    if output == "json":
        checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
        assert checks["ui.up"]["status"] in ("FAIL", "ERROR")


def test_url_credentials_are_sent_as_basic_auth(spark: Any, platform: Any, tmp_path: Path) -> None:
    """A service URL with user:password@ reaches the service, authenticated with HTTP basic auth."""
    with_credentials = platform.url.replace("http://", "http://ops:s3cretpw@")
    result = spark("gate", "--no-evidence", "-f", "json", *platform.sets(web=with_credentials))
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["ui.up"]["status"] == "PASS", checks["ui.up"]["message"]
    sent = {request.headers.get("Authorization") for request, _ in platform.server.log if request.path == "/"}
    assert sent == {"Basic b3BzOnMzY3JldHB3"}


def test_bad_header_value_error_names_the_header(spark: Any, tmp_path: Path) -> None:
    """A header value that is not a string is reported under the header's own dotted key."""
    (tmp_path / "p.toml").write_text('[services.web]\nurl = "http://127.0.0.1:1"\nheaders = { X-Team = 1 }\n')
    assert_config_error(spark("profiles", "validate", "p.toml"), "services.web.headers.X-Team")


# --- shipped profiles --------------------------------------------------------------------------------


def test_shipped_profiles_are_found_from_an_empty_directory(spark: Any, tmp_path: Path) -> None:
    """base, dev and production are listed from any working directory."""
    assert not any(tmp_path.iterdir())
    result = spark("profiles", "list")
    assert result.exit_code == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == ["base", "dev", "production"]


@pytest.mark.parametrize(
    ("name", "slo"),
    [
        pytest.param("dev", {"latency_p95_ms": 150, "error_rate": 0.05, "staleness_s": 30}, id="dev"),
        pytest.param(
            "production", {"latency_p95_ms": 120, "error_rate": 0.02, "staleness_s": 15}, id="production"
        ),
    ],
)
def test_shipped_slo_targets(spark: Any, name: str, slo: dict[str, float]) -> None:
    """The shipped profiles carry SPEC's SLO targets."""
    profile = show_profile(spark, name)
    assert profile["slo"] == {**slo, **FRESHNESS}
    assert profile["risk"]["fail_on"] == "high"
    assert set(profile["services"]) == {"web", "executor-1", "executor-2", "marketdata"}


def test_default_profile_is_dev(spark: Any) -> None:
    """`spark profiles show` without a name shows dev."""
    assert show_profile(spark)["name"] == "dev"


def test_local_profiles_override_and_add(spark: Any, tmp_path: Path) -> None:
    """./profiles/NAME.toml replaces a shipped profile of that name and adds new names."""
    local = tmp_path / "profiles"
    local.mkdir()
    (local / "dev.toml").write_text(
        'description = "my own dev"\nextends = "base"\n[slo]\nlatency_p95_ms = 500\n'
    )
    (local / "staging.toml").write_text('description = "staging stack"\nextends = "production"\n')
    listed = spark("profiles", "list")
    assert listed.exit_code == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert set(rows) == {"base", "dev", "production", "staging"}
    assert "my own dev" in rows["dev"] and str(local / "dev.toml") in rows["dev"]
    assert "staging stack" in rows["staging"]

    dev = show_profile(spark, "dev")
    assert Path(dev["source"]) == local / "dev.toml"
    assert dev["slo"]["latency_p95_ms"] == 500
    assert show_profile(spark, "staging")["slo"]["latency_p95_ms"] == 120  # extends the shipped production


def test_a_wrong_choice_names_the_allowed_ones(spark, tmp_path):
    """A value outside a fixed set of choices is exit 2 naming the key and every allowed value."""
    (tmp_path / "p.toml").write_text('extends = "dev"\n[risk]\nfail_on = "low"\n', encoding="utf-8")
    assert_config_error(
        spark("profiles", "validate", "p.toml"), "risk.fail_on", "'low'", "'medium', 'high', 'critical'"
    )


def test_the_redactor_is_built_once_and_masks_profile_and_environment_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A profile has one redactor; it masks the profile's own secrets and secret-named variables."""
    monkeypatch.setenv("SPARK_TEST_API_TOKEN", "env-secret-4242")
    (tmp_path / "p.toml").write_text(
        'extends = "dev"\n[services.web]\nurl = "http://ops:pw-12345@127.0.0.1:3003"\n', encoding="utf-8"
    )
    profile = load_profile(str(tmp_path / "p.toml"))
    assert profile.redactor is profile.redactor
    assert profile.redactor.text("pw-12345 and env-secret-4242") == "*** and ***"
