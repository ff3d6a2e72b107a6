"""Evidence archives, the public surface: plan and write an export, verify an archive, read its manifest.

The work is done in ``selection`` (which runs), ``export`` (the plan and the writer), ``zipio`` (streamed,
redacted, hashed members; parallel deflate) and ``verify``; the redactor an export uses is built by
``spark_ops.redact.export_redactor``. Callers import this module and use ``archive.<name>``.
"""

from spark_ops.evidence.export import Exported, ExportPlan, export, plan_export, pm2_source
from spark_ops.evidence.selection import LAST_EXPORT, select_runs
from spark_ops.evidence.verify import MANIFEST, MANIFEST_SCHEMA, Verification, read_manifest, verify
from spark_ops.evidence.zipio import Source, Written
from spark_ops.redact import export_redactor

__all__ = [
    "LAST_EXPORT",
    "MANIFEST",
    "MANIFEST_SCHEMA",
    "ExportPlan",
    "Exported",
    "Source",
    "Verification",
    "Written",
    "export",
    "export_redactor",
    "plan_export",
    "pm2_source",
    "read_manifest",
    "select_runs",
    "verify",
]
