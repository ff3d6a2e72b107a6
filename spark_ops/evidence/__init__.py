"""Evidence an auditor can trust: the run store, archives (export, verify), listing and pruning.

``store`` keeps each run as a folder; ``archive`` is the public surface for packing runs, reports and
logs into a checksummed zip (``selection`` picks the runs, ``export`` plans and writes, ``zipio`` streams
the members) and verifying one (``verify``); ``catalog`` lists and prunes both.
"""

from spark_ops.evidence.store import DEFAULT_DIR, evidence_dir, list_runs, store_run

__all__ = ["DEFAULT_DIR", "evidence_dir", "list_runs", "store_run"]
