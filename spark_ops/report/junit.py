"""JUnit XML as Jenkins and GitLab read it: one testcase per check; FAIL is a failure, ERROR an error."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from spark_ops.model import RunResult, Status


def render(run: RunResult) -> str:
    summary = run.summary
    suite = ET.Element(
        "testsuite",
        name=f"spark-ops.{run.command}",
        tests=str(summary.total),
        # WARN and INCONCLUSIVE are not passes either: JUnit has no such states, so they count as failures.
        failures=str(summary.failed + summary.warned + summary.inconclusive),
        errors=str(summary.errors),
        skipped=str(summary.skipped),
        time=f"{run.duration_ms / 1000:.3f}",
        timestamp=run.started_at,
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("profile", run.profile),
        ("suite", run.suite),
        ("risk.level", run.risk.level.value),
        ("risk.score", f"{run.risk.score:g}"),
        ("risk.recommendation", run.risk.recommendation),
        ("exit_code", str(run.exit_code)),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    for result in run.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"spark-ops.{run.suite}.{result.kind}",
            name=result.name,
            time=f"{result.duration_ms / 1000:.3f}",
        )
        detail = "\n".join(
            (
                f"observed: {json.dumps(result.observed)}",
                f"threshold: {json.dumps(result.threshold)}",
                f"severity: {result.severity}",
            )
        )
        if result.status is Status.ERROR:
            ET.SubElement(case, "error", message=result.message, type="ERROR").text = detail
        elif result.status in (Status.FAIL, Status.WARN, Status.INCONCLUSIVE):
            ET.SubElement(case, "failure", message=result.message, type=result.status.value).text = detail
        elif result.status is Status.SKIP:
            ET.SubElement(case, "skipped", message=result.message)
        ET.SubElement(case, "system-out").text = f"{result.status.value}: {result.message}"
    testsuites = ET.Element("testsuites", name="spark-ops")
    testsuites.append(suite)
    ET.indent(testsuites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(testsuites, encoding="unicode") + "\n"
