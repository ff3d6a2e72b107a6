"""examples/ci, checked offline: the GitHub Actions workflow by actionlint and GitHub's workflow schema,
the GitLab CI job by GitLab's schema (vendored in check-jsonschema), the Argo Rollouts AnalysisTemplate
parsed and its Job's command run against the simulator as the Job runs it; and every `spark` command line
of the three runs against the simulator, so none of them names an option spark-ops does not have."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT

from spark_ops.sim import Simulator, parse_fault

CI = ROOT / "examples" / "ci"
WORKFLOW, GITLAB, ARGO, PROFILE = (
    CI / "github-actions.yml",
    CI / "gitlab-ci.yml",
    CI / "argo-analysis-template.yaml",
    CI / "spark-profile.toml",
)
SERVICE_VARIABLES = {
    "web": "SPARK_WEB_URL",
    "executor-1": "SPARK_EXECUTOR_1_URL",
    "executor-2": "SPARK_EXECUTOR_2_URL",
    "marketdata": "SPARK_MARKETDATA_URL",
}


def tool(name: str) -> str:
    """A test extra's command-line tool, next to this Python or on PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is missing (pip install -e '.[test]' brings it)"
    return found


def run_tool(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_the_github_workflow_passes_actionlint_and_the_workflow_schema():
    """actionlint (syntax, expressions, action inputs) and GitHub's workflow schema accept it."""
    linted = run_tool(tool("actionlint"), "-no-color", str(WORKFLOW))
    assert linted.returncode == 0, linted.stdout + linted.stderr
    checked = run_tool(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_gitlab_job_matches_gitlab_ci_schema(tmp_path):
    """GitLab's CI schema (vendored in check-jsonschema, no network) accepts the job; and refuses a copy
    whose artifacts say `when: sometimes` (the check can fail)."""
    checked = run_tool(tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(GITLAB))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    broken = tmp_path / "gitlab-ci.yml"
    broken.write_text(GITLAB.read_text(encoding="utf-8").replace("when: always", "when: sometimes"), "utf-8")
    refused = run_tool(tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(broken))
    assert refused.returncode == 1, refused.stdout + refused.stderr


def test_the_pipelines_keep_the_evidence_whatever_the_verdict():
    """Both pipelines run the gate with --exit-on-fail before the deploy, pack the evidence even when it
    failed and keep it as an artifact."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    gate_steps = workflow["jobs"]["gate"]["steps"]
    assert workflow["jobs"]["deploy"]["needs"] == "gate"
    pack, keep = gate_steps[-2], gate_steps[-1]
    assert pack["if"] == keep["if"] == "always()"
    assert "spark evidence export" in pack["run"]
    assert keep["uses"].startswith("actions/upload-artifact@")
    assert "evidence/" in keep["with"]["path"]
    gitlab = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    assert gitlab["deploy"]["needs"] == ["spark-gate"]
    assert gitlab["spark-gate"]["artifacts"]["when"] == "always"
    assert "evidence/" in gitlab["spark-gate"]["artifacts"]["paths"]
    assert any("spark evidence export" in line for line in gitlab["spark-gate"]["after_script"])
    for commands in (
        [step.get("run", "") for step in gate_steps],
        gitlab["spark-gate"]["script"],
    ):
        assert any(line.startswith("spark gate ") and "--exit-on-fail" in line for line in commands)


def analysis_template() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(ARGO.read_text(encoding="utf-8"))
    return document


def test_the_argo_template_is_an_analysis_template_whose_job_runs_the_gate():
    """An argoproj.io/v1alpha1 AnalysisTemplate; its one metric's `job` provider runs `spark gate
    --exit-on-fail` once (no retries: backoffLimit 0, restartPolicy Never, failureLimit 0), every
    `{{args.*}}` it uses is declared, and the evidence goes to a volume."""
    template = analysis_template()
    assert (template["apiVersion"], template["kind"]) == ("argoproj.io/v1alpha1", "AnalysisTemplate")
    (metric,) = template["spec"]["metrics"]
    assert metric["failureLimit"] == 0
    job = metric["provider"]["job"]["spec"]
    assert job["backoffLimit"] == 0
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    script = container["args"][0]
    assert re.search(r"^spark gate .*--exit-on-fail", script, re.M)
    declared = {arg["name"] for arg in template["spec"]["args"]}
    used = set(re.findall(r"\{\{args\.([\w-]+)\}\}", ARGO.read_text(encoding="utf-8")))
    assert used == declared
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert "persistentVolumeClaim" in volumes[mounts["/evidence"]]
    assert "configMap" in volumes[mounts["/etc/spark-ops"]]


def simulator_env(simulator: Simulator, args: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a pipeline gives the gate: this simulator's URLs in the profile's variables, this
    Python's `spark` first on PATH."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "GITHUB_"))}
    environment["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environment.get("PATH", "")])
    for service, variable in SERVICE_VARIABLES.items():
        environment[variable] = simulator.urls[service]
    return environment


def run_the_argo_job(simulator: Simulator, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The Job's container command, as Kubernetes runs it: `{{args.*}}` filled with the simulator's URLs
    and the two volumes (the profile's ConfigMap, the evidence claim) as folders."""
    (container,) = analysis_template()["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"][
        "containers"
    ]
    args = {
        "web-url": simulator.urls["web"],
        "executor-1-url": simulator.urls["executor-1"],
        "executor-2-url": simulator.urls["executor-2"],
        "marketdata-url": simulator.urls["marketdata"],
    }
    environment = simulator_env(simulator)
    for variable in container["env"]:
        environment[variable["name"]] = re.sub(
            r"\{\{args\.([\w-]+)\}\}", lambda m: args[m[1]], variable["value"]
        )
    profile_dir, evidence_dir = tmp_path / "etc-spark-ops", tmp_path / "evidence"
    profile_dir.mkdir()
    shutil.copy(PROFILE, profile_dir / "spark-profile.toml")
    script = (
        container["args"][0]
        .replace("/etc/spark-ops", str(profile_dir))
        .replace("/evidence", str(evidence_dir))
    )
    return subprocess.run(
        [*container["command"], script],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


needs_sh = pytest.mark.skipif(shutil.which("sh") is None, reason="the Job's command is a POSIX shell script")


@needs_sh
def test_the_argo_job_passes_a_healthy_platform_and_keeps_a_verifiable_archive(sim, tmp_path):
    """Against a healthy simulator the Job exits 0 (the analysis succeeds), and the archive it left on
    the evidence volume verifies."""
    done = run_the_argo_job(sim, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "RISK LOW" in done.stdout
    (archive,) = (tmp_path / "evidence" / "archives").glob("gate_*.zip")
    verified = subprocess.run(
        [sys.executable, "-m", "spark_ops", "evidence", "verify", str(archive)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


@needs_sh
def test_the_argo_job_fails_a_failing_platform_and_still_keeps_its_evidence(sim, tmp_path):
    """With the platform reporting DOWN the Job exits 1, which fails the analysis (and aborts the
    rollout); the run and its archive are kept all the same."""
    sim.apply(parse_fault("web=crashloop"))
    done = run_the_argo_job(sim, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert list((tmp_path / "evidence" / "runs").iterdir())
    assert list((tmp_path / "evidence" / "archives").glob("gate_*.zip"))


def spark_lines() -> list[tuple[str, str]]:
    """(file, command line) of every `spark` command the GitHub workflow and the GitLab job run."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    gitlab = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    lines = [
        ("github", step["run"]) for job in workflow["jobs"].values() for step in job["steps"] if "run" in step
    ]
    for job in gitlab.values():
        if isinstance(job, dict):
            lines += [("gitlab", line) for key in ("script", "after_script") for line in job.get(key, [])]
    return [(where, line) for where, line in lines if line.startswith("spark ")]


def test_the_pipelines_spark_commands_run_against_the_simulator(sim, tmp_path):
    """Each pipeline's `spark` lines, in order, from a checkout holding spark-profile.toml: the gate
    passes (exit 0) and the export packs it (exit 0)."""
    lines = spark_lines()
    assert {where for where, _ in lines} == {"github", "gitlab"}
    environment = simulator_env(sim)
    for where in ("github", "gitlab"):
        checkout = tmp_path / where
        checkout.mkdir()
        shutil.copy(PROFILE, checkout / "spark-profile.toml")
        for _, line in [item for item in lines if item[0] == where]:
            argv = shlex.split(line)
            done = subprocess.run(
                [sys.executable, "-m", "spark_ops", *argv[1:]],
                cwd=checkout,
                env=environment,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, (where, line, done.stdout, done.stderr)
        assert (checkout / "reports" / "gate.xml").exists()
        assert list((checkout / "evidence" / "archives").glob("gate_*.zip"))


def test_the_profile_names_an_unset_url_variable(tmp_path):
    """Without the pipeline's variables the gate stops with exit 2, naming the variable."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SPARK_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "spark_ops",
            "gate",
            "--profile",
            str(PROFILE),
            "--exit-on-fail",
            "--no-evidence",
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "SPARK_WEB_URL" in done.stderr
