"""``spark gate``, ``spark smoke`` and ``spark canary``: run a suite, report, keep the evidence, exit."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from spark_ops.cli._errors import exit_codes, say, write_file
from spark_ops.cli._options import (
    DurationOpt,
    EvidenceDirOpt,
    ExitOnFailOpt,
    FailOn,
    FailOnOpt,
    FaultOpt,
    FormatOpt,
    IntervalOpt,
    Mode,
    NoColorOpt,
    NoEvidenceOpt,
    OutputFormat,
    ProfileOpt,
    ReportHtmlOpt,
    ReportJsonOpt,
    ReportJunitOpt,
    SetOpt,
    SignKeyOpt,
    SubjectOpt,
    SuiteOpt,
)
from spark_ops.errors import ConfigError

if TYPE_CHECKING:
    from spark_ops.evidence.attest import RunSigning
    from spark_ops.model import RunResult
    from spark_ops.pipeline import PreparedRun


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
    no_color: bool = False,
    duration: str | None = None,
    interval: str | None = None,
    confirm: Callable[[PreparedRun], None] | None = None,
    sign_key: Path | None = None,
    subjects: list[str] | None = None,
    report_html: Path | None = None,
) -> NoReturn:
    """Shared body of gate, smoke and canary: prepare, (confirm,) run with progress, report, keep, exit."""
    from spark_ops import pipeline
    from spark_ops.report import renderer

    with exit_codes() as guard:
        signing = _signing(sign_key, subjects, keeps_evidence=not no_evidence)
        prepared = pipeline.prepare_run(
            command,
            profile_ref=profile,
            suite_ref=suite,
            sets=sets or (),
            fail_on=fail_on.value if fail_on else None,
            duration_s=_seconds(duration, "--duration"),
            interval_s=_seconds(interval, "--interval"),
            extra_secrets=signing.key.secrets if signing else (),
        )
        guard.use(prepared.redactor)
        if confirm is not None:
            confirm(prepared)
        run = _execute(prepared, command, enforce)
        sys.stdout.write(renderer(output.value, colour=False if no_color else None)(run))
        if report_json is not None:
            write_file(report_json, renderer("json")(run), "--report-json")
        if report_junit is not None:
            write_file(report_junit, renderer("junit")(run), "--report-junit")
        if report_html is not None:
            write_file(report_html, renderer("html")(run), "--report-html")
        if os.environ.get("GITHUB_ACTIONS") == "true":
            from spark_ops.report import github

            # Annotations go where they cannot corrupt a machine-readable document on stdout.
            machine_readable = output in (OutputFormat.json, OutputFormat.junit)
            (sys.stderr if machine_readable else sys.stdout).write(github.publish(run))
        if not no_evidence:
            from spark_ops import evidence  # only here: a run that keeps nothing need not import the store
            from spark_ops.config.profile import resolved_view

            view = resolved_view(prepared.profile)
            signed = signing.files(run, prepared, view) if signing else None
            folder = evidence.store_run(
                run, evidence.evidence_dir(evidence_dir), profile_view=view, signed=signed
            )
            say(
                f"run kept in {folder}"
                + (f", verdict signed by {signing.key.fingerprint}" if signing else "")
            )
        raise typer.Exit(run.exit_code)
    raise AssertionError("unreachable")  # pragma: no cover - exit_codes always exits


def _signing(sign_key: Path | None, subjects: list[str] | None, *, keeps_evidence: bool) -> RunSigning | None:
    """The run's signing key and subjects, loaded before anything is sent (only then is crypto imported)."""
    if sign_key is None and not subjects:
        return None
    from spark_ops.evidence.attest import prepare_signing

    return prepare_signing(sign_key, subjects or [], keeps_evidence=keeps_evidence, warn=say)


def _execute(prepared: PreparedRun, command: str, enforce: bool) -> RunResult:
    """Run once with a progress bar, or over the analysis window with a line per interval; Ctrl-C or
    SIGTERM ends a window early, judged on what it measured."""
    import threading

    from spark_ops import pipeline
    from spark_ops.interrupts import stop_on_signals
    from spark_ops.progress import live_progress, window_progress

    plan = prepared.plan
    if plan is None:
        with live_progress(len(prepared.checks), f"spark {command}") as on_result:
            return pipeline.execute(prepared, enforce=enforce, on_result=on_result)
    label = f"spark {command}"
    with (
        stop_on_signals(threading.Event()) as stop,
        window_progress(plan.count, plan.interval_s, label) as shown,
    ):
        return pipeline.execute(prepared, enforce=enforce, on_interval=shown, stop=stop)


def _seconds(text: str | None, option: str) -> float | None:
    """A duration option (``90s``, ``5m``) in seconds; a bad one exits 2 naming the option."""
    from spark_ops.units import parse_duration

    return None if text is None else parse_duration(text, option=option).total_seconds()


def suite_command(command: str, summary: str) -> Callable[..., None]:
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
        report_html: ReportHtmlOpt = None,
        evidence_dir: EvidenceDirOpt = None,
        no_evidence: NoEvidenceOpt = False,
        no_color: NoColorOpt = False,
        duration: DurationOpt = None,
        interval: IntervalOpt = None,
        sign_key: SignKeyOpt = None,
        subjects: SubjectOpt = None,
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
            no_color=no_color,
            duration=duration,
            interval=interval,
            sign_key=sign_key,
            subjects=subjects,
            report_html=report_html,
        )

    run.__doc__ = summary
    return run


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
    report_html: ReportHtmlOpt = None,
    evidence_dir: EvidenceDirOpt = None,
    no_evidence: NoEvidenceOpt = False,
    no_color: NoColorOpt = False,
    duration: DurationOpt = None,
    interval: IntervalOpt = None,
    sign_key: SignKeyOpt = None,
    subjects: SubjectOpt = None,
) -> None:
    """Canary run: smoke, metrics, SLOs and a measured latency probe, then the verdict.

    --mode mock starts the embedded simulator on free loopback ports (add --fault to rehearse a failure);
    --mode real sends load to the profile's URLs and asks first unless --auto-ok.
    """
    from spark_ops.sim import parse_fault
    from spark_ops.sim.child import SimulatorProcess

    with exit_codes():
        parsed = [parse_fault(text) for text in faults or []]
        if mode is Mode.real and parsed:
            raise ConfigError("--fault rehearses failures on the simulator: use it with --mode mock")
        # In a child process: the simulator must not share this interpreter with the probe measuring it.
        simulated = SimulatorProcess(faults=parsed) if mode is Mode.mock else None
        with simulated or contextlib.nullcontext():
            run_suite_command(
                "canary",
                profile=profile,
                suite=suite,
                sets=[
                    *(simulated.profile_sets() if simulated else []),
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
                no_color=no_color,
                duration=duration,
                interval=interval,
                confirm=None if mode is Mode.mock or auto_ok else _confirm_load,
                sign_key=sign_key,
                subjects=subjects,
                report_html=report_html,
            )


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
