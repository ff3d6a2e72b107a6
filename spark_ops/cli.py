"""The ``spark`` command: parse options, call the library, pick the exit code. No logic lives here.

Heavy modules (httpx, rich, prometheus_client) are imported inside the commands that use them, so
``spark --help`` and ``spark --version`` stay fast in every pipeline step.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from spark_ops import __version__, version_line
from spark_ops.errors import ConfigError, ExitCode, SparkOpsError
from spark_ops.metric_names import DEFAULT_LISTEN

if TYPE_CHECKING:
    from spark_ops.pipeline import PreparedRun

app = typer.Typer(
    name="spark",
    help="spark-ops: decide whether the Spark platform is safe to deploy to.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
profiles_app = typer.Typer(help="List, show and validate profiles.", no_args_is_help=True)
checks_app = typer.Typer(help="List check kinds and suites.", no_args_is_help=True)
evidence_app = typer.Typer(help="Export, verify, list and prune kept runs.", no_args_is_help=True)
app.add_typer(profiles_app, name="profiles")
app.add_typer(checks_app, name="checks")
app.add_typer(evidence_app, name="evidence")


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    junit = "junit"
    markdown = "markdown"


class Mode(StrEnum):
    mock = "mock"
    real = "real"


class Ports(StrEnum):
    default = "default"
    auto = "auto"


class FailOn(StrEnum):
    medium = "medium"
    high = "high"
    critical = "critical"


ProfileOpt = Annotated[
    str, typer.Option("--profile", "-p", help="Profile name or TOML file.", envvar="SPARK_PROFILE")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override one profile key: KEY=VALUE (dotted key, TOML value). Repeatable."),
]
ExitOnFailOpt = Annotated[
    bool,
    typer.Option("--exit-on-fail", help="Let the exit code carry the verdict.", envvar="SPARK_EXIT_ON_FAIL"),
]
FailOnOpt = Annotated[
    FailOn | None,
    typer.Option(
        "--fail-on", help="Lowest risk level that fails the verdict (default: the profile's, high)."
    ),
]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="What to print on stdout.")]
ReportJsonOpt = Annotated[Path | None, typer.Option("--report-json", help="Also write the result JSON here.")]
ReportJunitOpt = Annotated[Path | None, typer.Option("--report-junit", help="Also write JUnit XML here.")]
EvidenceDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--evidence-dir", help="Where runs are kept (default ./evidence).", envvar="SPARK_EVIDENCE_DIR"
    ),
]
NoEvidenceOpt = Annotated[bool, typer.Option("--no-evidence", help="Do not keep this run.")]


def _say(message: str) -> None:
    """One line on stderr: control characters from a file or an option (a key holding "\\r") are escaped."""
    print(f"spark: {_escape_controls(message)}", file=sys.stderr)


def _escape_controls(text: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class _Guard:
    """What the error handler knows: the secrets to mask in anything it prints or writes."""

    def __init__(self) -> None:
        from spark_ops.redact import Redactor, environment_secrets

        self.redactor = Redactor(environment_secrets())

    def know_secrets(self, secrets: frozenset[str]) -> None:
        from spark_ops.redact import Redactor, environment_secrets

        self.redactor = Redactor([*environment_secrets(), *secrets])

    def crash_report(self) -> str:
        """Write the current traceback to a file and say where: the temp folder, else the working folder.

        Never raises: a crash report that cannot be written must not turn exit 4 into a traceback.
        """
        stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
        text = self.redactor.text(
            f"spark-ops {__version__}\n{' '.join(sys.argv)}\n\n{traceback.format_exc()}"
        )
        reason = ""
        for folder in (None, "."):
            name = None
            try:
                handle, name = tempfile.mkstemp(prefix=f"spark-ops-crash-{stamp}-", suffix=".log", dir=folder)
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(text)
            except OSError as exc:
                reason = exc.strerror or str(exc)
                if name is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(name)
                continue
            return f"details in {Path(name).absolute()}"
        return f"no details file could be written: {reason}"


@contextmanager
def _exit_codes() -> Iterator[_Guard]:
    """Turn library errors into one line and the documented exit code; bugs into exit 4."""
    guard = _Guard()
    try:
        yield guard
    except typer.Exit:
        raise
    except SparkOpsError as exc:
        _say(guard.redactor.text(f"error: {exc}"))
        raise typer.Exit(int(exc.exit_code)) from None
    except KeyboardInterrupt:
        _say("interrupted")
        raise typer.Exit(130) from None
    except (Exception, SystemExit) as exc:  # library code never exits on its own: a sys.exit() is a bug too
        details = guard.crash_report()
        _say(guard.redactor.text(f"internal error: {type(exc).__name__}: {exc} ({details})"))
        raise typer.Exit(int(ExitCode.INTERNAL_ERROR)) from None


def _write_atomically(path: Path, text: str, option: str) -> None:
    """Write a report file whole or not at all; an unwritable path is a usage error (exit 2)."""
    if path.is_dir() or not path.name:
        raise ConfigError(f"{option} {path}: is a folder; give a file name")
    from spark_ops.fsio import write_atomically

    try:
        write_atomically(path, text.encode())
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot write: {exc.strerror or exc}") from None


def run_suite_command(
    command: str,
    *,
    profile: str,
    suite: str,
    sets: list[str] | None,
    enforce: bool,
    fail_on: FailOn | None,
    output: OutputFormat,
    report_json: Path | None,
    report_junit: Path | None,
    evidence_dir: Path | None,
    no_evidence: bool,
    confirm: Callable[[PreparedRun], None] | None = None,
) -> NoReturn:
    """Shared body of gate, smoke and canary: prepare, (confirm,) run with progress, report, keep, exit."""
    from spark_ops import evidence, pipeline
    from spark_ops.progress import live_progress
    from spark_ops.report import renderer

    with _exit_codes() as guard:
        prepared = pipeline.prepare_run(
            command,
            profile_ref=profile,
            suite_ref=suite,
            sets=sets or (),
            fail_on=fail_on.value if fail_on else None,
        )
        guard.know_secrets(prepared.secrets)
        if confirm is not None:
            confirm(prepared)
        with live_progress(len(prepared.checks), f"spark {command}") as on_result:
            run = pipeline.execute(prepared, enforce=enforce, on_result=on_result)
        sys.stdout.write(renderer(output.value)(run))
        if report_json is not None:
            _write_atomically(report_json, renderer("json")(run), "--report-json")
        if report_junit is not None:
            _write_atomically(report_junit, renderer("junit")(run), "--report-junit")
        if os.environ.get("GITHUB_ACTIONS") == "true":
            from spark_ops.report import github

            # Annotations go where they cannot corrupt a machine-readable document on stdout.
            machine_readable = output in (OutputFormat.json, OutputFormat.junit)
            (sys.stderr if machine_readable else sys.stdout).write(github.publish(run))
        if not no_evidence:
            from spark_ops.config.profile import resolved_view

            folder = evidence.store_run(
                run, evidence.evidence_dir(evidence_dir), profile_view=resolved_view(prepared.profile)
            )
            _say(f"run kept in {folder}")
        raise typer.Exit(run.exit_code)
    raise AssertionError("unreachable")  # pragma: no cover - _exit_codes always exits


def _version_callback(value: bool) -> None:
    if value:
        print(version_line())
        raise typer.Exit(0)


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """spark-ops: decide whether the Spark platform is safe to deploy to."""


SuiteOpt = Annotated[str, typer.Option("--suite", "-s", help="Suite name or TOML file.")]


def _register_suite_command(command: str, summary: str) -> None:
    """``spark COMMAND``: the gate's options, run against the suite of the same name by default."""

    def run(
        profile: ProfileOpt = "dev",
        suite: SuiteOpt = command,
        sets: SetOpt = None,
        exit_on_fail: ExitOnFailOpt = False,
        fail_on: FailOnOpt = None,
        output: FormatOpt = OutputFormat.table,
        report_json: ReportJsonOpt = None,
        report_junit: ReportJunitOpt = None,
        evidence_dir: EvidenceDirOpt = None,
        no_evidence: NoEvidenceOpt = False,
    ) -> None:
        run_suite_command(
            command,
            profile=profile,
            suite=suite,
            sets=sets,
            enforce=exit_on_fail,
            fail_on=fail_on,
            output=output,
            report_json=report_json,
            report_junit=report_junit,
            evidence_dir=evidence_dir,
            no_evidence=no_evidence,
        )

    run.__doc__ = summary
    app.command(name=command)(run)


_register_suite_command(
    "gate", "Run the CI health gate. Report-only unless --exit-on-fail (or SPARK_EXIT_ON_FAIL=1)."
)
_register_suite_command("smoke", "Smoke test: the five pages and /api/healthz answer 200 (6/6).")


FaultOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--fault", help="SERVICE=KIND[:ARG]: down, slow:MS, errors:FRACTION, stale:S, status:CODE, crashloop."
    ),
]


@app.command()
def canary(
    mode: Annotated[
        Mode, typer.Option("--mode", help="mock: the embedded simulator; real: the profile's URLs.")
    ],
    auto_ok: Annotated[
        bool, typer.Option("--auto-ok", help="Send the load without asking (needed without a TTY).")
    ] = False,
    faults: FaultOpt = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline", help="Compare the latency probe with this profile or base URL (Mann-Whitney)."
        ),
    ] = None,
    profile: ProfileOpt = "dev",
    suite: SuiteOpt = "canary",
    sets: SetOpt = None,
    exit_on_fail: Annotated[
        bool,
        typer.Option("--exit-on-fail/--no-exit-on-fail", help="Let the verdict set the exit code (default)."),
    ] = True,
    fail_on: FailOnOpt = None,
    output: FormatOpt = OutputFormat.table,
    report_json: ReportJsonOpt = None,
    report_junit: ReportJunitOpt = None,
    evidence_dir: EvidenceDirOpt = None,
    no_evidence: NoEvidenceOpt = False,
) -> None:
    """Canary run: smoke, metrics, SLOs and a measured latency probe, then the verdict.

    --mode mock starts the embedded simulator on free loopback ports (add --fault to rehearse a failure);
    --mode real sends load to the profile's URLs and asks first unless --auto-ok.
    """
    from spark_ops.sim import Simulator, parse_fault

    simulator = None
    with _exit_codes():
        parsed = [parse_fault(text) for text in faults or []]
        if mode is Mode.real and parsed:
            raise ConfigError("--fault rehearses failures on the simulator: use it with --mode mock")
        if mode is Mode.mock:
            simulator = Simulator(ports="auto", faults=parsed).start()
    try:
        run_suite_command(
            "canary",
            profile=profile,
            suite=suite,
            sets=[
                *(simulator.profile_sets() if simulator else []),
                *([f"canary.baseline={json.dumps(baseline)}"] if baseline else []),
                *(sets or []),
            ],
            enforce=exit_on_fail,
            fail_on=fail_on,
            output=output,
            report_json=report_json,
            report_junit=report_junit,
            evidence_dir=evidence_dir,
            no_evidence=no_evidence,
            confirm=None if mode is Mode.mock or auto_ok else _confirm_load,
        )
    finally:
        if simulator is not None:
            simulator.stop()


def _confirm_load(prepared: PreparedRun) -> None:
    """Show what a real canary will send and ask; with no terminal, refuse (exit 2) naming --auto-ok."""
    from spark_ops.pipeline import describe_load

    plan = describe_load(prepared)
    print("spark canary --mode real will send:\n" + "\n".join(f"  {line}" for line in plan), file=sys.stderr)
    if not sys.stdin.isatty():
        raise ConfigError(
            "refusing to send canary load without confirmation and no terminal to ask: add --auto-ok"
        )
    if not typer.confirm("Send this load?", default=False, err=True):
        raise ConfigError("canary cancelled: nothing was sent")


@app.command()
def sim(
    faults: FaultOpt = None,
    ports: Annotated[
        Ports, typer.Option("--ports", help="default: the platform's own ports; auto: free ports.")
    ] = Ports.default,
    write_profile: Annotated[
        Path | None, typer.Option("--write-profile", help="Write a profile pointing at the simulator here.")
    ] = None,
) -> None:
    """Run the embedded Spark platform simulator on loopback until Ctrl-C or SIGTERM."""
    import signal
    import threading

    from spark_ops.sim import Simulator, parse_fault
    from spark_ops.sim.platform import ADMIN_PATH

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # before start: a SIGTERM any time stops cleanly
    with _exit_codes():
        simulator = Simulator(ports=ports.value, faults=[parse_fault(text) for text in faults or []]).start()
        try:
            if write_profile is not None:
                _write_atomically(write_profile, simulator.profile_toml(), "--write-profile")
            for name, url in simulator.urls.items():
                print(f"{name:<11} {url}")
            print(simulator.profile_toml() if ports is Ports.auto and write_profile is None else "", end="")
            print(f"faults: POST SERVICE=KIND[:ARG] to {simulator.urls['web']}{ADMIN_PATH}; Ctrl-C stops")
            sys.stdout.flush()
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop
                stop.wait()
        finally:
            simulator.stop()
        _say("simulator stopped")


class ReportFormat(StrEnum):
    markdown = "markdown"
    json = "json"


class ListFormat(StrEnum):
    table = "table"
    json = "json"


@evidence_app.command("export")
def evidence_export(
    run_ids: Annotated[
        list[str] | None, typer.Option("--run", help="A run ID to export (repeatable; see `evidence list`).")
    ] = None,
    all_runs: Annotated[bool, typer.Option("--all", help="Every kept run and report.")] = False,
    includes: Annotated[
        list[str] | None,
        typer.Option("--include", help="Extra files: a path, glob or folder, e.g. PM2 logs (repeatable)."),
    ] = None,
    max_log_bytes: Annotated[
        str | None, typer.Option("--max-log-bytes", help="Keep only the tail of larger included logs (100M).")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Archive name prefix.")] = "canary",
    out: Annotated[
        Path | None, typer.Option("--out", help="Archive folder (default: the evidence folder).")
    ] = None,
    evidence_dir: EvidenceDirOpt = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", "-p", help="Profile whose secrets to redact (default: the runs')"),
    ] = None,
    sets: SetOpt = None,
) -> None:
    """Pack runs, reports and logs into <out>/<NAME>_<UTC stamp>.zip with a checksummed manifest.

    By default it takes the latest run of each command since the last export. Every member is redacted
    and scanned for known secrets (raw, URL-encoded, base64); a hit refuses the archive (exit 1).
    """
    import time

    from spark_ops.evidence import archive
    from spark_ops.evidence import evidence_dir as resolve_dir
    from spark_ops.progress import byte_progress
    from spark_ops.units import parse_size

    with _exit_codes() as guard:
        base = resolve_dir(evidence_dir)
        tail = parse_size(max_log_bytes, option="--max-log-bytes") if max_log_bytes else None
        plan = archive.plan_export(
            base,
            run_ids=run_ids or (),
            all_runs=all_runs,
            includes=includes or (),
            max_log_bytes=tail,
            extra=[source for source in [archive.pm2_source()] if source is not None],
        )
        for run_id in plan.incomplete:
            _say(f"note: run {run_id} has no readable result.json: packed, marked INCOMPLETE in the manifest")
        redactor = archive.export_redactor(plan.runs, profile, sets or (), note=_say)
        guard.know_secrets(frozenset(redactor.secrets))
        total = sum(min(s.path.stat().st_size, tail or 1 << 62) for s in plan.sources if s.path is not None)
        started = time.perf_counter()
        with byte_progress(total, "exporting") as on_bytes:
            exported = archive.export(
                plan, base_dir=base, out_dir=out or base, prefix=name, redactor=redactor, on_bytes=on_bytes
            )
        seconds = time.perf_counter() - started
        _say(
            f"exported {len(exported.runs)} runs, {len(exported.members)} members, "
            f"{exported.content_bytes / 1e6:.1f} MB in {seconds:.1f} s; nothing secret found"
        )
        print(exported.path)


@evidence_app.command("verify")
def evidence_verify(
    zip_path: Annotated[Path, typer.Argument(metavar="ZIP", help="The archive to check.")],
) -> None:
    """Exit 0 when every member matches the manifest; 1 when one was changed, added or removed.

    Exit 2 when the file is not a readable zip. The archive is read, never extracted.
    """
    from spark_ops.errors import EvidenceRefused
    from spark_ops.evidence import archive

    with _exit_codes():
        result = archive.verify(zip_path)
        for problem in result.problems:
            print(f"TAMPERED {problem}")
        if not result.ok:
            raise EvidenceRefused(f"{zip_path}: {len(result.problems)} problems: the archive was altered")
        print(f"ok: {result.members} members match {archive.MANIFEST} in {zip_path}")


@evidence_app.command("list")
def evidence_list(
    evidence_dir: EvidenceDirOpt = None,
    output: Annotated[ListFormat, typer.Option("--format", "-f", help="What to print.")] = ListFormat.table,
) -> None:
    """Kept runs, daily reports and archives: time, kind, name, command, profile, risk, size."""
    from spark_ops.evidence import catalog
    from spark_ops.evidence import evidence_dir as resolve_dir

    with _exit_codes():
        entries = catalog.catalog(resolve_dir(evidence_dir))
        if output is ListFormat.json:
            rows = [
                {
                    "created": e.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "kind": e.kind,
                    "name": e.name,
                    "command": e.command,
                    "profile": e.profile,
                    "risk": e.risk,
                    "size_bytes": e.size_bytes,
                }
                for e in entries
            ]
            print(json.dumps(rows, indent=2))
            return
        if not entries:
            print(f"nothing kept in {resolve_dir(evidence_dir)}")
            return
        header = ("created (UTC)", "kind", "name", "command", "profile", "risk")
        print("{:<20} {:<8} {:<40} {:<10} {:<12} {:<10} size".format(*header))
        for e in entries:
            print(
                f"{e.created:%Y-%m-%d %H:%M:%S}  {e.kind:<8} {e.name:<40} {e.command:<10} "
                f"{e.profile:<12} {e.risk:<10} {catalog.human_size(e.size_bytes)}"
            )


@evidence_app.command("prune")
def evidence_prune(
    older_than: Annotated[str, typer.Option("--older-than", help="Age to remove: 7d, 24h, 2w...")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be removed.")] = False,
    evidence_dir: EvidenceDirOpt = None,
) -> None:
    """Remove kept runs, reports and archives older than a duration."""
    from spark_ops.evidence import catalog
    from spark_ops.evidence import evidence_dir as resolve_dir
    from spark_ops.units import parse_duration

    with _exit_codes():
        cutoff = datetime.now(UTC) - parse_duration(older_than, option="--older-than")
        removed = catalog.prune(resolve_dir(evidence_dir), cutoff, dry_run=dry_run)
        verb = "would remove" if dry_run else "removed"
        for entry in removed:
            print(f"{verb} {entry.kind} {entry.name}")
        _say(f"{verb} {len(removed)} entries older than {cutoff:%Y-%m-%d %H:%M:%S} UTC")


@app.command()
def report(
    since: Annotated[str, typer.Option("--since", help="The window to report on: 24h, 7d...")] = "24h",
    output: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="What to print.")
    ] = ReportFormat.markdown,
    evidence_dir: EvidenceDirOpt = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="Print only; do not keep the report.")] = False,
) -> None:
    """The daily risk report from the kept runs: risk, canary N/M PASS, issues, recommendation, trend.

    Written as markdown and JSON under <evidence>/reports/ (and so included in the next export).
    Exit 3 when the window holds no runs: no evidence is not a pass.
    """
    from spark_ops import daily_report
    from spark_ops.evidence import evidence_dir as resolve_dir
    from spark_ops.units import parse_duration

    with _exit_codes():
        base = resolve_dir(evidence_dir)
        now = datetime.now(UTC).replace(microsecond=0)
        document = daily_report.build(base, since=parse_duration(since, option="--since"), now=now)
        if output is ReportFormat.json:
            print(json.dumps(document, indent=2))
        else:
            sys.stdout.write(daily_report.render_markdown(document))
        if not no_store:
            markdown_path, _ = daily_report.store(document, base, now=now)
            _say(f"report kept in {markdown_path.with_suffix('')}.{{md,json}}")
        if document["risk"]["level"] is None:
            raise typer.Exit(int(ExitCode.INCONCLUSIVE))


@profiles_app.command("list")
def profiles_list() -> None:
    """Every profile that can be used, and where it comes from (./profiles overrides the shipped ones)."""
    from spark_ops.config.files import available, read_toml

    with _exit_codes():
        for name, path in available("profiles").items():
            description = read_toml(path).get("description", "")
            print(f"{name:<16} {description}  [{path}]")


@profiles_app.command("show")
def profiles_show(
    name: Annotated[str, typer.Argument(help="Profile name or TOML file.")] = "dev",
    sets: SetOpt = None,
) -> None:
    """Print the resolved profile (extends merged, ${ENV} and --set applied) with secrets redacted."""
    from spark_ops.config.profile import load_profile, resolved_view

    with _exit_codes():
        profile = load_profile(name, sets or ())
        print(
            json.dumps({"name": profile.name, "source": profile.source, **resolved_view(profile)}, indent=2)
        )


@profiles_app.command("validate")
def profiles_validate(
    file: Annotated[str, typer.Argument(help="Profile name or TOML file.")],
    suite: Annotated[
        list[str] | None, typer.Option("--suite", "-s", help="Also validate these suites against it.")
    ] = None,
    sets: SetOpt = None,
) -> None:
    """Validate a profile (and optionally suites against it); exit 2 naming the file and key on error."""
    from spark_ops.config import load_profile, load_suite
    from spark_ops.registry import prepare

    with _exit_codes():
        profile = load_profile(file, sets or ())
        print(f"ok: profile {profile.name} ({profile.source}): {len(profile.config.services)} services")
        for suite_ref in suite or []:
            loaded = load_suite(suite_ref)
            prepare(loaded, profile)
            print(f"ok: suite {loaded.name} ({loaded.source}): {len(loaded.checks)} checks")


@checks_app.command("list")
def checks_list() -> None:
    """The check kinds installed (built-in and plug-in) and the suites that can be run."""
    from spark_ops.config import load_suite
    from spark_ops.config.files import available
    from spark_ops.registry import describe_kinds

    with _exit_codes():
        print("kinds:")
        for kind, summary, source in describe_kinds():
            print(f"  {kind:<10} {summary}  [{source}]")
        print("suites:")
        for name, path in available("checks").items():
            loaded = load_suite(str(path))
            print(f"  {name:<10} {len(loaded.checks)} checks: {loaded.description}  [{path}]")


@app.command()
def monitor(
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds from one cycle's start to the next.")
    ] = 30.0,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT to serve /metrics on.", envvar="SPARK_MONITOR_LISTEN")
    ] = DEFAULT_LISTEN,
    pushgateway: Annotated[
        str | None,
        typer.Option(
            "--pushgateway", help="Also push each cycle to this Pushgateway URL.", envvar="SPARK_PUSHGATEWAY"
        ),
    ] = None,
    instance: Annotated[
        str | None, typer.Option("--instance", help="The Pushgateway's instance label (default: hostname).")
    ] = None,
    iterations: Annotated[int | None, typer.Option("--iterations", help="Stop after N cycles.")] = None,
    profile: ProfileOpt = "dev",
    suite: SuiteOpt = "gate",
    sets: SetOpt = None,
    fail_on: FailOnOpt = None,
) -> None:
    """Run a suite every --interval seconds and serve the results as Prometheus metrics on --listen.

    One line per cycle goes to stderr; no evidence is kept per cycle. SIGTERM or Ctrl-C stops it (exit 0).
    """
    import signal
    import threading

    from spark_ops import pipeline
    from spark_ops.monitor import run_monitor

    stop = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        with _exit_codes() as guard:
            prepared = pipeline.prepare_run(
                "monitor",
                profile_ref=profile,
                suite_ref=suite,
                sets=sets or (),
                fail_on=fail_on.value if fail_on else None,
            )
            guard.know_secrets(prepared.secrets)
            stats = run_monitor(
                prepared,
                interval_s=interval,
                iterations=iterations,
                listen=listen,
                pushgateway=pushgateway,
                instance=instance,
                stop=stop,
                log=lambda line: _say(guard.redactor.text(line)),
            )
            _say(f"monitor stopped after {stats.cycles} cycles")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _write_rendered(text: str, out: Path | None, what: str) -> None:
    """Print a rendered file on stdout, or write it whole to --out."""
    if out is None:
        sys.stdout.write(text)
        return
    _write_atomically(out, text, "--out")
    _say(f"{what} written to {out}")


OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")]


@app.command()
def alerts(profile: ProfileOpt = "dev", sets: SetOpt = None, out: OutOpt = None) -> None:
    """Prometheus alerting rules over spark monitor's metrics, with the profile's targets."""
    from spark_ops.alerts import render_rules
    from spark_ops.config import load_profile

    with _exit_codes():
        _write_rendered(render_rules(load_profile(profile, sets or ())), out, "alert rules")


@app.command()
def dashboard(profile: ProfileOpt = "dev", sets: SetOpt = None, out: OutOpt = None) -> None:
    """A provisionable Grafana dashboard (JSON) over spark monitor's metrics, with the profile's targets."""
    from spark_ops.config import load_profile
    from spark_ops.dashboard import render_dashboard

    with _exit_codes():
        _write_rendered(render_dashboard(load_profile(profile, sets or ())), out, "dashboard")


def main() -> None:
    """The console-script entry point."""
    app()
