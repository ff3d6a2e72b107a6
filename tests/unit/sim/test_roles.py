"""A role label, so two simulators scraped by one Prometheus can play baseline and canary."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from spark_ops.sim import SERVICES, Simulator

METRICS_PATH = {name: "/api/tools/metrics" if name == "web" else "/metrics" for name in SERVICES}


def samples(sim: Simulator, service: str) -> list[dict[str, str]]:
    """The labels of every sample ``service`` exposes."""
    text = httpx.get(sim.urls[service] + METRICS_PATH[service], timeout=5.0).text
    return [sample.labels for family in text_string_to_metric_families(text) for sample in family.samples]


@pytest.mark.parametrize("service", SERVICES)
def test_a_role_labels_every_series_of_every_service(service):
    """``Simulator(role="canary")``: every sample of every service carries role="canary", and no more."""
    with Simulator(role="canary") as canary, Simulator() as plain:
        labelled, unlabelled = samples(canary, service), samples(plain, service)
    assert labelled, "no samples"
    assert {labels.get("role") for labels in labelled} == {"canary"}
    assert len(labelled) == len(unlabelled)


def test_without_a_role_no_series_has_one(sim):
    """The default (no role) leaves the exposition as it was: no role label anywhere."""
    for service in SERVICES:
        assert not any("role" in labels for labels in samples(sim, service)), service
