"""Configuration: profiles (where the platform is, how strict to be) and suites (what to check), in TOML.

    schema      the profile's tables (msgspec) and ``convert``, whose errors name file and key
    files       finding shipped and local files, reading TOML with guards
    overrides   ``--set KEY=VALUE`` and ``${ENV}`` interpolation, with the provenance of each key
    target      a check's URL and headers, credentials moved out of the URL
    profile     ``Profile`` and ``load_profile`` (extends, overrides, validation)
    suite       ``Suite``, ``CheckSpec`` and ``load_suite``

The names most callers need are re-exported here; the rest is imported from its module.
"""

from __future__ import annotations

from spark_ops.config.profile import Profile, load_profile
from spark_ops.config.suite import CheckSpec, Suite, load_suite
from spark_ops.config.target import Target

__all__ = ["CheckSpec", "Profile", "Suite", "Target", "load_profile", "load_suite"]
