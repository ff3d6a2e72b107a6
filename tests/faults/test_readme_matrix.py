"""The README's "How spark-ops fails closed" section is the fault matrix, rendered: they cannot drift."""

from __future__ import annotations

from faults import render_readme


def test_every_fault_has_a_readme_row_and_no_row_is_stale() -> None:
    text = render_readme.README.read_text(encoding="utf-8")
    section = render_readme.current_section(text)
    assert section is not None, "README.md lost the fault-matrix markers"
    assert section == render_readme.render(), (
        "README.md's fault section differs from the matrix: "
        "run `python tests/faults/render_readme.py --write`"
    )


def test_fault_ids_are_unique_and_every_row_names_a_kind() -> None:
    faults = render_readme.all_faults()
    ids = [f.id for f in faults]
    assert len(ids) == len(set(ids))
    assert all(f.expect for f in faults)
