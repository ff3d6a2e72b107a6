"""The reference in docs/ is generated from the code and must not drift from it; the docs and the README
never send a reader outside the repository; the profile and suite schemas accept what spark-ops does."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import ROOT

from spark_ops import registry

from .conftest import errors_of, schema_validator, toml_file

DOCS = ROOT / "docs"


def test_the_generated_reference_matches_the_code(gen_docs):
    """Every generated file is what tools/gen_docs.py makes from the code now (run it after a change)."""
    stale = [
        str(path.relative_to(ROOT))
        for path, text in gen_docs.generate().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"stale: {stale}; run `python tools/gen_docs.py`"


def test_the_drift_check_names_a_stale_file(gen_docs, tmp_path, monkeypatch, capsys):
    """`gen_docs.py --check` exits 1 naming a file that was edited by hand, and rewriting fixes it."""
    copy = tmp_path / "docs"
    shutil.copytree(DOCS, copy)
    monkeypatch.setattr(gen_docs, "ROOT", tmp_path)
    monkeypatch.setattr(gen_docs, "DOCS", copy)
    assert gen_docs.main(["--check"]) == 0
    kinds = copy / "reference" / "check-kinds.md"
    kinds.write_text(kinds.read_text(encoding="utf-8").replace("`max_p95_ms`", "`max_p95`"), encoding="utf-8")
    assert gen_docs.main(["--check"]) == 1
    assert "stale: docs/reference/check-kinds.md" in capsys.readouterr().out
    assert gen_docs.main([]) == 0
    assert gen_docs.main(["--check"]) == 0


def kind_section(name: str) -> str:
    text = (DOCS / "reference" / "check-kinds.md").read_text(encoding="utf-8")
    return text.split(f"\n## `{name}`\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize(
    "name",
    [
        name
        for name, entry in registry.discover().items()
        if entry.dist and entry.dist.name.replace("_", "-") == "spark-ops"
    ],
)
def test_every_kind_and_each_of_its_keys_is_described(name):
    """Each kind spark-ops registers has a section, and each of its keys a row that says what it does."""
    kind = registry.load_kind(name)
    section = kind_section(name)
    assert str(kind.summary) in section
    rows = {
        row.split("|")[1].strip(): row.split("|")[4].strip()
        for row in section.splitlines()
        if row.startswith("| `")
    }
    for key in kind.Options.__struct_fields__:
        assert f"`{key}`" in rows, key
        assert rows[f"`{key}`"], f"{name}.{key} has no description: add a note to tools/docs_notes.py"


def test_every_command_and_option_is_in_the_reference():
    """Each command of the CLI has a heading, and each of its options a row."""
    import typer.main

    from spark_ops.cli import app

    text = (DOCS / "reference" / "commands.md").read_text(encoding="utf-8")
    root = typer.main.get_command(app)
    for group_name, group in [
        ("", root),
        *((n, c) for n, c in root.commands.items() if hasattr(c, "commands")),
    ]:
        for name, command in getattr(group, "commands", {}).items():
            if hasattr(command, "commands"):
                continue
            path = " ".join(part for part in ("spark", group_name, name) if part)
            section = text.split(f"\n## `{path}`\n", 1)[1].split("\n## ", 1)[0]
            for param in command.params:
                if param.param_type_name == "option":
                    assert f"`{param.opts[0]}`" in section, (path, param.opts)


def markdown_files() -> list:
    return [
        ROOT / "README.md",
        *sorted(DOCS.rglob("*.md")),
        ROOT / "CHANGELOG.md",
        ROOT / "examples" / "ci" / "README.md",
    ]


def test_no_doc_points_outside_the_repository():
    """The README and docs/ never send a reader to the team's workspace (`shared/`, SPEC), and every
    relative link resolves to a file of the repository."""
    for path in markdown_files():
        text = path.read_text(encoding="utf-8")
        assert "shared/" not in text, path
        assert not re.search(r"\bSPEC\b", text), path
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            resolved = (path.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), (path, target)
            assert resolved.exists(), (path, target)


def test_the_readme_says_how_to_regenerate_the_reference():
    """A reader finds docs/ and the command that regenerates it from the README."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python tools/gen_docs.py" in readme
    assert "docs/reference/" in readme


@pytest.mark.parametrize(
    ("schema", "files"),
    [
        (
            "profile.schema.json",
            [*sorted((ROOT / "profiles").glob("*.toml")), ROOT / "examples/ci/spark-profile.toml"],
        ),
        ("suite.schema.json", sorted((ROOT / "checks").glob("*.toml"))),
    ],
    ids=["profiles", "suites"],
)
def test_the_generated_toml_schemas_accept_the_shipped_files(schema, files):
    """The profile and suite JSON Schemas (for editors) accept every shipped profile and suite."""
    validator = schema_validator(schema)
    for path in files:
        assert errors_of(validator, toml_file(path)) == [], path


@pytest.mark.parametrize(
    ("schema", "document", "fragment"),
    [
        ("profile.schema.json", {"slo": {"latency_p95": 150}}, "latency_p95"),
        ("profile.schema.json", {"slo": {"error_rate": 5}}, "5"),
        ("suite.schema.json", {"checks": [{"name": "a", "kind": "http", "expect_staus": [200]}]}, "checks/0"),
        ("suite.schema.json", {"checks": [{"name": "a", "kind": "nope"}]}, "checks/0"),
    ],
    ids=["profile-typo", "profile-out-of-bounds", "suite-typo", "suite-unknown-kind"],
)
def test_the_toml_schemas_refuse_what_spark_ops_refuses(schema, document, fragment):
    """A typo, a value out of bounds and an unknown kind break the schema, as they exit 2 in spark-ops."""
    errors = errors_of(schema_validator(schema), document)
    assert errors and any(fragment in error for error in errors), errors
