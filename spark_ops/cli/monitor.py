"""``spark monitor``, and what watches its metrics: ``spark alerts`` and ``spark dashboard``."""

from __future__ import annotations

from typing import Annotated

import typer

from spark_ops.cli._errors import exit_codes, say, write_or_print
from spark_ops.cli._options import FailOnOpt, OutOpt, ProfileOpt, SetOpt, SuiteOpt
from spark_ops.metric_names import DEFAULT_LISTEN


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
        with exit_codes() as guard:
            prepared = pipeline.prepare_run(
                "monitor",
                profile_ref=profile,
                suite_ref=suite,
                sets=sets or (),
                fail_on=fail_on.value if fail_on else None,
            )
            guard.use(prepared.redactor)
            stats = run_monitor(
                prepared,
                interval_s=interval,
                iterations=iterations,
                listen=listen,
                pushgateway=pushgateway,
                instance=instance,
                stop=stop,
                log=lambda line: say(guard.redactor.text(line)),
            )
            say(f"monitor stopped after {stats.cycles} cycles")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def alerts(profile: ProfileOpt = "dev", sets: SetOpt = None, out: OutOpt = None) -> None:
    """Prometheus alerting rules over spark monitor's metrics, with the profile's targets."""
    from spark_ops.alerts import render_rules
    from spark_ops.config import load_profile

    with exit_codes():
        write_or_print(render_rules(load_profile(profile, sets or ())), out, "alert rules")


def dashboard(profile: ProfileOpt = "dev", sets: SetOpt = None, out: OutOpt = None) -> None:
    """A provisionable Grafana dashboard (JSON) over spark monitor's metrics, with the profile's targets."""
    from spark_ops.config import load_profile
    from spark_ops.dashboard import render_dashboard

    with exit_codes():
        write_or_print(render_dashboard(load_profile(profile, sets or ())), out, "dashboard")
