"""What the generated reference says about each key and the prose around its tables (tools/gen_docs.py).

A key's note is found by where it lives: ``profile.<table>.<key>``, ``suite.<key>``,
``suite.checks.<key>``, ``kind.<kind>.<key>`` (a nested table: ``kind.<kind>.<list key>.<key>``), and
``key.<key>`` for a key several kinds share. A key without a note falls back to the comment on its line
in the source: a new kind is documented by commenting its ``Options`` fields, or by a note here.
"""

from __future__ import annotations

THRESHOLD = 'Inclusive bound: a number, or the dotted name of a profile key (`"slo.latency_p95_ms"`).'

KEY_NOTES: dict[str, str] = {
    # -- profile: top level
    "profile.description": "What this profile is for (`spark profiles list` shows it).",
    "profile.extends": (
        "A profile name, or a file path relative to this file, whose keys this one starts from; tables "
        "merge deeply and this file's keys win."
    ),
    "profile.services": (
        "The platform's services by name (`web`, `executor-1`, `executor-2`, `marketdata`, ...): a check "
        'with `service = "NAME"` sends its request to that service\'s URL.'
    ),
    "profile.services.url": (
        "Base URL, http or https. `${VAR}` and `${VAR:-default}` are read from the environment; a password "
        "in the URL is a secret (never printed or kept)."
    ),
    "profile.services.headers": (
        "Headers sent with every request to the service. Their values are secrets: shown as `***` in "
        "every output and in the evidence."
    ),
    "profile.slo": 'The targets suites name as thresholds (`max = "slo.latency_p95_ms"`).',
    "profile.slo.latency_p95_ms": "p95 latency target in milliseconds.",
    "profile.slo.error_rate": "Error-rate target as a fraction (0.05 is 5 %).",
    "profile.slo.staleness_s": "Market-data staleness target in seconds.",
    "profile.defaults": "How every check runs unless it says otherwise.",
    "profile.defaults.timeout_s": "One deadline for a whole check: connect, headers and the whole body.",
    "profile.defaults.retries": "Retries of a request that failed before any answer arrived (never after).",
    "profile.defaults.concurrency": "Checks in flight at once.",
    "profile.defaults.max_body_bytes": (
        "Largest body read, counted after decompression; a larger one FAILs the check."
    ),
    "profile.prometheus": "The Prometheus server that `promql` and `compare` checks query.",
    "profile.prometheus.url": "Its base URL (the checks call `/api/v1/query` and `/api/v1/query_range`).",
    "profile.prometheus.headers": "Headers sent to it (secrets, as a service's).",
    "profile.pm2": "Defaults for `pm2` checks; a check's own keys win.",
    "profile.pm2.max_restarts": "A process restarted more often than this FAILs (a crash loop).",
    "profile.pm2.max_memory_mb": "A process using more memory than this (MiB, as PM2 counts) FAILs.",
    "profile.pm2.min_uptime_s": "A process up for less than this FAILs (it just restarted).",
    "profile.risk": "How the verdict becomes an exit code.",
    "profile.risk.fail_on": "Lowest risk level that fails the verdict; `--fail-on` wins over it.",
    "profile.canary": "Baseline against canary (`spark canary --baseline`).",
    "profile.canary.baseline": (
        "What the canary is compared with when `--baseline` is not given: a profile name or file, or a "
        "base URL."
    ),
    "profile.canary.alpha": "Significance level of the Mann-Whitney (latency) and Fisher (errors) tests.",
    "profile.canary.max_slowdown": (
        "FAIL when the canary's median latency is this much slower than the baseline's, and significantly "
        "so (0.2 is 20 %)."
    ),
    "profile.canary.marginal_slowdown": "WARN from this slowdown.",
    "profile.canary.max_error_increase": (
        "FAIL when the canary's error rate is this much higher, in absolute terms (0.02 is two points)."
    ),
    "profile.canary.marginal_error_increase": "WARN from this increase.",
    "profile.analysis": (
        "Analysis over a window: every check measured every `interval_s`, each verdict from its "
        "measurements. A suite's `[analysis]` wins over the profile's, the command line over both."
    ),
    "profile.analysis.duration_s": (
        "Analyse over a window this long (`--duration`); without it or `count`, one shot."
    ),
    "profile.analysis.count": "Or: this many measurements.",
    "profile.analysis.interval_s": "Time between two measurements (`--interval`).",
    "profile.analysis.failure_limit": "A check FAILs when more of its measurements than this failed.",
    "profile.analysis.consecutive_error_limit": (
        "A check is ERROR after this many measurements in a row could not judge."
    ),
    "profile.analysis.inconclusive_limit": (
        "A check is INCONCLUSIVE when more measurements than this had no data."
    ),
    "profile.analysis.checks": 'Limits for one check by name: `[analysis.checks."healthz.slo.latencyP95"]`.',
    "profile.analysis.checks.failure_limit": "This check's `failure_limit`.",
    "profile.analysis.checks.consecutive_error_limit": "This check's `consecutive_error_limit`.",
    "profile.analysis.checks.inconclusive_limit": "This check's `inconclusive_limit`.",
    # -- suite
    "suite.description": "What this suite is for.",
    "suite.checks": "The checks, one `[[checks]]` table each, run concurrently and reported in this order.",
    "suite.analysis": (
        "The suite's analysis window and limits: the same keys as a profile's `[analysis]`; they win over "
        "the profile's."
    ),
    "suite.checks.name": (
        "Unique in the suite: how reports, the monitor and `[analysis.checks]` name the check."
    ),
    "suite.checks.kind": "Which kind judges it: a built-in (below) or an installed plug-in's.",
    "suite.checks.severity": (
        "How much its failure weighs: any critical failing makes the risk CRITICAL, major HIGH, minor MEDIUM."
    ),
    "suite.checks.timeout_s": "This check's deadline (default: the profile's `defaults.timeout_s`).",
    "suite.checks.retries": "This check's retries (default: the profile's `defaults.retries`).",
    "suite.checks.description": "What the check is for, for people reading the suite.",
    # -- keys several kinds share
    "key.service": "A service of the profile: the request goes to its URL plus `path` (or use `url`).",
    "key.path": "Path on the service.",
    "key.url": "An absolute URL instead of `service` + `path`; its headers and password are secrets too.",
    "key.min": THRESHOLD,
    "key.max": THRESHOLD,
    "key.warn_min": "Warning band: WARN between it and `min` (a number or a profile key).",
    "key.warn_max": "Warning band: WARN between it and `max` (a number or a profile key).",
    "key.method": "HTTP method.",
    "key.headers": "Request headers; their values are secrets.",
    "key.prometheus_url": (
        "Query this Prometheus instead of the profile's `[prometheus] url` (sent without the profile's "
        "headers)."
    ),
    "key.query": "The PromQL query.",
    "key.min_samples": "Fewer samples than this is INCONCLUSIVE, never PASS.",
    # -- http
    "kind.http.body": "Request body (secret-named fields of a JSON or form body are redacted in reports).",
    "kind.http.expect_status": (
        'Statuses that pass: codes (`200`), classes (`"2xx"`) or ranges (`"200-299"`).'
    ),
    "kind.http.max_latency_ms": "FAIL when the answer took longer, in ms (a number or a profile key).",
    "kind.http.body_contains": "Strings the body must contain.",
    "kind.http.expect_json": (
        'Assertions on the JSON body, e.g. `{ field = "status", op = "==", value = "UP" }`; a missing, '
        "null, NaN or infinite field fails whatever the operator, and `true` never equals `1`."
    ),
    "kind.http.expect_json.field": "Dotted path of the field in the JSON body (`slo.latencyP95`).",
    "kind.http.expect_json.op": "How the field is compared with `value`.",
    "kind.http.expect_json.value": "The value compared with (for `in`, a list).",
    "kind.http.max_body_bytes": "This check's body limit (default: the profile's `defaults.max_body_bytes`).",
    "kind.http.follow_redirects": "Follow redirects (credentials are never sent to another origin).",
    # -- slo
    "kind.slo.field": "Dotted path of the number in the health JSON, e.g. `slo.latencyP95`.",
    # -- metrics
    "kind.metrics.path": "Path on the service (default `/metrics`).",
    "kind.metrics.min_bytes": "Smallest exposition accepted, in bytes.",
    "kind.metrics.max_bytes": "Largest exposition accepted, in bytes.",
    "kind.metrics.min_series": "Fewest series (samples) accepted.",
    "kind.metrics.max_series": "Most series accepted.",
    "kind.metrics.require": "Metric families that must have samples.",
    "kind.metrics.values": (
        'Value assertions: `{ metric = "up", labels = { job = "x" }, min = 1 }`; one that matches no '
        "series is INCONCLUSIVE."
    ),
    "kind.metrics.values.metric": "A sample name, e.g. `process_resident_memory_bytes`.",
    "kind.metrics.values.labels": "Labels the series must carry (others may be present).",
    # -- latency
    "kind.latency.rate_rps": "Requests a second, sent on an open-loop schedule.",
    "kind.latency.count": "Requests to send (default: `duration_s` x `rate_rps`).",
    "kind.latency.duration_s": "How long to send (default 2 s when neither `count` nor this is set).",
    "kind.latency.max_p50_ms": "FAIL when the p50 latency is above this, in ms.",
    "kind.latency.max_p95_ms": (
        "FAIL when the p95 latency is above this, in ms (default: `slo.latency_p95_ms`)."
    ),
    "kind.latency.max_p99_ms": "FAIL when the p99 latency is above this, in ms.",
    "kind.latency.max_error_rate": (
        "FAIL when the share of failed requests is above this (default: `slo.error_rate`)."
    ),
    "kind.latency.min_samples": "Fewer successful samples than this is INCONCLUSIVE, never PASS.",
    "kind.latency.expect_status": "Statuses that count as success.",
    "kind.latency.request_timeout_s": "Deadline of one request (default: the check's).",
    "kind.latency.max_in_flight": (
        "Requests outstanding at once; a slot beyond it is missed, counted as an error."
    ),
    # -- promql
    "kind.promql.aggregate": "`each`: every series within bounds; `any`: at least one.",
    "kind.promql.on_no_data": "An empty answer is INCONCLUSIVE, or FAIL.",
    "kind.promql.result_type": "`vector` or `scalar`: an answer of another type is ERROR; `any` takes both.",
    # -- compare
    "kind.compare.query": (
        "A PromQL template: `{role}` becomes the canary's label value, then the baseline's."
    ),
    "kind.compare.canary": "The label value `{role}` becomes for the canary.",
    "kind.compare.baseline": "The label value `{role}` becomes for the baseline.",
    "kind.compare.direction": "Which change is bad: an `increase`, a `decrease`, or `either`.",
    "kind.compare.max_effect": (
        "FAIL when the bad change of the medians is beyond this (0.2 is 20 %) and significant."
    ),
    "kind.compare.marginal_effect": "WARN beyond this (default: half of `max_effect`).",
    "kind.compare.alpha": "Significance level (default: the profile's `[canary] alpha`).",
    "kind.compare.must_have_data": "No data on a side is FAIL; `false`: INCONCLUSIVE.",
    "kind.compare.lookback_s": "The range queried, back from now, in seconds.",
    "kind.compare.step_s": "Step of the range query, in seconds.",
    # -- pm2
    "kind.pm2.path": "Path on the service (default `/api/tools/pm2`).",
    "kind.pm2.file": "Read the process list from this file (a saved `pm2 jlist`).",
    "kind.pm2.command": "Run `COMMAND jlist` (default `pm2`) when no other source is given.",
    "kind.pm2.processes": "Only these processes, and each must exist.",
    "kind.pm2.max_restarts": "FAIL a process restarted more often (default: the profile's `[pm2]`, 10).",
    "kind.pm2.max_memory_mb": "FAIL a process using more memory, in MiB (default: the profile's `[pm2]`).",
    "kind.pm2.min_uptime_s": "FAIL a process up for less time (default: the profile's `[pm2]`).",
}

PROSE: dict[str, str] = {
    "commands": (
        "Every `spark` command with its options, as `spark COMMAND --help` shows them. "
        "`python -m spark_ops` is the same program. Exit codes: [exit-codes.md](exit-codes.md)."
    ),
    "exit-codes": "Every `spark` command exits with one of these codes.",
    "exit-codes-after": (
        "- `gate` and `smoke` report and exit 0 whatever the verdict unless `--exit-on-fail` (or "
        "`SPARK_EXIT_ON_FAIL=1`); `canary` lets the verdict set its code unless `--no-exit-on-fail`.\n"
        "- 1 means the risk reached `--fail-on` (default `high`, or the profile's `[risk] fail_on`).\n"
        "- 3 means nothing failed but something had no data to judge; an analysis window ended by Ctrl-C "
        "or SIGTERM is never 0.\n"
        "- 4 prints one line on stderr naming the file that holds the traceback, also in report-only mode.\n"
        "- `spark evidence export` exits 1 when it refused an archive that would hold a secret; `spark "
        "evidence verify` exits 1 when the archive was altered and 2 when it is not a readable zip; `spark "
        "report` exits 3 for a window without runs."
    ),
    "profile": (
        "A profile (`profiles/NAME.toml`) says where the platform is and how strict to be. The shipped ones "
        "(`base`, `dev`, `production`) are found from any directory; a `profiles/` folder in the working "
        "directory adds to and overrides them, and `--profile` also takes a file. `--set KEY=VALUE` "
        "overrides one key by its dotted path. Unknown keys, wrong types and values out of bounds are "
        "errors (exit 2) naming the file and the key. "
        "[`../schemas/profile.schema.json`](../schemas/profile.schema.json) is the same as a JSON Schema."
    ),
    "suite": (
        "A suite (`checks/NAME.toml`) says what to check; one suite serves every profile. The shipped ones "
        "(`gate`, `smoke`, `canary`) are found from any directory; a `checks/` folder in the working "
        "directory adds to and overrides them, and `--suite` also takes a file. Each check's own keys "
        "depend on its kind: [check-kinds.md](check-kinds.md). "
        "[`../schemas/suite.schema.json`](../schemas/suite.schema.json) is the same as a JSON Schema."
    ),
    "suite-checks": "Besides these, a `[[checks]]` table holds the keys of its kind.",
    "kinds": (
        "Every kind, built-in or a plug-in, is a class registered in the entry-point group "
        "`spark_ops.checks`; `spark checks list` shows what is installed. A kind's keys go in its "
        "`[[checks]]` table beside the keys every kind shares ([suite.md](suite.md)); an unknown key, a "
        "wrong type or a missing required key is an error (exit 2) naming the suite file and the key. "
        "A check yields PASS, WARN, FAIL, ERROR (could not judge: counts as failing), INCONCLUSIVE (no "
        "data) or SKIP."
    ),
}
