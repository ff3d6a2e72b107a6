"""``python -m spark_ops`` runs the ``spark`` command."""

from spark_ops.cli import main

main()
