"""A package, so this folder's conftest is not imported as a second top-level ``conftest`` module."""
