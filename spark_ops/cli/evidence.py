"""``spark evidence export|verify|list|prune|diff``: the kept runs, reports and archives."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from spark_ops import clock
from spark_ops.cli._errors import exit_codes, say
from spark_ops.cli._options import Against, DiffFormat, EvidenceDirOpt, ListFormat, SetOpt, SignKeyOpt
from spark_ops.cli._params import PlainCommand, PlainGroup

if TYPE_CHECKING:
    from spark_ops.signing import SigningKey

app = typer.Typer(
    help="Export, verify, list, prune and diff kept runs.", no_args_is_help=True, cls=PlainGroup
)


@app.command("export", cls=PlainCommand)
def export(
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
    sign_key: SignKeyOpt = None,
) -> None:
    """Pack runs, reports and logs into <out>/<NAME>_<UTC stamp>.zip with a checksummed manifest.

    By default it takes the latest run of each command since the last export. Every member is redacted
    and scanned for known secrets (raw, URL-encoded, base64); a hit refuses the archive (exit 1).
    With --sign-key, manifest.json.sig holds the Ed25519 signature over manifest.json.
    """
    import time

    from spark_ops.evidence import evidence_dir as resolve_dir
    from spark_ops.evidence import export
    from spark_ops.progress import byte_progress
    from spark_ops.units import parse_size

    with exit_codes() as guard:
        signer = _signing_key(sign_key)
        base = resolve_dir(evidence_dir)
        tail = parse_size(max_log_bytes, option="--max-log-bytes") if max_log_bytes else None
        plan = export.plan_export(
            base,
            run_ids=run_ids or (),
            all_runs=all_runs,
            includes=includes or (),
            max_log_bytes=tail,
            extra=[source for source in [export.pm2_source()] if source is not None],
        )
        for run_id in plan.incomplete:
            say(f"note: run {run_id} has no readable result.json: packed, marked INCOMPLETE in the manifest")
        redactor = export.export_redactor(
            plan.runs, profile, sets or (), note=say, extra=signer.secrets if signer else ()
        )
        guard.use(redactor)
        total = sum(min(s.path.stat().st_size, tail or 1 << 62) for s in plan.sources if s.path is not None)
        started = time.perf_counter()
        with byte_progress(total, "exporting") as on_bytes:
            exported = export.export(
                plan,
                base_dir=base,
                out_dir=out or base,
                prefix=name,
                redactor=redactor,
                on_bytes=on_bytes,
                signer=signer,
            )
        seconds = time.perf_counter() - started
        say(
            f"exported {len(exported.runs)} runs, {len(exported.members)} members, "
            f"{exported.content_bytes / 1e6:.1f} MB in {seconds:.1f} s; nothing secret found"
            + (f"; signed by {signer.fingerprint}" if signer else "")
        )
        print(exported.path)


def _signing_key(path: Path | None) -> SigningKey | None:
    if path is None:
        return None
    from spark_ops.signing import load_signing_key, passphrase_from_env

    return load_signing_key(path, option="--sign-key", passphrase=passphrase_from_env(), warn=say)


@app.command("verify", cls=PlainCommand)
def verify(
    zip_path: Annotated[Path, typer.Argument(metavar="ZIP", help="The archive to check.")],
    key: Annotated[
        Path | None,
        typer.Option("--key", help="The signer's public key: the signature and attestations must verify."),
    ] = None,
) -> None:
    """Exit 0 when every member matches the manifest; 1 when one was changed, added or removed.

    With --key, also 1 when manifest.json.sig is missing or does not verify with that key, or a run's
    attestation does not. Exit 2 when the file is not a readable zip. The archive is read, never extracted.
    """
    from spark_ops.errors import EvidenceRefused, plural
    from spark_ops.evidence import verify

    with exit_codes():
        public = None
        if key is not None:
            from spark_ops.signing import load_public_key

            public = load_public_key(key, option="--key")
        result = verify.verify(zip_path, public)
        for problem in result.problems:
            print(f"TAMPERED {problem}")
        if not result.ok:
            raise EvidenceRefused(
                f"{zip_path}: {plural(len(result.problems), 'problem')}: the archive was altered"
            )
        signing = verify.describe_signing(result)
        print(f"ok: {result.members} members match {verify.MANIFEST} in {zip_path}; {signing}")


@app.command("list", cls=PlainCommand)
def list_kept(
    evidence_dir: EvidenceDirOpt = None,
    output: Annotated[ListFormat, typer.Option("--format", "-f", help="What to print.")] = ListFormat.table,
) -> None:
    """Kept runs, daily reports and archives: time, kind, name, command, profile, risk, size."""
    from spark_ops.evidence import catalog
    from spark_ops.evidence import evidence_dir as resolve_dir

    with exit_codes():
        base = resolve_dir(evidence_dir)
        entries = catalog.catalog(base)
        listing = catalog.as_json(entries) if output is ListFormat.json else catalog.as_table(entries, base)
        sys.stdout.write(listing)


@app.command("prune", cls=PlainCommand)
def prune(
    older_than: Annotated[str, typer.Option("--older-than", help="Age to remove: 7d, 24h, 2w...")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be removed.")] = False,
    evidence_dir: EvidenceDirOpt = None,
) -> None:
    """Remove kept runs, reports and archives older than a duration."""
    from spark_ops.evidence import catalog
    from spark_ops.evidence import evidence_dir as resolve_dir
    from spark_ops.units import parse_duration

    with exit_codes():
        cutoff = clock.now() - parse_duration(older_than, option="--older-than")
        removed = catalog.prune(resolve_dir(evidence_dir), cutoff, dry_run=dry_run)
        verb = "would remove" if dry_run else "removed"
        for entry in removed:
            print(f"{verb} {entry.kind} {entry.name}")
        say(f"{verb} {len(removed)} entries older than {cutoff:%Y-%m-%d %H:%M:%S} UTC")


@app.command("diff", cls=PlainCommand)
def diff(
    runs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="A B", help="Two runs, before then after: run IDs, run folders or archives (ZIP#RUN_ID)."
        ),
    ] = None,
    against: Annotated[
        Against | None,
        typer.Option(
            "--against",
            help="last-pass: compare the one run given (default: the latest) with the last passing run "
            "of its command in the store.",
        ),
    ] = None,
    output: Annotated[DiffFormat, typer.Option("--format", "-f", help="What to print.")] = DiffFormat.table,
    fail_on_regression: Annotated[
        bool,
        typer.Option(
            "--fail-on-regression",
            help="Exit 1 when anything got worse: a new failure, a worse status or risk, a reading past "
            "--max-rise.",
        ),
    ] = False,
    max_rise: Annotated[
        float,
        typer.Option(
            "--max-rise",
            help="How far (in %) a reading where bigger is worse (latency, errors...) may rise.",
        ),
    ] = 50.0,
    evidence_dir: EvidenceDirOpt = None,
) -> None:
    """What changed between two runs: checks added or removed, status changes (new failures first),
    readings that moved, risk and score before and after.

    Exit 1 with --fail-on-regression when anything got worse; 3 with --against last-pass when no run of
    that command passed before.
    """
    import json

    from spark_ops.errors import ConfigError, ExitCode
    from spark_ops.evidence import diff as run_diff
    from spark_ops.evidence import evidence_dir as resolve_dir
    from spark_ops.evidence import list_runs

    with exit_codes():
        base = resolve_dir(evidence_dir)
        given = runs or []
        if against is None:
            if len(given) != 2:
                raise ConfigError("give two runs to compare (A B), or one with --against last-pass")
            before = run_diff.load_run(given[0], base)
            after = run_diff.load_run(given[1], base)
        else:
            if len(given) > 1:
                raise ConfigError("--against last-pass compares one run: give at most one")
            if given:
                after = run_diff.load_run(given[0], base)
            else:
                kept = [run for run in list_runs(base) if run.result is not None]
                if not kept:
                    raise ConfigError(f"no runs in {base / 'runs'} to compare")
                after = run_diff.load_run(kept[-1].id, base)
            found = run_diff.last_pass(base, after)
            if found is None:
                command, runs_dir = after.run.command, base / "runs"
                say(f"no passing {command} run before {after.label} in {runs_dir}: nothing to compare")
                raise typer.Exit(int(ExitCode.INCONCLUSIVE))
            before = found
        compared = run_diff.diff_runs(before, after, max_rise=max_rise / 100)
        if output is DiffFormat.json:
            print(json.dumps(run_diff.as_json(compared), indent=2, allow_nan=False))  # never invalid JSON
        elif output is DiffFormat.markdown:
            sys.stdout.write(run_diff.render_markdown(compared))
        else:
            sys.stdout.write(run_diff.render_table(compared))
        if fail_on_regression and compared.regressions:
            raise typer.Exit(int(ExitCode.VERDICT_FAILED))
