"""The metric names ``spark monitor`` exports: the contract ``spark alerts`` and ``spark dashboard`` read.

No imports, so rendering rules or a dashboard does not load the monitor (pipeline, asyncio, httpx).
"""

CHECK_UP = "spark_check_up"
CHECK_STATUS = "spark_check_status"
CHECK_DURATION = "spark_check_duration_seconds"
SLO_LATENCY_P95 = "spark_slo_latency_p95_ms"
SLO_ERROR_RATE = "spark_slo_error_rate"
SLO_STALENESS = "spark_slo_staleness_seconds"
SCRAPE_BYTES = "spark_metrics_scrape_bytes"
RISK_LEVEL = "spark_risk_level"
RISK_SCORE = "spark_risk_score"
RUNS = "spark_monitor_runs"  # a counter: exposed as spark_monitor_runs_total
LAST_RUN = "spark_monitor_last_run_timestamp_seconds"
CYCLE_DURATION = "spark_monitor_cycle_duration_seconds"
INTERVAL = "spark_monitor_interval_seconds"

DEFAULT_LISTEN = "127.0.0.1:9108"  # where ``spark monitor`` serves /metrics unless --listen says otherwise
