"""Every row of the fault matrix through `spark gate --exit-on-fail`: status, reason, exit code, deadline."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from conftest import write_suite

from faults import render_readme
from faults._matrix import TEMPLATES, Fault, Serve, check_for, deadline_s
from faults.conftest import UNRESOLVABLE, Origins, free_port_on
from faults.hostile import BEHAVIOURS, HostileServer

FAULTS = render_readme.all_faults()
TOKEN = "Bearer fault-planted-token-3b1e"
COOKIE = "session=fault-planted-cookie-9c4d"
USERINFO = "fault:fault-planted-pass-77aa@"
# A check may end this much later than 110 % of its deadline: the runner's asyncio.timeout fires on the
# event loop's next turn, then the cancelled request closes its socket, and duration_ms is taken after
# that. Measured on this shared 2-core machine: +0.00 to +0.09 s past the deadline (72 checks, 3 runs).
# Fixed, not proportional, and far under a second deadline (a retry would add >= 1.5 s).
SCHEDULING_ALLOWANCE_S = 0.25
# The whole in-process `spark gate` around the checks: loading profile and suite, the first import of
# the HTTP stack in this process (about 0.5 s), the report.
RUN_OVERHEAD_S = 1.5


def aim(origins: Origins, serve: Serve) -> tuple[str, HostileServer | None]:
    """The base URL a row's checks go to, and the hostile server behind it (pointed at ``serve``)."""
    server: HostileServer | None
    if serve.origin in ("plain", "plain-for-https"):
        server = origins.plain
    elif serve.origin == "ipv6":
        server = origins.ipv6
    elif serve.origin.startswith("tls-"):
        server = origins.tls[serve.origin]
    else:
        server = None
    if serve.origin in ("ipv6", "ipv6-refused") and origins.ipv6 is None:
        pytest.skip("this machine has no IPv6 loopback ([::1] cannot be bound)")
    if server is not None:
        server.serve = serve
        server.requests.clear()
    if serve.origin == "plain-for-https":
        return f"https://127.0.0.1:{origins.plain.port}", server
    if serve.origin == "unresolvable":
        return f"http://{UNRESOLVABLE}:8080", None
    if serve.origin == "refused":
        return f"http://127.0.0.1:{free_port_on('127.0.0.1')}", None
    if serve.origin == "ipv6-refused":
        return f"http://[::1]:{free_port_on('::1')}", None
    assert server is not None
    return server.origin, server


def suite_entries(fault: Fault, base: str) -> list[dict[str, Any]]:
    """One check per listed kind; with ``credentials`` each sends a secret the next hop must not see."""
    entries = []
    for kind, expect in fault.expect.items():
        url_base = base
        if fault.credentials and kind not in ("http", "promql"):
            url_base = base.replace("://", "://" + USERINFO, 1)
        entry = check_for(kind, url_base, expect.options)
        if fault.credentials and kind == "http":
            entry["headers"] = {"Authorization": TOKEN, "Cookie": COOKIE}
        entries.append(entry)
    return entries


def run_gate(
    spark: Any, tmp_path: Any, entries: list[dict[str, Any]], base: str, *, credentials: bool = False
) -> tuple[Any, dict[str, Any], float]:
    """`spark gate --exit-on-fail -f json` over ``entries``; the result and the result document."""
    suite = write_suite(tmp_path, *entries)
    args = ["gate", "--exit-on-fail", "--suite", str(suite), "--format", "json", "--no-evidence"]
    args += ["--set", f"prometheus.url={base}"]
    if credentials:
        args += ["--set", f'prometheus.headers={{ Authorization = "{TOKEN}", Cookie = "{COOKIE}" }}']
    started = time.perf_counter()
    result = spark(*args)
    wall_s = time.perf_counter() - started
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    try:
        document = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"no result JSON (exit {result.exit_code}): {result.stdout} {result.stderr}")
    return result, document, wall_s


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_hostile_answer_never_passes(
    fault: Fault, origins: Origins, spark: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each hostile answer gets its documented status, reason and exit code from every kind, no traceback."""
    monkeypatch.setenv("SSL_CERT_FILE", str(origins.ca_file))  # the test CA is the client's only trust
    base, server = aim(origins, fault.serve)
    entries = suite_entries(fault, base)
    result, document, wall_s = run_gate(spark, tmp_path, entries, base, credentials=fault.credentials)
    by_kind = {check["kind"]: check for check in document["checks"]}
    assert set(by_kind) == set(fault.expect)
    for kind, expect in fault.expect.items():
        check = by_kind[kind]
        assert check["status"] == expect.status.value, (kind, check)
        assert re.search(expect.reason, check["message"]), (kind, expect.reason, check["message"])
    assert result.exit_code == fault.exit_code, document
    assert document["exit_code"] == fault.exit_code
    if fault.deadline:
        for entry in entries:
            limit = deadline_s(entry)
            took = by_kind[entry["kind"]]["duration_ms"] / 1000
            assert limit * 0.9 <= took <= limit * 1.10 + SCHEDULING_ALLOWANCE_S, (entry["kind"], took, limit)
        # Nor does the run linger after its last deadline (closing a client stuck on a hostile socket).
        longest = max(deadline_s(entry) for entry in entries)
        print(f"{fault.id}: whole run {wall_s:.2f} s, longest deadline {longest:g} s")
        assert wall_s <= longest * 1.10 + RUN_OVERHEAD_S, (wall_s, longest)
    if fault.credentials:
        assert_no_credentials_followed(origins, server)


def assert_no_credentials_followed(origins: Origins, server: HostileServer | None) -> None:
    """The first hop saw the secrets (header, Basic userinfo, cookie); the other host saw none of them."""
    assert server is not None
    first = [r.headers for r in server.requests]
    assert any(h.get("authorization") == TOKEN for h in first), first
    assert any(h.get("cookie") == COOKIE for h in first), first
    assert any(h.get("authorization", "").startswith("Basic ") for h in first), first
    followed = [r.headers for r in origins.other_host.requests]
    assert len(followed) >= 5, f"not every kind followed the redirect to the other host: {followed}"
    for headers in followed:
        assert "authorization" not in headers and "cookie" not in headers, headers


HEALTHY_KINDS = ("http", "slo", "metrics", "pm2", "promql", "latency")


@pytest.mark.parametrize("encoding", [None, "gzip", "deflate", "raw-deflate"])
def test_every_template_passes_a_healthy_answer(
    encoding: str | None, origins: Origins, spark: Any, tmp_path: Any
) -> None:
    """The control: each kind's template PASSes the healthy answer (plain or compressed), so a row's
    non-PASS is the fault's doing, not the template's."""
    base, _ = aim(origins, Serve(encoding=encoding))
    entries = [check_for(kind, base, {}) for kind in HEALTHY_KINDS]
    result, document, _ = run_gate(spark, tmp_path, entries, base)
    assert {check["kind"]: check["status"] for check in document["checks"]} == dict.fromkeys(
        HEALTHY_KINDS, "PASS"
    ), document["checks"]
    assert result.exit_code == 0


SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def test_every_row_is_a_slug_with_a_known_behaviour_and_group() -> None:
    """A row's id is a slug, its behaviour exists (a typo would just hang up) and its group is listed."""
    for fault in FAULTS:
        assert SLUG.fullmatch(fault.id), fault.id
        assert fault.serve.behaviour in {*BEHAVIOURS, "plain-http"}, (fault.id, fault.serve.behaviour)
        assert fault.group in render_readme.GROUP_ORDER, (fault.id, fault.group)
        assert set(fault.expect) <= set(TEMPLATES), (fault.id, fault.expect)
