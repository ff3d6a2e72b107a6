"""Evidence an auditor can trust: the run store, archives (export, verify), listing and pruning.

``store`` keeps each run as a folder; ``export`` packs runs, reports and logs into a checksummed zip
(``selection`` picks the runs, ``zipio`` streams the members through the redactor and the secret scanner)
and ``verify`` checks one; ``catalog`` lists and prunes both.
"""

from spark_ops.evidence.store import DEFAULT_DIR, evidence_dir, list_runs, store_run

__all__ = ["DEFAULT_DIR", "evidence_dir", "list_runs", "store_run"]
